"""Optional osprofiler tracing, as Glance has it: the ``osprofiler``
filter of the paste pipelines and ``[profiler]`` (``enabled``,
``hmac_keys``, ``connection_string``, ``trace_sqlalchemy`` ...).

osprofiler is not a dependency: without it the filter passes requests
through and ``[profiler]`` settings are reported at start-up as ignored.
"""

import socket

try:
    import osprofiler.initializer
    import osprofiler.opts
    import osprofiler.sqlalchemy
    import osprofiler.web
except ImportError:  # an optional dependency (the "profiler" extra)
    osprofiler = None


def available():
    return osprofiler is not None


def register_opts(conf):
    if available():
        osprofiler.opts.set_defaults(conf)


def list_opts():
    return osprofiler.opts.list_opts() if available() else []


def init(conf, engine=None):
    """Start tracing when ``[profiler] enabled``; with
    ``trace_sqlalchemy`` the queries on *engine* become spans too."""
    if not available() or not conf.profiler.enabled:
        return False
    osprofiler.initializer.init_from_conf(
        conf=conf, context={}, project='glance', service='api',
        host=socket.gethostname())
    if engine is not None and conf.profiler.trace_sqlalchemy:
        import sqlalchemy
        osprofiler.sqlalchemy.add_tracing(sqlalchemy, engine, 'db')
    return True


def filter_factory(global_conf, **local_conf):
    """The ``osprofiler`` paste filter: osprofiler's WSGI middleware (it
    traces only requests signed with one of ``hmac_keys``), or nothing."""
    if not available():
        return lambda app: app
    return osprofiler.web.WsgiMiddleware.factory(global_conf, **local_conf)

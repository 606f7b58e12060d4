"""Paste factories and the one function that builds the whole service.

The pipelines live in ``etc/glance-api-paste.ini``; ``[paste_deploy]
flavor`` picks one of them by name, as in Glance. Order, outermost first:
CORS and proxy headers; the request id (so every answer, errors included,
carries it); the access log (one line per request, with that id); the
fault wrapper (so nothing below can leak a traceback);
version negotiation (before auth, as Glance); authentication and the
request context; the router.
"""

import fcntl
import logging
import os

from oslo_config import cfg
from paste import deploy

from glance_import import config
from glance_import import exception
from glance_import import notifications
from glance_import import policy
from glance_import import profiler
from glance_import import property_protections
from glance_import.api import routes
from glance_import.api import schemas
from glance_import.db import engine as db_engine

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

PASTE_FILE = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                          'etc', 'glance-api-paste.ini')
APP_NAME = 'glance-api'


def root_app_factory(global_conf, **local_conf):
    return routes.Router(CONF)


def urlmap_factory(loader, global_conf, **local_conf):
    """Dispatch on the longest matching path prefix (/, /healthcheck)."""
    apps = sorted(((prefix.rstrip('/'), loader.get_app(name))
                   for prefix, name in local_conf.items()),
                  key=lambda item: len(item[0]), reverse=True)

    def urlmap(environ, start_response):
        path = environ.get('PATH_INFO', '')
        for prefix, app in apps:
            if not prefix or path == prefix or path.startswith(prefix + '/'):
                if prefix:
                    environ['SCRIPT_NAME'] = (environ.get('SCRIPT_NAME', '')
                                              + prefix)
                    environ['PATH_INFO'] = path[len(prefix):]
                return app(environ, start_response)
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'Not Found']
    return urlmap


def cors_filter_factory(global_conf, **local_conf):
    from oslo_middleware import cors
    return lambda app: cors.CORS(app, CONF)


def http_proxy_to_wsgi_filter_factory(global_conf, **local_conf):
    from oslo_middleware import http_proxy_to_wsgi
    return lambda app: http_proxy_to_wsgi.HTTPProxyToWSGI(app, CONF)


def pipeline_factory(loader, global_conf, **local_conf):
    """Build the pipeline named by ``[paste_deploy] flavor``."""
    flavor = CONF.paste_deploy.flavor or 'default'
    if flavor not in local_conf:
        raise exception.InvalidConfiguration(
            'Unknown [paste_deploy] flavor %r; the paste file offers %s'
            % (flavor, ', '.join(sorted(local_conf))))
    names = local_conf[flavor].split()
    app = loader.get_app(names[-1])
    for name in reversed(names[:-1]):
        app = loader.get_filter(name)(app)
    return app


def paste_file(conf):
    path = conf.paste_deploy.config_file
    if not path:
        return PASTE_FILE
    if not os.path.isabs(path):
        for directory in _config_dirs(conf):
            candidate = os.path.join(directory, path)
            if os.path.exists(candidate):
                return candidate
    if not os.path.exists(path):
        raise exception.InvalidConfiguration(
            'Paste configuration file %s not found' % path)
    return os.path.abspath(path)


def _config_dirs(conf):
    dirs = [os.path.dirname(os.path.abspath(f)) for f in
            conf.config_file or []]
    dirs.extend(conf.config_dir and [conf.config_dir] or [])
    return dirs


def init_service(conf, *, auto_migrate=False, recover=True):
    """Validate configuration and connect the database, policy and stores.

    With *recover*, also resume or revert imports whose process died
    (a prefork parent leaves that to its workers).
    Raises InvalidConfiguration with one readable message.
    """
    from glance_import.store import backends

    config.validate(conf)
    state = config.state_path(conf)
    os.makedirs(state, exist_ok=True)
    try:
        db_engine.configure(conf)
        db_engine.get_engine()
    except Exception as e:
        raise exception.InvalidConfiguration(
            'Cannot use [database] connection %r: %s'
            % (config.database_url_for_display(conf), e))
    _check_schema(conf, auto_migrate)
    policy.reset()
    policy.get_enforcer(conf)
    # oslo.policy registers its options only now.
    config.check_values(conf)
    property_protections.configure(conf)
    notifications.configure(conf)
    profiler.init(conf, db_engine.get_engine())
    schemas.load_custom_properties(conf)
    backends.configure(conf)
    _configure_cache(conf, start_worker=recover)
    _start_scrubber(conf, start=recover)
    # Remove staged data left by deleted images (one listing, one query).
    from glance_import.importer import residue
    residue.startup_cleanup(conf)
    if recover:
        _start_recovery(conf)


def init_worker(conf, *, recover=True):
    """Ready a process forked from an initialised one to serve.

    It keeps the parent's application, configuration and policy, and
    opens its own database connections and store clients.
    """
    from glance_import.store import backends

    db_engine.configure(conf)
    backends.configure(conf)
    profiler.init(conf, db_engine.get_engine())
    # Every worker runs a cache worker, so queueing wakes one at once.
    _configure_cache(conf, start_worker=True)
    _start_scrubber(conf, start=True)
    if recover:
        _start_recovery(conf)


def _configure_cache(conf, start_worker):
    """Open the image cache (if image_cache_dir is set) and start its
    worker: prefetch, prune and clean on a timer. A prefork parent starts
    none: its workers run their own (no thread may run across a fork)."""
    from glance_import.cache import image_cache
    from glance_import.cache import worker

    flavor = conf.paste_deploy.flavor or ''
    if 'cach' in flavor and not conf.image_cache_dir:
        raise exception.InvalidConfiguration(
            'The [paste_deploy] flavor %r caches images: set '
            'image_cache_dir' % flavor)
    worker.stop()
    if image_cache.configure(conf) is not None and start_worker:
        worker.start(conf)


def _start_scrubber(conf, start):
    """The periodic scrubber of delayed delete; as with the cache worker,
    a prefork parent leaves it to its workers."""
    from glance_import.housekeeping import scrubber

    scrubber.stop()
    if start:
        scrubber.start(conf)


def _start_recovery(conf):
    # Resume or revert imports whose process died (background thread).
    from glance_import.importer import recovery
    recovery.start(conf)


def _check_schema(conf, auto_migrate):
    """Migrate an embedded SQLite database; require db sync elsewhere.

    Shared databases are migrated explicitly so that API nodes starting
    together never race on DDL.
    """
    from glance_import.db import migration

    current = migration.current_version()
    if migration.is_newer_than_this_release(current):
        # "db expand" of the next release ran: its schema still serves
        # this release until "db contract" (doc/upgrade.rst).
        LOG.warning('The database schema (%s) is newer than this '
                    "release's (%s); serving on it during a rolling "
                    'upgrade', current, migration.head_version())
        return
    if auto_migrate and db_engine.get_engine().dialect.name == 'sqlite':
        # uwsgi or mod_wsgi may start several processes at once.
        lock_path = os.path.join(config.state_path(conf), '.migrate.lock')
        with open(lock_path, 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if migration.current_version() != migration.head_version():
                migration.upgrade()
    elif current != migration.head_version():
        raise exception.InvalidConfiguration(
            'The database schema is not current; run '
            '"glance-import-manage db sync"')


def load_app(conf):
    """The WSGI application described by the paste file."""
    path = paste_file(conf)
    try:
        return deploy.loadapp('config:%s' % path, name=APP_NAME)
    except LookupError as e:
        raise exception.InvalidConfiguration(
            'Paste file %s has no usable %s application: %s'
            % (path, APP_NAME, e))

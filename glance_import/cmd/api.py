"""``glance-import-api``: serve the API with a threaded WSGI server.

cheroot streams request bodies to the handlers as they arrive (sized or
chunked), so uploads are never buffered in memory or temporary files.
"""

import signal
import sys

from cheroot import wsgi
from oslo_config import cfg
from oslo_log import log as logging

from glance_import import exception
from glance_import.api import app
from glance_import.cmd import common

LOG = logging.getLogger(__name__)
PROG = 'glance-import-api'


def make_server(conf, application):
    server = wsgi.Server((conf.bind_host, conf.bind_port), application,
                         numthreads=conf.server_threads,
                         server_name='glance-import-api')
    # Large uploads may pause between chunks; idle keep-alive
    # connections are closed after this many seconds.
    server.timeout = 300
    return server


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = common.load_config(argv, PROG)
        app.init_service(conf, auto_migrate=True)
        application = app.load_app(conf)
        server = make_server(conf, application)
        server.prepare()
    except (exception.GlanceImportError, cfg.Error, OSError) as e:
        return common.fail(PROG, e)

    def _stop(signum, frame):
        LOG.info('Signal %d received, stopping', signum)
        server.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    LOG.info('Serving on http://%s:%d', conf.bind_host, conf.bind_port)
    try:
        server.serve()
    finally:
        from glance_import.importer import executor
        executor.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())

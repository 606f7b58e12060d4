"""``glance-import-conductor``: run the imports posted on the jobboard.

Needs ``[taskflow_executor] jobboard_url`` and the same database, stores
and staging area as the API nodes (glance-direct reads the staged data,
so put conductors where the staging directory is). Stop it with SIGTERM:
the running import finishes first. A conductor killed outright loses its
claims after ``job_claim_expiry`` seconds and another one resumes its
imports from their saved state.
"""

import os
import signal
import socket
import sys

from oslo_config import cfg
from oslo_log import log as logging

from glance_import import config
from glance_import import exception
from glance_import import notifications
from glance_import import startup
from glance_import.db import engine as db_engine

LOG = logging.getLogger(__name__)
PROG = 'glance-import-conductor'


def _prepare(conf):
    """Database, schema check and stores, as the API has them."""
    from glance_import.db import migration
    from glance_import.importer import jobboard
    from glance_import.store import backends

    if not jobboard.enabled(conf):
        raise exception.InvalidConfiguration(
            '[taskflow_executor] jobboard_url is not set; imports run in '
            'the API processes')
    jobboard.board_conf(conf)
    config.validate(conf)
    db_engine.configure(conf)
    current = migration.current_version()
    if current != migration.head_version() and \
            not migration.is_newer_than_this_release(current):
        raise exception.InvalidConfiguration(
            'The database schema is not current; run '
            '"glance-import-manage db sync"')
    backends.configure(conf)
    notifications.configure(conf)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    conf = cfg.CONF
    try:
        startup.load_config(argv, PROG, conf)
        _prepare(conf)
        from glance_import.importer import jobboard
        name = '%s-%d' % (conf.taskflow_executor.node_name
                          or socket.gethostname(), os.getpid())
        worker = jobboard.conductor(conf, name)
    except (exception.GlanceImportError, cfg.Error) as e:
        return startup.fail(PROG, e)
    except Exception as e:  # database and redis drivers have their own
        return startup.fail(PROG, exception.GlanceImportError(str(e)))

    def _stop(signum, frame):
        LOG.info('Signal %d received, stopping after the running imports',
                 signum)
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    LOG.info('Conductor %s waiting for import jobs', name)
    try:
        worker.run()
    finally:
        worker.wait()
        worker.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""``glance-import-manage``: database schema and staging maintenance."""

import sys

from oslo_config import cfg

from glance_import import config
from glance_import import exception
from glance_import.cmd import common
from glance_import.db import api as db_api
from glance_import.db import migration

PROG = 'glance-import-manage'


def db_sync(conf):
    migration.upgrade()
    print('Database is at version %s' % migration.current_version())


def db_version(conf):
    print(migration.current_version() or 'None (run db sync)')


def staging_cleanup(conf):
    from glance_import.store import staging
    removed = staging.cleanup(conf)
    print('Removed %d staging file(s)' % len(removed))


def _add_commands(subparsers):
    db = subparsers.add_parser('db', help='Database schema.')
    db_actions = db.add_subparsers(dest='action')
    db_actions.add_parser('sync', help='Create or upgrade the schema.')
    db_actions.add_parser('version', help='Print the schema version.')
    stg = subparsers.add_parser('staging', help='Staging area.')
    stg_actions = stg.add_subparsers(dest='action')
    stg_actions.add_parser(
        'cleanup', help='Remove staged data of deleted or active images.')


COMMANDS = {
    ('db', 'sync'): db_sync,
    ('db', 'version'): db_version,
    ('staging', 'cleanup'): staging_cleanup,
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    conf = cfg.CONF
    conf.register_cli_opt(cfg.SubCommandOpt(
        'category', title='Commands', handler=_add_commands))
    try:
        common.load_config(argv, PROG, conf, log_to_stderr=True)
        command = COMMANDS.get((conf.category.name,
                                getattr(conf.category, 'action', None)))
        if command is None:
            return common.fail(PROG, exception.BadRequest(
                'usage: %s {db sync|db version|staging cleanup}' % PROG))
        config.check_database_url(conf)
        db_api.configure(conf)
        command(conf)
    except (exception.GlanceImportError, cfg.Error) as e:
        return common.fail(PROG, e)
    except Exception as e:  # database drivers raise their own types
        return common.fail(PROG, exception.GlanceImportError(
            'Cannot use [database] connection %r: %s'
            % (config.database_url_for_display(conf), e)))
    return 0


if __name__ == '__main__':
    sys.exit(main())

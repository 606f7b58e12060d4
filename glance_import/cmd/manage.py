"""``glance-import-manage``: database schema, staging and image cache
maintenance (the cache commands are in ``manage_cache``)."""

import sys

from oslo_config import cfg

from glance_import import config
from glance_import import exception
from glance_import import startup
from glance_import.cmd import manage_cache
from glance_import.db import engine as db_engine
from glance_import.db import metadef_files
from glance_import.db import migration

PROG = 'glance-import-manage'

# Glance's option: where definition files are loaded from and exported to.
METADEFS_OPTS = [cfg.StrOpt(
    'metadata_source_path', default='/etc/glance/metadefs/',
    help='Directory of the metadata definition files (JSON) that db '
         'load_metadefs reads and db export_metadefs writes.')]

# Glance's defaults for the two purge commands.
PURGE_AGE_IN_DAYS = 30
PURGE_IMAGES_AGE_IN_DAYS = 180
PURGE_MAX_ROWS = 100

UP_TO_DATE = 'Database is up to date. No migrations needed.'
# db check: exit status and message for the next step (Glance's codes).
CHECK_RESULTS = {
    None: (0, 'Database is up to date. No upgrades needed.'),
    migration.EXPAND: (3, 'Your database is not up to date. Your first step '
                          'is to run `%s db expand`.' % PROG),
    migration.MIGRATE: (4, 'Your database is not up to date. Your next step '
                           'is to run `%s db migrate`.' % PROG),
    migration.CONTRACT: (5, 'Your database is not up to date. Your next '
                            'step is to run `%s db contract`.' % PROG),
}
EXPAND_FIRST = ('cannot be run before database expansion. Run database '
                'expansion first using "%s db expand"' % PROG)
MIGRATE_FIRST = ('Database contraction did not run. Database contraction '
                 'cannot be run before data migration is complete. Run data '
                 'migration using "%s db migrate".' % PROG)


def db_sync(conf):
    migration.upgrade()
    print('Database is at version %s' % migration.current_version())


def db_version(conf):
    print(migration.current_version() or 'None (run db sync)')


def db_check(conf):
    status, message = CHECK_RESULTS[migration.next_step()]
    print(message)
    return status


def _upgraded(revision):
    print('Upgraded database to: %s, current revision(s): %s'
          % (revision, migration.current_version()))


def db_expand(conf):
    if migration.next_step() is None:
        print(UP_TO_DATE)
        return
    revision = migration.expand()
    if revision is None:
        print('Database expansion is up to date. No expansion needed.')
    else:
        _upgraded(revision)


def db_migrate(conf):
    if migration.next_step() is None:
        print(UP_TO_DATE)
        return
    try:
        rows = migration.migrate_data()
    except migration.StepPending:
        raise exception.GlanceImportError(
            'Data migration did not run. Data migration ' + EXPAND_FIRST)
    if rows is None:
        print('Database migration is up to date. No migration needed.')
    else:
        print('Migrated %d rows' % rows)


def db_contract(conf):
    if migration.next_step() is None:
        print(UP_TO_DATE)
        return
    try:
        revision = migration.contract()
    except migration.StepPending as e:
        if e.step == migration.MIGRATE:
            raise exception.GlanceImportError(MIGRATE_FIRST)
        raise exception.GlanceImportError(
            'Database contraction did not run. Database contraction '
            + EXPAND_FIRST)
    _upgraded(revision)


def _int_arg(conf, name):
    value = getattr(conf.category, name)
    try:
        return int(value)
    except ValueError:
        raise exception.BadRequest(
            'Invalid int value for %s: %s' % (name, value))


def _report_purge(purged):
    for table, rows in purged:
        print('Deleted %d row(s) from table %s' % (rows, table))


def db_purge(conf):
    from glance_import.db import purge
    _report_purge(purge.purge_deleted_rows(
        _int_arg(conf, 'age_in_days'), _int_arg(conf, 'max_rows')))


def db_purge_images_table(conf):
    from glance_import.db import purge
    _report_purge(purge.purge_deleted_images(
        _int_arg(conf, 'age_in_days'), _int_arg(conf, 'max_rows')))


def staging_cleanup(conf):
    from glance_import.importer import residue
    removed = residue.cleanup(conf)
    print('Removed %d staging file(s)' % len(removed))


def _metadefs_path(conf):
    """``--path``, else the positional path (as Glance takes either), else
    ``[DEFAULT] metadata_source_path``."""
    args = conf.category
    if args.path is not None and args.path_arg is not None:
        raise exception.BadRequest(
            'Give the path once: --path or the positional argument.')
    return args.path or args.path_arg or conf.metadata_source_path


def db_load_metadefs(conf):
    """Exit 1 when a file failed to load (Glance exits 0 even then)."""
    args = conf.category
    loaded = metadef_files.load(_metadefs_path(conf), merge=args.merge,
                                prefer_new=args.prefer_new,
                                overwrite=args.overwrite)
    return 0 if loaded else 1


def db_unload_metadefs(conf):
    metadef_files.unload()


def db_export_metadefs(conf):
    metadef_files.export(_metadefs_path(conf))


def scrub(conf):
    from glance_import.housekeeping import scrubber
    from glance_import.store import backends

    backends.configure(conf)
    if conf.category.restore:
        scrubber.restore(conf.category.restore)
        print('Image %s restored to active' % conf.category.restore)
        return 0
    report = scrubber.scrub(conf)
    # Data a store keeps for someone else (RBD clones) is normal: the
    # images left are reported, not failed.
    print('Scrubbed %d images; %d left pending delete'
          % (report.scrubbed, report.left))
    return 0


def _add_path_arguments(parser, help):
    parser.add_argument('--path', metavar='<path>', help=help)
    parser.add_argument('path_arg', nargs='?', metavar='path',
                        help='The same as --path.')


def _add_purge_parser(actions, name, help, age_in_days):
    parser = actions.add_parser(name, help=help)
    # Strings: a bad value gets Glance's one-line message, not argparse's.
    parser.add_argument(
        '--age_in_days', default=str(age_in_days),
        help='Purge deleted rows older than this many days (default %d).'
        % age_in_days)
    parser.add_argument(
        '--max_rows', default=str(PURGE_MAX_ROWS),
        help='Delete at most this many rows per table, -1 for all '
        '(default %d).' % PURGE_MAX_ROWS)


def _add_commands(subparsers):
    db = subparsers.add_parser('db', help='Database schema.')
    db_actions = db.add_subparsers(dest='action')
    db_actions.add_parser('sync', help='Create or upgrade the schema, all '
                                       'phases at once.')
    db_actions.add_parser('version', help='Print the schema version.')
    db_actions.add_parser(
        'check', help='Exit 0 when current, 3/4/5 when expand/migrate/'
                      'contract is the next step.')
    db_actions.add_parser('expand', help='Apply the additive migrations.')
    db_actions.add_parser('migrate', help='Run pending data migrations.')
    db_actions.add_parser(
        'contract', help='Apply the migrations the previous release cannot '
                         'run against.')
    _add_purge_parser(
        db_actions, 'purge', 'Hard-delete old soft-deleted tasks and rows '
        'of deleted images (not the image rows).', PURGE_AGE_IN_DAYS)
    _add_purge_parser(
        db_actions, 'purge_images_table', 'Hard-delete old deleted image '
        'rows; their ids can then be reused.', PURGE_IMAGES_AGE_IN_DAYS)
    load = db_actions.add_parser(
        'load_metadefs', help='Load metadata definition files (Glance\'s '
                              'JSON format) into the database.')
    _add_path_arguments(load, 'A definition file, or a directory of them '
                              '(default: [DEFAULT] metadata_source_path).')
    load.add_argument(
        '--merge', action='store_true',
        help='Also load namespaces already in the database: add what they '
             'lack, keep what they have.')
    load.add_argument(
        '--prefer_new', action='store_true',
        help='With --merge: the files\' values replace the database\'s.')
    load.add_argument(
        '--overwrite', action='store_true',
        help='With --merge: drop each namespace found in the files and load '
             'it afresh.')
    db_actions.add_parser(
        'unload_metadefs', help='Remove every metadata definition and '
                                'resource type from the database.')
    export = db_actions.add_parser(
        'export_metadefs', help='Write each namespace to a JSON file.')
    _add_path_arguments(export, 'The directory to write to (default: '
                                '[DEFAULT] metadata_source_path).')
    stg = subparsers.add_parser('staging', help='Staging area.')
    stg_actions = stg.add_subparsers(dest='action')
    stg_actions.add_parser(
        'cleanup', help='Remove staged data of deleted or active images.')
    scrub = subparsers.add_parser(
        'scrub', help='Delete the data of pending-delete images whose '
                      'scrub_time has passed (delayed_delete).')
    scrub.add_argument(
        '--restore', metavar='<IMAGE_ID>',
        help='Instead, bring this pending-delete image back to active '
             'with its data.')
    manage_cache.add_commands(subparsers)


COMMANDS = {
    ('db', 'sync'): db_sync,
    ('db', 'version'): db_version,
    ('db', 'check'): db_check,
    ('db', 'expand'): db_expand,
    ('db', 'migrate'): db_migrate,
    ('db', 'contract'): db_contract,
    ('db', 'purge'): db_purge,
    ('db', 'purge_images_table'): db_purge_images_table,
    ('db', 'load_metadefs'): db_load_metadefs,
    ('db', 'unload_metadefs'): db_unload_metadefs,
    ('db', 'export_metadefs'): db_export_metadefs,
    ('staging', 'cleanup'): staging_cleanup,
    ('scrub', None): scrub,
    **manage_cache.COMMANDS,
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    conf = cfg.CONF
    conf.register_opts(METADEFS_OPTS)
    conf.register_cli_opt(cfg.SubCommandOpt(
        'category', title='Commands', handler=_add_commands))
    try:
        startup.load_config(argv, PROG, conf, log_to_stderr=True)
        command = COMMANDS.get((conf.category.name,
                                getattr(conf.category, 'action', None)))
        if command is None:
            return startup.fail(PROG, exception.BadRequest(
                'usage: %s {%s}' % (PROG, '|'.join(
                    ' '.join(filter(None, key)) for key in COMMANDS))))
        config.check_database_url(conf)
        db_engine.configure(conf)
        status = command(conf)
    except (exception.GlanceImportError, cfg.Error) as e:
        return startup.fail(PROG, e)
    except Exception as e:  # database drivers raise their own types
        return startup.fail(PROG, exception.GlanceImportError(
            'Cannot use [database] connection %r: %s'
            % (config.database_url_for_display(conf), e)))
    return status or 0


if __name__ == '__main__':
    sys.exit(main())

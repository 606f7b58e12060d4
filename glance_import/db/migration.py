"""Schema migrations: ``db sync`` and the rolling-upgrade phases.

The revisions form one linear alembic history. Each revision module
declares the phase it belongs to with a module-level ``phase``:

``'expand'``
    Additive only (new tables, nullable columns, indexes): code of the
    previous release keeps working on the expanded schema.
``'contract'``
    Anything the previous release's code cannot run against (dropping or
    renaming columns, new constraints). Applied once no node of the
    previous release is left.

A revision without ``phase`` counts as contract, so a forgotten
declaration never breaks nodes that are still running. An expand
revision may also carry a data migration: ``data_pending(connection)``
(true while rows wait) and ``migrate_data(connection)`` (moves them and
returns how many). Data migrations of expand revisions applied since the
last applied contract revision must finish before that release's
contract revisions run.

Within a release, expand revisions come before contract revisions, so
``expand`` applies the leading run of pending expand revisions and
``contract`` the run of contract revisions that follows. ``upgrade``
(``db sync``) does all phases in order, in one go.
"""

import os

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from glance_import import exception
from glance_import.db import engine as db_engine

_SCRIPT_DIR = os.path.join(os.path.dirname(__file__), 'migrations')

EXPAND = 'expand'
MIGRATE = 'migrate'
CONTRACT = 'contract'
# Written before revisions declared a phase; both only create tables.
_UNDECLARED_ADDITIVE = frozenset(('0001', '0002'))


class StepPending(exception.GlanceImportError):
    """A phase was asked for before the phase it depends on (``step``)."""

    def __init__(self, step):
        self.step = step
        super().__init__('Run "db %s" first' % step)


def _alembic_config(connection):
    cfg = alembic_config.Config()
    cfg.set_main_option('script_location', _SCRIPT_DIR)
    cfg.attributes['connection'] = connection
    return cfg


def _script():
    return alembic_script.ScriptDirectory(_SCRIPT_DIR)


def _history():
    """The revisions, oldest first; the history must be linear."""
    script = _script()
    if len(script.get_heads()) > 1:
        raise exception.GlanceImportError(
            'The migration history has several heads: %s'
            % ', '.join(script.get_heads()))
    return list(reversed(list(script.walk_revisions())))


def phase(revision):
    """EXPAND or CONTRACT for an alembic ``Script``."""
    declared = getattr(revision.module, 'phase', None)
    if declared is None:
        return (EXPAND if revision.revision in _UNDECLARED_ADDITIVE
                else CONTRACT)
    if declared not in (EXPAND, CONTRACT):
        raise exception.GlanceImportError(
            'Migration %s declares unknown phase %r'
            % (revision.revision, declared))
    return declared


def _current(connection):
    return alembic_migration.MigrationContext.configure(
        connection).get_current_revision()


def _split(connection):
    """(applied, pending) revisions, each oldest first."""
    history = _history()
    current = _current(connection)
    if current is None:
        return [], history
    ids = [rev.revision for rev in history]
    if current not in ids:
        raise exception.GlanceImportError(
            'The database is at revision %s, which this release does not '
            'know (is it newer?)' % current)
    index = ids.index(current) + 1
    return history[:index], history[index:]


def _leading_run(pending, wanted):
    run = []
    for rev in pending:
        if phase(rev) != wanted:
            break
        run.append(rev)
    return run


def _data_migrations(applied):
    """Modules of applied expand revisions not yet followed by a contract
    revision that carry a data migration, oldest first."""
    found = []
    for rev in reversed(applied):
        if phase(rev) == CONTRACT:
            break
        if hasattr(rev.module, 'migrate_data'):
            found.append(rev.module)
    return list(reversed(found))


def _pending_data(connection, applied):
    return [module for module in _data_migrations(applied)
            if module.data_pending(connection)]


def _upgrade_to(connection, revision):
    command.upgrade(_alembic_config(connection), revision)


def _run_data(connection, applied):
    rows = 0
    for module in _pending_data(connection, applied):
        rows += module.migrate_data(connection)
    return rows


def upgrade():
    """Bring the configured database to head (creating it), all phases.

    Data migrations run before the contract revisions that need them.
    """
    with db_engine.get_engine().begin() as connection:
        applied, pending = _split(connection)
        while pending:
            run = (_leading_run(pending, EXPAND)
                   or _leading_run(pending, CONTRACT))
            if phase(run[0]) == CONTRACT:
                _run_data(connection, applied)
            _upgrade_to(connection, run[-1].revision)
            applied, pending = applied + run, pending[len(run):]
        _run_data(connection, applied)


def next_step():
    """None when the database is current, else EXPAND, MIGRATE or
    CONTRACT: the phase to run next (the order of ``db check``)."""
    with db_engine.get_engine().connect() as connection:
        applied, pending = _split(connection)
        if _leading_run(pending, EXPAND):
            return EXPAND
        if _pending_data(connection, applied):
            return MIGRATE
        if pending:
            return CONTRACT
        return None


def expand():
    """Apply the pending expand revisions; the revision reached, or None
    when there were none."""
    with db_engine.get_engine().begin() as connection:
        _, pending = _split(connection)
        run = _leading_run(pending, EXPAND)
        if not run:
            return None
        _upgrade_to(connection, run[-1].revision)
        return run[-1].revision


def migrate_data():
    """Run the waiting data migrations; the number of rows migrated, or
    None when none was waiting. Refused before expand."""
    with db_engine.get_engine().begin() as connection:
        applied, pending = _split(connection)
        if _leading_run(pending, EXPAND):
            raise StepPending(EXPAND)
        if not _pending_data(connection, applied):
            return None
        return _run_data(connection, applied)


def contract():
    """Apply the pending contract revisions; the revision reached, or
    None when there were none. Refused before expand and while data
    migrations wait."""
    with db_engine.get_engine().begin() as connection:
        applied, pending = _split(connection)
        if _leading_run(pending, EXPAND):
            raise StepPending(EXPAND)
        if _pending_data(connection, applied):
            raise StepPending(MIGRATE)
        run = _leading_run(pending, CONTRACT)
        if not run:
            return None
        _upgrade_to(connection, run[-1].revision)
        return run[-1].revision


def current_version():
    with db_engine.get_engine().connect() as connection:
        return _current(connection)


def head_version():
    return _script().get_current_head()


def is_newer_than_this_release(version):
    """True for a revision this release does not know: a later release
    expanded the schema during a rolling upgrade."""
    known = {revision.revision for revision in _history()}
    return version is not None and version not in known

"""Schema migrations: ``glance-import-manage db sync`` and ``db version``."""

import os

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from glance_import.db import api as db_api

_SCRIPT_DIR = os.path.join(os.path.dirname(__file__), 'migrations')


def _alembic_config(connection):
    cfg = alembic_config.Config()
    cfg.set_main_option('script_location', _SCRIPT_DIR)
    cfg.attributes['connection'] = connection
    return cfg


def upgrade(revision='head'):
    """Migrate the configured database to *revision* (creating it)."""
    with db_api.get_engine().begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def current_version():
    with db_api.get_engine().connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()


def head_version():
    return alembic_script.ScriptDirectory(_SCRIPT_DIR).get_current_head()

"""Taskflow's persistence tables in the service database: created by
taskflow's own alembic migrations, tracked in a version table of their own."""

import os

from alembic import config as alembic_config
from alembic import context as alembic_context
from alembic import op as alembic_op
from alembic import script as alembic_script
from alembic.runtime import environment
from taskflow.persistence.backends.sqlalchemy import migration as tf_migration

# Separate from ours so the two migration histories never mix.
VERSION_TABLE = 'taskflow_alembic_version'
_MIGRATIONS = os.path.join(os.path.dirname(tf_migration.__file__), 'alembic')


def upgrade_schema(connection) -> None:
    """Run taskflow's migrations on *connection* (idempotent).

    Called from inside our own migration: alembic keeps the running
    migration's ``op``/``context`` in module globals, which a nested run
    replaces and then removes, so they are put back afterwards.
    """
    saved = [proxy for proxy in (getattr(alembic_op, '_proxy', None),
                                 getattr(alembic_context, '_proxy', None))
             if proxy is not None]
    config = alembic_config.Config()
    config.set_main_option('script_location', _MIGRATIONS)
    script = alembic_script.ScriptDirectory.from_config(config)

    def upgrade(revision, _context):
        return script._upgrade_revs('head', revision)

    try:
        with environment.EnvironmentContext(
                config, script, fn=upgrade, destination_rev='head') as env:
            env.configure(connection=connection,
                          version_table=VERSION_TABLE)
            with env.begin_transaction():
                env.run_migrations()
    finally:
        for proxy in saved:
            proxy._install_proxy()

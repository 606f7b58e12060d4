"""Taskflow's persistence tables: the saved state of import flows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The tables belong to taskflow and are created by taskflow's own
migrations (tracked in their own version table), so a taskflow upgrade
that changes them only needs a revision calling ``upgrade_schema`` again.
"""

from alembic import op

from glance_import.db import taskflow_schema

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    taskflow_schema.upgrade_schema(op.get_bind())

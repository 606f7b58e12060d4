"""Image cache records of the centralized_db cache driver.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Glance's ``node_reference`` (one row per API node holding a cache, known
by its URL) and ``cached_images`` (one row per image complete in one
node's cache, with its hits and access times). New tables only, so the
revision is additive.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None
phase = 'expand'

_TABLE_OPTIONS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def _big_id():
    return sa.BigInteger().with_variant(sa.Integer, 'sqlite')


def upgrade():
    op.create_table(
        'node_reference',
        sa.Column('node_reference_id', _big_id(), primary_key=True,
                  autoincrement=True),
        sa.Column('node_reference_url', sa.String(255), nullable=False),
        sa.UniqueConstraint('node_reference_url',
                            name='uq_node_reference_node_reference_url'),
        **_TABLE_OPTIONS,
    )
    op.create_table(
        'cached_images',
        sa.Column('id', _big_id(), primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36), nullable=False),
        sa.Column('last_accessed', sa.DateTime, nullable=False),
        sa.Column('last_modified', sa.DateTime, nullable=False),
        sa.Column('size', sa.BigInteger, nullable=False),
        sa.Column('hits', sa.Integer, nullable=False),
        sa.Column('checksum', sa.String(32)),
        sa.Column('node_reference_id', _big_id(),
                  sa.ForeignKey('node_reference.node_reference_id',
                                ondelete='CASCADE'),
                  nullable=False),
        sa.UniqueConstraint(
            'image_id', 'node_reference_id',
            name='ix_cached_images_image_id_node_reference_id'),
        **_TABLE_OPTIONS,
    )


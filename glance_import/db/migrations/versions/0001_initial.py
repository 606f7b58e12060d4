"""Initial schema: images, their properties, tags, locations, members, tasks.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _timestamps(*, updated=True):
    cols = [sa.Column('created_at', sa.DateTime, nullable=False)]
    if updated:
        cols.append(sa.Column('updated_at', sa.DateTime))
    return cols


def _image_fk():
    return sa.Column('image_id', sa.String(36),
                     sa.ForeignKey('images.id', ondelete='CASCADE'),
                     nullable=False)


def upgrade():
    op.create_table(
        'images',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255)),
        sa.Column('disk_format', sa.String(20)),
        sa.Column('container_format', sa.String(20)),
        sa.Column('size', sa.BigInteger),
        sa.Column('virtual_size', sa.BigInteger),
        sa.Column('status', sa.String(30), nullable=False),
        sa.Column('visibility', sa.String(20), nullable=False),
        sa.Column('checksum', sa.String(32)),
        sa.Column('os_hash_algo', sa.String(64)),
        sa.Column('os_hash_value', sa.String(128)),
        sa.Column('min_disk', sa.Integer, nullable=False),
        sa.Column('min_ram', sa.Integer, nullable=False),
        sa.Column('owner', sa.String(255)),
        sa.Column('protected', sa.Boolean, nullable=False),
        sa.Column('os_hidden', sa.Boolean, nullable=False),
        *_timestamps(),
        sa.Column('deleted_at', sa.DateTime),
        sa.Column('deleted', sa.Boolean, nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_images_owner', 'images', ['owner'])
    op.create_index('ix_images_visibility', 'images', ['visibility'])
    op.create_index('ix_images_status', 'images', ['status'])
    op.create_index('ix_images_deleted_created', 'images',
                    ['deleted', 'created_at'])
    op.create_index('ix_images_name', 'images', ['name'])
    op.create_index('ix_images_os_hash_value', 'images', ['os_hash_value'])

    op.create_table(
        'image_properties',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        _image_fk(),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('value', sa.Text),
        *_timestamps(),
        sa.UniqueConstraint('image_id', 'name',
                            name='uq_image_properties_image_id_name'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_image_properties_name', 'image_properties', ['name'])

    op.create_table(
        'image_tags',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        _image_fk(),
        sa.Column('value', sa.String(255), nullable=False),
        *_timestamps(updated=False),
        sa.UniqueConstraint('image_id', 'value',
                            name='uq_image_tags_image_id_value'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_image_tags_value', 'image_tags', ['value'])

    op.create_table(
        'image_locations',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        _image_fk(),
        sa.Column('value', sa.Text, nullable=False),
        sa.Column('meta_data', sa.JSON, nullable=False),
        sa.Column('status', sa.String(30), nullable=False),
        *_timestamps(),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_image_locations_image_id', 'image_locations',
                    ['image_id'])

    op.create_table(
        'image_members',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        _image_fk(),
        sa.Column('member', sa.String(255), nullable=False),
        sa.Column('can_share', sa.Boolean, nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint('image_id', 'member',
                            name='uq_image_members_image_id_member'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_image_members_member', 'image_members', ['member'])

    op.create_table(
        'tasks',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('type', sa.String(30), nullable=False),
        sa.Column('status', sa.String(30), nullable=False),
        sa.Column('owner', sa.String(255), nullable=False),
        sa.Column('image_id', sa.String(36)),
        sa.Column('request_id', sa.String(64)),
        sa.Column('user_id', sa.String(64)),
        sa.Column('input', sa.JSON),
        sa.Column('result', sa.JSON),
        sa.Column('message', sa.Text, nullable=False),
        sa.Column('progress', sa.BigInteger, nullable=False),
        sa.Column('expires_at', sa.DateTime),
        *_timestamps(),
        sa.Column('deleted_at', sa.DateTime),
        sa.Column('deleted', sa.Boolean, nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('ix_tasks_owner', 'tasks', ['owner'])
    op.create_index('ix_tasks_image_id', 'tasks', ['image_id'])
    op.create_index('ix_tasks_status', 'tasks', ['status'])

"""Metadata definitions: namespaces, objects, properties, tags, resource
types and their associations with namespaces.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The tables are Glance's, plus ``metadef_tags.name_folded`` (the
lower-cased name) whose unique key makes tag names unique regardless of
case on every database. New tables only, so the revision is additive.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None
phase = 'expand'

_TABLE_OPTIONS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def _timestamps():
    return [sa.Column('created_at', sa.DateTime, nullable=False),
            sa.Column('updated_at', sa.DateTime)]


def _namespace_fk(**kwargs):
    return sa.Column('namespace_id', sa.Integer,
                     sa.ForeignKey('metadef_namespaces.id',
                                   ondelete='CASCADE'),
                     nullable=False, **kwargs)


def _id():
    return sa.Column('id', sa.Integer, primary_key=True, autoincrement=True)


def upgrade():
    op.create_table(
        'metadef_namespaces',
        _id(),
        sa.Column('namespace', sa.String(80), nullable=False),
        sa.Column('display_name', sa.String(80)),
        sa.Column('description', sa.Text),
        sa.Column('visibility', sa.String(32), nullable=False),
        sa.Column('protected', sa.Boolean, nullable=False),
        sa.Column('owner', sa.String(255), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint('namespace',
                            name='uq_metadef_namespaces_namespace'),
        **_TABLE_OPTIONS,
    )
    op.create_index('ix_metadef_namespaces_owner', 'metadef_namespaces',
                    ['owner'])

    op.create_table(
        'metadef_objects',
        _id(),
        _namespace_fk(),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('description', sa.Text),
        sa.Column('required', sa.Text),
        sa.Column('json_schema', sa.Text, nullable=False),
        *_timestamps(),
        sa.UniqueConstraint('namespace_id', 'name',
                            name='uq_metadef_objects_namespace_id_name'),
        **_TABLE_OPTIONS,
    )
    op.create_index('ix_metadef_objects_name', 'metadef_objects', ['name'])

    op.create_table(
        'metadef_properties',
        _id(),
        _namespace_fk(),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('json_schema', sa.Text, nullable=False),
        *_timestamps(),
        sa.UniqueConstraint('namespace_id', 'name',
                            name='uq_metadef_properties_namespace_id_name'),
        **_TABLE_OPTIONS,
    )
    op.create_index('ix_metadef_properties_name', 'metadef_properties',
                    ['name'])

    op.create_table(
        'metadef_tags',
        _id(),
        _namespace_fk(),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('name_folded', sa.String(80), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint('namespace_id', 'name',
                            name='uq_metadef_tags_namespace_id_name'),
        sa.UniqueConstraint('namespace_id', 'name_folded',
                            name='uq_metadef_tags_namespace_id_name_folded'),
        **_TABLE_OPTIONS,
    )
    op.create_index('ix_metadef_tags_name', 'metadef_tags', ['name'])

    op.create_table(
        'metadef_resource_types',
        _id(),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('protected', sa.Boolean, nullable=False),
        *_timestamps(),
        sa.UniqueConstraint('name', name='uq_metadef_resource_types_name'),
        **_TABLE_OPTIONS,
    )

    op.create_table(
        'metadef_namespace_resource_types',
        sa.Column('resource_type_id', sa.Integer,
                  sa.ForeignKey('metadef_resource_types.id'),
                  primary_key=True),
        _namespace_fk(primary_key=True),
        sa.Column('properties_target', sa.String(80)),
        sa.Column('prefix', sa.String(80)),
        *_timestamps(),
        **_TABLE_OPTIONS,
    )
    op.create_index('ix_metadef_ns_res_types_namespace_id',
                    'metadef_namespace_resource_types', ['namespace_id'])

"""Indexes that read a page of the image list in sort order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

``GET /v2/images`` reads each kind of visible image (by visibility, by
owner, or all of them for admins) through an index on that column
followed by the sort key and the created_at, id tie-breakers, so a page
costs the same at any size of the catalog. The single-column indexes on
owner, visibility and name are prefixes of the new ones and go.
Dropping an index does not break the previous release, so the whole
revision is additive for rolling upgrades.
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None
phase = 'expand'

# (name, columns): under each prefix, the default sort and the sort keys
# clients use (Horizon, openstackclient); for admins, who see every
# image, the sort key alone.
LIST_INDEXES = [
    *(('ix_images_%s_%s' % (prefix, key), [prefix, *tail])
      for prefix in ('visibility', 'owner')
      for key, tail in (('created', ['created_at', 'id']),
                        ('name', ['name', 'created_at', 'id']),
                        ('size', ['size', 'created_at', 'id']))),
    ('ix_images_name_created', ['name', 'created_at', 'id']),
    ('ix_images_size_created', ['size', 'created_at', 'id']),
]
REPLACED = ('ix_images_owner', 'ix_images_visibility', 'ix_images_name')


def upgrade():
    for name, columns in LIST_INDEXES:
        op.create_index(name, 'images', columns)
    for name in REPLACED:
        op.drop_index(name, table_name='images')

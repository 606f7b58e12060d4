"""SQLAlchemy models of images, their children, and tasks.

Images are soft-deleted (``deleted``) so an id is never reused; their
children are removed outright when the image is deleted. The migrations
in ``migrations/versions`` create exactly these tables.
"""

import datetime

import sqlalchemy as sa
from sqlalchemy import orm


def utcnow():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Base(orm.DeclarativeBase):
    pass


class Image(Base):
    __tablename__ = 'images'
    # The list indexes (visibility or owner, then a sort key and the
    # created_at, id tie-breakers) let a page of GET /v2/images be read
    # in order; see db/image_lists.py.
    __table_args__ = (
        sa.Index('ix_images_status', 'status'),
        sa.Index('ix_images_deleted_created', 'deleted', 'created_at'),
        *(sa.Index('ix_images_%s_%s' % (prefix, key), prefix, *tail)
          for prefix in ('visibility', 'owner')
          for key, tail in (('created', ('created_at', 'id')),
                            ('name', ('name', 'created_at', 'id')),
                            ('size', ('size', 'created_at', 'id')))),
        sa.Index('ix_images_name_created', 'name', 'created_at', 'id'),
        sa.Index('ix_images_size_created', 'size', 'created_at', 'id'),
    )

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    disk_format: orm.Mapped[str | None] = orm.mapped_column(sa.String(20))
    container_format: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(20))
    size: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
    virtual_size: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30))
    visibility: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    checksum: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    os_hash_algo: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    os_hash_value: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(128), index=True)
    min_disk: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=0)
    min_ram: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=0)
    owner: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    protected: orm.Mapped[bool] = orm.mapped_column(sa.Boolean,
                                                    default=False)
    os_hidden: orm.Mapped[bool] = orm.mapped_column(sa.Boolean,
                                                    default=False)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, default=False)

    properties = orm.relationship(
        'ImageProperty', lazy='raise', cascade='all, delete-orphan',
        passive_deletes=True)
    tags = orm.relationship('ImageTag', lazy='raise',
                            cascade='all, delete-orphan', passive_deletes=True)
    locations = orm.relationship(
        'ImageLocation', lazy='raise', cascade='all, delete-orphan',
        passive_deletes=True, order_by='ImageLocation.id')


def _image_fk():
    return orm.mapped_column(
        sa.String(36), sa.ForeignKey('images.id', ondelete='CASCADE'),
        nullable=False)


class ImageProperty(Base):
    __tablename__ = 'image_properties'
    # The unique key is what makes the import lock (an insert of
    # os_glance_import_task) atomic across nodes.
    __table_args__ = (
        sa.UniqueConstraint('image_id', 'name',
                            name='uq_image_properties_image_id_name'),
        sa.Index('ix_image_properties_name', 'name'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    image_id: orm.Mapped[str] = _image_fk()
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    value: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class ImageTag(Base):
    __tablename__ = 'image_tags'
    __table_args__ = (
        sa.UniqueConstraint('image_id', 'value',
                            name='uq_image_tags_image_id_value'),
        sa.Index('ix_image_tags_value', 'value'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    image_id: orm.Mapped[str] = _image_fk()
    value: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)


class ImageLocation(Base):
    __tablename__ = 'image_locations'
    __table_args__ = (
        sa.Index('ix_image_locations_image_id', 'image_id'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    image_id: orm.Mapped[str] = _image_fk()
    value: orm.Mapped[str] = orm.mapped_column(sa.Text)
    meta_data: orm.Mapped[dict] = orm.mapped_column(sa.JSON, default=dict)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30),
                                                default='active')
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class ImageMember(Base):
    __tablename__ = 'image_members'
    __table_args__ = (
        sa.UniqueConstraint('image_id', 'member',
                            name='uq_image_members_image_id_member'),
        sa.Index('ix_image_members_member', 'member'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    image_id: orm.Mapped[str] = _image_fk()
    member: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    can_share: orm.Mapped[bool] = orm.mapped_column(sa.Boolean,
                                                    default=False)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(20),
                                                default='pending')
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class Task(Base):
    __tablename__ = 'tasks'
    __table_args__ = (
        sa.Index('ix_tasks_owner', 'owner'),
        sa.Index('ix_tasks_image_id', 'image_id'),
        sa.Index('ix_tasks_status', 'status'),
    )

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(30))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30))
    owner: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    image_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    request_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    input: orm.Mapped[dict | None] = orm.mapped_column(sa.JSON)
    result: orm.Mapped[dict | None] = orm.mapped_column(sa.JSON)
    message: orm.Mapped[str] = orm.mapped_column(sa.Text, default='')
    # Bytes written so far by a running import (our addition to Glance).
    progress: orm.Mapped[int] = orm.mapped_column(sa.BigInteger, default=0)
    expires_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, default=False)


# Metadata definitions (/v2/metadefs): the catalog of namespaces and
# the objects, properties, tags and resource-type associations in them.
# JSON documents are stored as json.dumps text; see db/metadefs.py.

def _namespace_fk():
    return orm.mapped_column(
        sa.Integer, sa.ForeignKey('metadef_namespaces.id',
                                  ondelete='CASCADE'),
        nullable=False)


def _folded_name(context):
    return context.get_current_parameters()['name'].lower()


class MetadefNamespace(Base):
    __tablename__ = 'metadef_namespaces'
    __table_args__ = (
        sa.UniqueConstraint('namespace',
                            name='uq_metadef_namespaces_namespace'),
        sa.Index('ix_metadef_namespaces_owner', 'owner'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    namespace: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    display_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(80))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    visibility: orm.Mapped[str] = orm.mapped_column(sa.String(32),
                                                    default='private')
    protected: orm.Mapped[bool] = orm.mapped_column(sa.Boolean,
                                                    default=False)
    owner: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class MetadefObject(Base):
    __tablename__ = 'metadef_objects'
    __table_args__ = (
        sa.UniqueConstraint('namespace_id', 'name',
                            name='uq_metadef_objects_namespace_id_name'),
        sa.Index('ix_metadef_objects_name', 'name'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    namespace_id: orm.Mapped[int] = _namespace_fk()
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    required: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    json_schema: orm.Mapped[str] = orm.mapped_column(sa.Text, default='{}')
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class MetadefProperty(Base):
    __tablename__ = 'metadef_properties'
    __table_args__ = (
        sa.UniqueConstraint('namespace_id', 'name',
                            name='uq_metadef_properties_namespace_id_name'),
        sa.Index('ix_metadef_properties_name', 'name'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    namespace_id: orm.Mapped[int] = _namespace_fk()
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    json_schema: orm.Mapped[str] = orm.mapped_column(sa.Text, default='{}')
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class MetadefTag(Base):
    __tablename__ = 'metadef_tags'
    # Tag names are unique regardless of case. MySQL's collation folds
    # case in the first key already; the second, on the lower-cased
    # name, makes PostgreSQL and SQLite agree.
    __table_args__ = (
        sa.UniqueConstraint('namespace_id', 'name',
                            name='uq_metadef_tags_namespace_id_name'),
        sa.UniqueConstraint('namespace_id', 'name_folded',
                            name='uq_metadef_tags_namespace_id_name_folded'),
        sa.Index('ix_metadef_tags_name', 'name'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    namespace_id: orm.Mapped[int] = _namespace_fk()
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    # Filled from name on insert (also for Core inserts); updates of the
    # name must set it too.
    name_folded: orm.Mapped[str] = orm.mapped_column(sa.String(80),
                                                     default=_folded_name)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class MetadefResourceType(Base):
    __tablename__ = 'metadef_resource_types'
    __table_args__ = (
        sa.UniqueConstraint('name', name='uq_metadef_resource_types_name'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    protected: orm.Mapped[bool] = orm.mapped_column(sa.Boolean,
                                                    default=False)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class MetadefNamespaceResourceType(Base):
    __tablename__ = 'metadef_namespace_resource_types'
    __table_args__ = (
        sa.Index('ix_metadef_ns_res_types_namespace_id', 'namespace_id'),
    )

    # No cascade from resource types: one still associated stays.
    resource_type_id: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, sa.ForeignKey('metadef_resource_types.id'),
        primary_key=True)
    namespace_id: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, sa.ForeignKey('metadef_namespaces.id',
                                  ondelete='CASCADE'),
        primary_key=True)
    properties_target: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(80))
    prefix: orm.Mapped[str | None] = orm.mapped_column(sa.String(80))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=utcnow)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow)


class NodeReference(Base):
    """An API node holding an image cache, known by its own URL."""

    __tablename__ = 'node_reference'
    __table_args__ = (
        sa.UniqueConstraint('node_reference_url',
                            name='uq_node_reference_node_reference_url'),
    )

    node_reference_id: orm.Mapped[int] = orm.mapped_column(
        sa.BigInteger().with_variant(sa.Integer, 'sqlite'),
        primary_key=True, autoincrement=True)
    node_reference_url: orm.Mapped[str] = orm.mapped_column(sa.String(255))


class CachedImage(Base):
    """One image held complete in one node's cache."""

    __tablename__ = 'cached_images'
    __table_args__ = (
        sa.UniqueConstraint(
            'image_id', 'node_reference_id',
            name='ix_cached_images_image_id_node_reference_id'),
    )

    id: orm.Mapped[int] = orm.mapped_column(
        sa.BigInteger().with_variant(sa.Integer, 'sqlite'),
        primary_key=True, autoincrement=True)
    image_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    last_accessed: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime)
    last_modified: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime)
    size: orm.Mapped[int] = orm.mapped_column(sa.BigInteger)
    hits: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    checksum: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    node_reference_id: orm.Mapped[int] = orm.mapped_column(
        sa.BigInteger().with_variant(sa.Integer, 'sqlite'),
        sa.ForeignKey('node_reference.node_reference_id',
                      ondelete='CASCADE'))

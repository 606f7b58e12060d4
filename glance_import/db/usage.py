"""A project's usage of the four resources of Keystone unified limits,
counted as Glance counts them (bytes and images; the limits module turns
bytes into MiB)."""

import sqlalchemy as sa

from glance_import import images as image_domain
from glance_import.db import accounting
from glance_import.db import engine
from glance_import.db import models

_IMAGE = models.Image
_PROPERTY = models.ImageProperty
_GONE = (image_domain.KILLED, image_domain.DELETED,
         image_domain.PENDING_DELETE)
_STAGING = (image_domain.UPLOADING, image_domain.IMPORTING)
_UPLOADING = (image_domain.SAVING, image_domain.UPLOADING,
              image_domain.IMPORTING)


def _live(owner):
    return sa.and_(_IMAGE.owner == owner, _IMAGE.deleted == sa.false())


def _copying():
    """Images an import (copy-image, web-download ...) is still writing
    to stores: a non-empty os_glance_importing_to_stores."""
    return _IMAGE.id.in_(sa.select(_PROPERTY.image_id).where(
        _PROPERTY.name == image_domain.IMPORTING_TO_STORES,
        _PROPERTY.value.is_not(None), _PROPERTY.value != ''))


def stored_bytes(ctx, owner):
    """image_size_total: size x live locations over the live images."""
    return accounting.image_storage_usage(ctx, owner)


def staged_bytes(ctx, owner):
    """image_stage_total: the size of images being staged or imported,
    and of other live images an import is still copying."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(_IMAGE.size), 0)).where(
        _live(owner), _IMAGE.size > 0,
        sa.or_(_IMAGE.status.in_(_STAGING),
               sa.and_(_IMAGE.status.not_in(_STAGING + _GONE),
                       _copying())))
    with engine.reader(ctx) as session:
        return int(session.scalar(stmt) or 0)


def image_count(ctx, owner):
    """image_count_total: live images."""
    with engine.reader(ctx) as session:
        return session.scalar(sa.select(sa.func.count()).where(
            _live(owner), _IMAGE.status.not_in(_GONE)))


def uploading_count(ctx, owner):
    """image_count_uploading: images being uploaded, staged or imported,
    and other live images an import is still copying."""
    with engine.reader(ctx) as session:
        return session.scalar(sa.select(sa.func.count()).where(
            _live(owner),
            sa.or_(_IMAGE.status.in_(_UPLOADING),
                   sa.and_(_IMAGE.status.not_in(_UPLOADING + _GONE),
                           _copying()))))

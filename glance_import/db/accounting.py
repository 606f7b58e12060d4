"""Storage accounting: the bytes an owner stores and has left under its
quota, and which images an import still holds (staging residue or not)."""

import sqlalchemy as sa

from glance_import import config
from glance_import import images as image_domain
from glance_import.db import engine
from glance_import.db import models

_NOT_COUNTED = (image_domain.KILLED, image_domain.DELETED,
                image_domain.PENDING_DELETE)


def image_storage_usage(ctx, owner, *, exclude_image_id=None):
    """Bytes *owner* stores: size x live locations over its live images.

    One aggregate query; *exclude_image_id* leaves out the image being
    written, as the legacy user_storage_quota check does.
    """
    with engine.reader(ctx) as session:
        stmt = sa.select(sa.func.coalesce(sa.func.sum(
            models.Image.size), 0)).select_from(models.Image).join(
                models.ImageLocation,
                models.ImageLocation.image_id == models.Image.id).where(
            models.Image.owner == owner,
            models.Image.deleted == sa.false(),
            models.Image.status.not_in(_NOT_COUNTED),
            models.Image.size.is_not(None),
            models.ImageLocation.status == 'active')
        if exclude_image_id is not None:
            stmt = stmt.where(models.Image.id != exclude_image_id)
        return int(session.scalar(stmt) or 0)


def remaining_quota(conf, ctx, owner, image_id=None):
    """Bytes *owner* may still store under user_storage_quota.

    None means unlimited (and costs no query). The image being written
    (*image_id*) does not count against itself.
    """
    quota = config.storage_quota_bytes(conf)
    if not quota or conf.use_keystone_limits:
        # Keystone's image_size_total replaces it, as in Glance.
        return None
    used = image_storage_usage(ctx, owner, exclude_image_id=image_id)
    return max(quota - used, 0)


def images_import_state(ctx, image_ids):
    """{id: (status, busy)} for the live images among *image_ids*.

    *busy* is True while an import holds the image (its lock or a
    non-empty os_glance_importing_to_stores). Used to tell staging
    residue from data an import still needs; one query per call.
    """
    ids = list(image_ids)
    if not ids:
        return {}
    busy_names = (image_domain.IMPORT_LOCK,
                  image_domain.IMPORTING_TO_STORES)
    with engine.reader(ctx) as session:
        rows = session.execute(sa.select(
            models.Image.id, models.Image.status).where(
                models.Image.id.in_(ids),
                models.Image.deleted == sa.false())).all()
        busy = set(session.scalars(sa.select(
            models.ImageProperty.image_id).where(
                models.ImageProperty.image_id.in_(ids),
                models.ImageProperty.name.in_(busy_names),
                models.ImageProperty.value.is_not(None),
                models.ImageProperty.value != '')))
    return {image_id: (status, image_id in busy)
            for image_id, status in rows}

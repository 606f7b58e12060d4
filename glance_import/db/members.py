"""Image members: sharing an image with other projects, and their
pending/accepted/rejected status."""

import sqlalchemy as sa
from oslo_db import exception as db_exc

from glance_import import exception
from glance_import.db import engine
from glance_import.db import models


def _member_dict(row):
    return {'image_id': row.image_id, 'member_id': row.member,
            'status': row.status, 'created_at': row.created_at,
            'updated_at': row.updated_at}


def image_member_find(ctx, image_id, member=None):
    """Memberships of an image, oldest first.

    Non-admins who do not own the image see only their own membership.
    """
    with engine.reader(ctx) as session:
        stmt = sa.select(models.ImageMember).where(
            models.ImageMember.image_id == image_id)
        if member is not None:
            stmt = stmt.where(models.ImageMember.member == member)
        if not ctx.is_admin:
            owner = sa.select(models.Image.owner).where(
                models.Image.id == image_id).scalar_subquery()
            stmt = stmt.where(sa.or_(
                models.ImageMember.member == ctx.project_id,
                owner == ctx.project_id))
        stmt = stmt.order_by(models.ImageMember.created_at,
                             models.ImageMember.id)
        return [_member_dict(row) for row in session.scalars(stmt)]


def image_member_get(ctx, image_id, member):
    found = image_member_find(ctx, image_id, member)
    if not found:
        raise exception.MemberNotFound(image_id=image_id)
    return found[0]


@engine.retry_on_deadlock
def image_member_create(ctx, image_id, member, quota):
    """Share an image with *member* (pending); 409 twice, 413 past quota."""
    now = models.utcnow()
    with engine.writer(ctx) as session:
        count = session.scalar(sa.select(sa.func.count()).where(
            models.ImageMember.image_id == image_id))
        if 0 <= quota <= count:
            raise exception.QuotaExceeded(resource='image members',
                                          limit=quota)
        row = models.ImageMember(image_id=image_id, member=member,
                                 status='pending', can_share=False,
                                 created_at=now, updated_at=now)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except db_exc.DBDuplicateEntry:
            raise exception.Conflict(
                'Member %s is duplicated for image %s' % (member, image_id))
        return _member_dict(row)


@engine.retry_on_deadlock
def image_member_update(ctx, image_id, member, status):
    with engine.writer(ctx) as session:
        result = session.execute(sa.update(models.ImageMember).where(
            models.ImageMember.image_id == image_id,
            models.ImageMember.member == member).values(
                status=status, updated_at=models.utcnow()))
        if result.rowcount != 1:
            raise exception.MemberNotFound(image_id=image_id)
    return image_member_get(ctx, image_id, member)


def image_member_delete(ctx, image_id, member):
    with engine.writer(ctx) as session:
        result = session.execute(sa.delete(models.ImageMember).where(
            models.ImageMember.image_id == image_id,
            models.ImageMember.member == member))
        if result.rowcount != 1:
            raise exception.MemberNotFound(image_id=image_id)

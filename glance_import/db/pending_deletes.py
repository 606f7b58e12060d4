"""The scrubber's queue: images deleted with ``delayed_delete``.

Such an image row is deleted (``deleted`` true, so no API call finds it)
with status ``pending_delete``; its properties, tags, members and
locations stay so that a restore brings it back whole. Each location
goes ``pending_delete`` -> ``deleting`` (claimed by one scrubber, whose
data removal is then under way) -> row removed once its data is gone;
the image goes ``deleted`` with its last location. Claims and restores
are compare-and-swap updates, so several API nodes may scrub at once
and a restore never races a scrub into an active image without data.
"""

import dataclasses
import datetime

import sqlalchemy as sa

from glance_import import exception
from glance_import import images as image_domain
from glance_import.db import engine
from glance_import.db import images as db_images
from glance_import.db import models

PENDING = image_domain.PENDING_DELETE
DELETING = 'deleting'
ACTIVE = 'active'
# A claim older than this belongs to a scrubber that died mid-way.
STALE_CLAIM = datetime.timedelta(minutes=10)
_IMAGE = models.Image
_LOCATION = models.ImageLocation
_CHILDREN = (models.ImageProperty, models.ImageTag, models.ImageMember,
             models.ImageLocation)


@dataclasses.dataclass
class PendingImage:
    id: str
    deleted_at: datetime.datetime
    locations: list     # [{'id', 'url', 'metadata', 'status'}]


def _claimable():
    stale = models.utcnow() - STALE_CLAIM
    return sa.or_(_LOCATION.status == PENDING,
                  sa.and_(_LOCATION.status == DELETING,
                          _LOCATION.updated_at < stale))


def _is_pending(image_id):
    return sa.exists().where(_IMAGE.id == image_id, _IMAGE.status == PENDING)


def due(ctx, older_than, limit=1000, after=None):
    """Pending-delete images deleted before *older_than*, oldest first
    (from past *after*, a ``(deleted_at, id)``), with the locations no
    live scrubber holds."""
    query = sa.select(_IMAGE.id, _IMAGE.deleted_at).where(
        _IMAGE.status == PENDING, _IMAGE.deleted == sa.true(),
        _IMAGE.deleted_at <= older_than)
    if after is not None:
        query = query.where(sa.tuple_(_IMAGE.deleted_at, _IMAGE.id)
                            > sa.tuple_(*after))
    with engine.reader(ctx) as session:
        rows = session.execute(query.order_by(
            _IMAGE.deleted_at, _IMAGE.id).limit(limit)).all()
        pending = {image_id: PendingImage(image_id, deleted_at, [])
                   for image_id, deleted_at in rows}
        if not pending:
            return []
        for loc in session.scalars(sa.select(_LOCATION).where(
                _LOCATION.image_id.in_(list(pending)),
                _claimable()).order_by(_LOCATION.id)):
            pending[loc.image_id].locations.append(
                {'id': loc.id, 'url': loc.value,
                 'metadata': loc.meta_data or {}, 'status': loc.status})
    return list(pending.values())


@engine.retry_on_deadlock
def claim_location(ctx, image_id, location_id):
    """Take a location for scrubbing; False when another scrubber has it
    or the image was restored meanwhile."""
    with engine.writer(ctx) as session:
        result = session.execute(sa.update(_LOCATION).where(
            _LOCATION.id == location_id, _LOCATION.image_id == image_id,
            _claimable(), _is_pending(image_id)).values(
                status=DELETING, updated_at=models.utcnow()))
    return result.rowcount == 1


@engine.retry_on_deadlock
def location_scrubbed(ctx, image_id, location_id):
    """The data of a claimed location is gone: forget the location."""
    with engine.writer(ctx) as session:
        session.execute(sa.delete(_LOCATION).where(
            _LOCATION.id == location_id, _LOCATION.image_id == image_id,
            _LOCATION.status == DELETING))


@engine.retry_on_deadlock
def release_location(ctx, image_id, location_id):
    """Scrubbing a location failed: leave it for the next run."""
    with engine.writer(ctx) as session:
        session.execute(sa.update(_LOCATION).where(
            _LOCATION.id == location_id, _LOCATION.image_id == image_id,
            _LOCATION.status == DELETING).values(
                status=PENDING, updated_at=models.utcnow()))


@engine.retry_on_deadlock
def finish(ctx, image_id):
    """The image is ``deleted`` once no location is left; its remaining
    rows go. True when this call finished it."""
    with engine.writer(ctx) as session:
        left = sa.exists().where(_LOCATION.image_id == image_id)
        result = session.execute(sa.update(_IMAGE).where(
            _IMAGE.id == image_id, _IMAGE.status == PENDING,
            ~left).values(status=image_domain.DELETED,
                          updated_at=models.utcnow()))
        if result.rowcount != 1:
            return False
        for model in _CHILDREN:
            session.execute(sa.delete(model).where(
                model.image_id == image_id))
    return True


@engine.retry_on_deadlock
def restore(ctx, image_id):
    """Bring a pending-delete image back ``active`` with its locations.

    ImageNotFound when there is no such image; Conflict when it is not
    pending delete, or a scrubber already removed data of it.
    """
    with engine.writer(ctx) as session:
        db_images.image_lock_row(ctx, image_id)
        status = session.scalar(sa.select(_IMAGE.status).where(
            _IMAGE.id == image_id))
        if status is None:
            raise exception.ImageNotFound(image_id=image_id)
        if status != PENDING:
            raise exception.Conflict(
                'cannot restore the image from %s to active (wanted '
                'from_state=pending_delete)' % status)
        now = models.utcnow()
        session.execute(sa.update(_LOCATION).where(
            _LOCATION.image_id == image_id,
            _LOCATION.status == PENDING).values(status=ACTIVE,
                                                updated_at=now))
        # Read after the update, locking: a scrubber's claim that beat it
        # is seen here whatever the isolation level.
        statuses = session.scalars(_locked(session, sa.select(
            _LOCATION.status).where(_LOCATION.image_id == image_id))).all()
        if not statuses or any(s != ACTIVE for s in statuses):
            raise exception.Conflict(
                'cannot restore image %s: the scrubber has already '
                'removed data of it' % image_id)
        session.execute(sa.update(_IMAGE).where(
            _IMAGE.id == image_id, _IMAGE.status == PENDING).values(
                status=image_domain.ACTIVE, deleted=False, deleted_at=None,
                updated_at=now))


def _locked(session, statement):
    if session.bind.dialect.name == 'sqlite':
        return statement    # the write lock is already the whole database
    return statement.with_for_update()

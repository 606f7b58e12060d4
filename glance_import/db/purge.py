"""Hard deletion of old soft-deleted rows (``db purge``).

``purge_deleted_rows`` removes soft-deleted tasks and any rows left in
the child tables of soft-deleted images; like Glance it keeps the image
rows themselves, whose presence is what stops a deleted image's id from
being reused (OSSN-0075). ``purge_deleted_images`` removes those image
rows, after their children, for operators who accept that risk past a
longer age.

Rows go in batches, each in a transaction of its own, oldest
``deleted_at`` first. Nothing belonging to, or named by, a live image is
touched: children are only taken from deleted images, pending-delete
images wait for the scrubber, and a deleted task that a live image still
names as its import lock is kept.
"""

import datetime
import time

import sqlalchemy as sa

from glance_import import exception
from glance_import import images
from glance_import.db import engine as db_engine
from glance_import.db import models

# Glance's bound: the limits go into SQL as 4-byte integers.
MAX_INT = 2 ** 31 - 1
NO_LIMIT = -1
# Small enough for SQLite's bound-parameter limit in one IN list.
BATCH = 500

IMAGE_CHILDREN = (models.ImageTag, models.ImageMember, models.ImageProperty,
                  models.ImageLocation)


def validate(age_in_days, max_rows):
    """BadRequest unless both are usable (Glance's rules, and 0 rows)."""
    if age_in_days < 0:
        raise exception.BadRequest('Must supply a non-negative value for age.')
    if age_in_days >= int(time.time()) / 86400:
        raise exception.BadRequest('Maximal age is count of days since epoch.')
    if max_rows < NO_LIMIT:
        raise exception.BadRequest('Minimal rows limit is -1.')
    if max_rows == 0:
        # Glance accepts 0 and purges nothing; that is never what was meant.
        raise exception.BadRequest(
            'max_rows must be positive, or -1 for no limit.')
    if max_rows > MAX_INT:
        raise exception.BadRequest(
            "'max_rows' value out of range, must not exceed %d." % MAX_INT)


def _cutoff(age_in_days):
    return models.utcnow() - datetime.timedelta(days=age_in_days)


def _batches(select_ids, delete, max_rows):
    """Delete what *select_ids* (oldest first) finds, up to *max_rows* ids,
    a batch per transaction; *delete(conn, ids)* returns its counts."""
    totals = {}
    done = 0
    engine = db_engine.get_engine()
    while max_rows == NO_LIMIT or done < max_rows:
        size = BATCH if max_rows == NO_LIMIT else min(BATCH, max_rows - done)
        with engine.begin() as conn:
            ids = list(conn.scalars(select_ids.limit(size)))
            if not ids:
                break
            for table, count in delete(conn, ids).items():
                totals[table] = totals.get(table, 0) + count
        done += len(ids)
        if len(ids) < size:
            break
    return totals


def _old_deleted(model, cutoff):
    return sa.and_(model.deleted == sa.true(), model.deleted_at.is_not(None),
                   model.deleted_at < cutoff)


def _old_deleted_image(cutoff):
    # A pending-delete image still has data for the scrubber to remove
    # (or for a restore): its rows are not the purge's.
    image = models.Image
    return sa.and_(_old_deleted(image, cutoff),
                   image.status != images.PENDING_DELETE)


def _purge_children(child, cutoff, max_rows):
    """Rows of *child* whose image is deleted and older than *cutoff*."""
    image = models.Image
    select_ids = (sa.select(child.id)
                  .join(image, image.id == child.image_id)
                  .where(_old_deleted_image(cutoff))
                  .order_by(image.deleted_at, child.id))

    def delete(conn, ids):
        result = conn.execute(sa.delete(child).where(child.id.in_(ids)))
        return {child.__tablename__: result.rowcount}

    return _batches(select_ids, delete, max_rows).get(child.__tablename__, 0)


def _live_lock_holders():
    """Task ids named by the import lock of a live image."""
    prop, image = models.ImageProperty, models.Image
    return (sa.select(prop.value)
            .join(image, image.id == prop.image_id)
            .where(prop.name == images.IMPORT_LOCK,
                   image.deleted == sa.false(), prop.value.is_not(None)))


def _purge_tasks(cutoff, max_rows):
    task = models.Task
    condition = sa.and_(_old_deleted(task, cutoff),
                        task.id.not_in(_live_lock_holders()))
    select_ids = (sa.select(task.id).where(condition)
                  .order_by(task.deleted_at, task.id))

    def delete(conn, ids):
        # The condition again: a lock may have been taken since the select.
        result = conn.execute(sa.delete(task).where(task.id.in_(ids),
                                                    condition))
        return {task.__tablename__: result.rowcount}

    return _batches(select_ids, delete, max_rows).get(task.__tablename__, 0)


def purge_deleted_rows(age_in_days, max_rows):
    """Purge soft-deleted tasks and leftover children of deleted images
    older than *age_in_days*, at most *max_rows* per table (-1: all).

    Returns ``[(table, rows deleted)]`` in the order purged.
    """
    validate(age_in_days, max_rows)
    cutoff = _cutoff(age_in_days)
    purged = [(child.__tablename__, _purge_children(child, cutoff, max_rows))
              for child in IMAGE_CHILDREN]
    purged.append((models.Task.__tablename__,
                   _purge_tasks(cutoff, max_rows)))
    return purged


def purge_deleted_images(age_in_days, max_rows):
    """Purge at most *max_rows* (-1: all) images deleted more than
    *age_in_days* ago, each image's child rows first.

    Returns ``[(table, rows deleted)]`` in the order purged.
    """
    validate(age_in_days, max_rows)
    image = models.Image
    condition = _old_deleted_image(_cutoff(age_in_days))
    select_ids = (sa.select(image.id).where(condition)
                  .order_by(image.deleted_at, image.id))

    def delete(conn, ids):
        counts = {}
        for child in IMAGE_CHILDREN:
            result = conn.execute(sa.delete(child).where(
                child.image_id.in_(ids)))
            counts[child.__tablename__] = result.rowcount
        result = conn.execute(sa.delete(image).where(image.id.in_(ids),
                                                     condition))
        counts[image.__tablename__] = result.rowcount
        return counts

    totals = _batches(select_ids, delete, max_rows)
    tables = [child.__tablename__ for child in IMAGE_CHILDREN]
    tables.append(image.__tablename__)
    return [(table, totals.get(table, 0)) for table in tables]

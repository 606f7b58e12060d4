"""The import lock: the os_glance_import_task property, taken by a unique
insert and released only by the task that holds it."""

import sqlalchemy as sa
from oslo_db import exception as db_exc

from glance_import import exception
from glance_import import images as image_domain
from glance_import.db import engine
from glance_import.db import models


@engine.retry_on_deadlock
def acquire_import_lock(ctx, image_id, task_id, *, stale_task_id=None):
    """Take the os_glance_import_task lock for *task_id*.

    An insert guarded by the unique (image_id, name) key: of two racing
    nodes exactly one succeeds, the other gets ImportLockHeld. With
    *stale_task_id* the lock is taken over only if it still names that
    (dead) task.
    """
    name = image_domain.IMPORT_LOCK
    now = models.utcnow()
    with engine.writer(ctx) as session:
        if stale_task_id is not None:
            result = session.execute(sa.update(models.ImageProperty).where(
                models.ImageProperty.image_id == image_id,
                models.ImageProperty.name == name,
                models.ImageProperty.value == stale_task_id).values(
                    value=task_id, updated_at=now))
            if result.rowcount != 1:
                raise exception.ImportLockHeld()
            return
        try:
            with session.begin_nested():
                session.add(models.ImageProperty(
                    image_id=image_id, name=name, value=task_id,
                    created_at=now, updated_at=now))
        except db_exc.DBDuplicateEntry:
            raise exception.Conflict(
                "New operation on image '%s' is not permitted as prior "
                "operation is still in progress" % image_id)


@engine.retry_on_deadlock
def release_import_lock(ctx, image_id, task_id):
    """Drop the lock only if *task_id* still holds it; True if dropped."""
    with engine.writer(ctx) as session:
        result = session.execute(sa.delete(models.ImageProperty).where(
            models.ImageProperty.image_id == image_id,
            models.ImageProperty.name == image_domain.IMPORT_LOCK,
            models.ImageProperty.value == task_id))
        return result.rowcount == 1

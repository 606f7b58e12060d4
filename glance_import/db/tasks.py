"""Task rows: create, read, list (expiring old ones), update under the
task status machine, and the heartbeat compare-and-swap of a takeover."""

import datetime
import uuid

import sqlalchemy as sa

from glance_import import exception
from glance_import import tasks
from glance_import.db import engine
from glance_import.db import models


@engine.retry_on_deadlock
def task_create(ctx, values):
    now = models.utcnow()
    values = dict(values)
    values.setdefault('id', str(uuid.uuid4()))
    values.setdefault('status', tasks.PENDING)
    values.setdefault('message', '')
    values.setdefault('created_at', now)
    values.setdefault('updated_at', now)
    values.setdefault('deleted', False)
    values.setdefault('progress', 0)
    with engine.writer(ctx) as session:
        session.add(models.Task(**values))
    return task_get(ctx, values['id'])


def _task_dict(row):
    return {c.name: getattr(row, c.name) for c in models.Task.__table__.c}


def task_get(ctx, task_id, *, owner=None):
    """A task as a dict; *owner* restricts to one project."""
    with engine.reader(ctx) as session:
        stmt = sa.select(models.Task).where(
            models.Task.id == task_id, models.Task.deleted == sa.false())
        if owner is not None:
            stmt = stmt.where(models.Task.owner == owner)
        row = session.scalar(stmt)
        if row is None:
            raise exception.TaskNotFound(task_id=task_id)
        return _task_dict(row)


@engine.retry_on_deadlock
def task_update(ctx, task_id, values, *, from_status=None):
    """Update a task; with *from_status* only from that status (CAS)."""
    values = dict(values)
    values['updated_at'] = models.utcnow()
    new = values.get('status')
    with engine.writer(ctx) as session:
        stmt = sa.update(models.Task).where(models.Task.id == task_id)
        if from_status is not None:
            if new:
                tasks.check_transition(from_status, new)
            stmt = stmt.where(models.Task.status == from_status)
        if session.execute(stmt.values(**values)).rowcount != 1:
            raise exception.Conflict('Task %s changed concurrently'
                                     % task_id)


@engine.retry_on_deadlock
def task_claim(ctx, task_id, status, seen_updated_at):
    """Take over an abandoned task: True for exactly one claimant.

    Compare-and-swap on the heartbeat: succeeds only if the task still has
    *status* and the ``updated_at`` the claimant saw (nobody, the owner
    included, touched it since), and refreshes it.
    """
    with engine.writer(ctx) as session:
        result = session.execute(sa.update(models.Task).where(
            models.Task.id == task_id, models.Task.status == status,
            models.Task.updated_at == seen_updated_at).values(
                updated_at=models.utcnow()))
        return result.rowcount == 1


def task_get_all(ctx, *, owner=None, image_id=None, filters=None,
                 marker=None, limit=None, sort_key='created_at',
                 sort_dir='desc'):
    """List live, unexpired tasks; soft-deletes expired ones first."""
    now = models.utcnow()
    with engine.writer(ctx) as session:
        expire = sa.update(models.Task).where(
            models.Task.deleted == sa.false(),
            models.Task.expires_at.is_not(None),
            models.Task.expires_at <= now)
        if owner is not None:
            expire = expire.where(models.Task.owner == owner)
        session.execute(expire.values(deleted=True, deleted_at=now))

        stmt = sa.select(models.Task).where(models.Task.deleted == sa.false())
        if owner is not None:
            stmt = stmt.where(models.Task.owner == owner)
        if image_id is not None:
            stmt = stmt.where(models.Task.image_id == image_id)
        for key, value in (filters or {}).items():
            stmt = stmt.where(getattr(models.Task, key) == value)
        column = getattr(models.Task, sort_key)
        order = column.desc() if sort_dir == 'desc' else column.asc()
        tiebreak = (models.Task.id.desc() if sort_dir == 'desc'
                    else models.Task.id.asc())
        if marker is not None:
            mrow = session.scalar(sa.select(models.Task).where(
                models.Task.id == marker))
            if mrow is None:
                raise exception.BadRequest(
                    'Invalid marker. Task %s could not be found.' % marker)
            mval = getattr(mrow, sort_key)
            if sort_dir == 'desc':
                stmt = stmt.where(sa.or_(
                    column < mval,
                    sa.and_(column == mval, models.Task.id < marker)))
            else:
                stmt = stmt.where(sa.or_(
                    column > mval,
                    sa.and_(column == mval, models.Task.id > marker)))
        stmt = stmt.order_by(order, tiebreak)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_task_dict(row) for row in session.scalars(stmt)]



def live_task_ids(ctx):
    """Ids of the tasks not yet finished (pending or processing)."""
    with engine.read_connection(ctx) as conn:
        return set(conn.scalars(sa.select(models.Task.id).where(
            models.Task.status.in_((tasks.PENDING,
                                    tasks.PROCESSING)),
            models.Task.deleted == sa.false())))


def task_expiry(conf):
    """When a task finishing now expires: ``[task] task_time_to_live``."""
    return models.utcnow() + datetime.timedelta(
        hours=conf.task.task_time_to_live)


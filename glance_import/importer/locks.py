"""The os_glance_import_task lock and the start of an import.

The lock is a property inserted under the (image_id, name) unique key, so
of two racing requests, on one node or many, exactly one wins. A lock
whose task is gone, or has not moved for an hour (two if still pending),
is stale and may be taken over (reference section 10.3).
"""

import datetime
import logging
import uuid

from glance_import import exception
from glance_import import images
from glance_import import tasks
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import models
from glance_import.db import tasks as db_tasks

LOG = logging.getLogger(__name__)

LOCK_EXPIRY = datetime.timedelta(minutes=60)
PREEMPTED_MESSAGE = 'Expired lock preempted'


def stale_lock_holder(ctx, image, now=None):
    """Step 13: None if unlocked, the stale task id, or 409 if held."""
    holder = image.import_lock
    if holder is None:
        return None
    try:
        task = db_tasks.task_get(ctx, holder)
    except exception.TaskNotFound:
        LOG.warning('Image %s is locked by missing task %s; taking over',
                    image.id, holder)
        return holder
    now = now or models.utcnow()
    expiry = LOCK_EXPIRY * (2 if task['status'] == tasks.PENDING
                            else 1)
    age = now - (task['updated_at'] or task['created_at'])
    if age >= expiry:
        LOG.warning('Image %s is locked by task %s idle since %s; taking '
                    'over', image.id, holder, task['updated_at'])
        return holder
    raise exception.ImportLockHeld()


def _fail_stale_task(ctx, task_id, conf):
    for status in (tasks.PENDING, tasks.PROCESSING):
        try:
            db_tasks.task_update(
                ctx, task_id,
                {'status': tasks.FAILURE,
                 'message': PREEMPTED_MESSAGE,
                 'expires_at': db_tasks.task_expiry(conf)},
                from_status=status)
            return
        except exception.Conflict:
            continue


def _stale_task_stores(ctx, task_id):
    try:
        task = db_tasks.task_get(ctx, task_id)
    except exception.TaskNotFound:
        return []
    return [s for s in (task['input'] or {}).get('backend') or [] if s]


def begin(ctx, conf, image, req, stores, *, stale_task_id=None):
    """Step 20: create the task, take the lock, mark the image; one commit.

    The task row, the lock, the status move and the bookkeeping
    properties are written in one transaction, so a request that loses
    the race leaves nothing behind. Returns the task dict.
    """
    if stale_task_id is not None:
        _fail_stale_task(ctx, stale_task_id, conf)
        old_stores = _stale_task_stores(ctx, stale_task_id)
    else:
        old_stores = []
    task_id = str(uuid.uuid4())
    return _begin(ctx, conf, image, req, stores, task_id, stale_task_id,
                  old_stores)


# in_transaction retries the whole transaction on deadlock.
@db_engine.in_transaction
def _begin(ctx, conf, image, req, stores, task_id, stale_task_id,
           old_stores):
    # Racing requests for one image queue here, so the lock insert below
    # never contends on the unique key (which deadlocks on MySQL).
    db_images.image_lock_row(ctx, image.id)
    holder = db_images.image_get(ctx, image.id,
                                 check_visible=False).import_lock
    if holder is not None and holder != stale_task_id:
        raise exception.Conflict(
            "New operation on image '%s' is not permitted as prior "
            "operation is still in progress" % image.id)
    task = db_tasks.task_create(ctx, {
        'id': task_id, 'type': tasks.IMPORT, 'owner': ctx.owner,
        'image_id': image.id, 'user_id': ctx.user_id,
        'request_id': ctx.request_id,
        'input': {'image_id': image.id, 'import_req': req.body,
                  'backend': stores}})
    db_locks.acquire_import_lock(ctx, image.id, task_id,
                                 stale_task_id=stale_task_id)
    values, set_props, remove_props = {}, {}, []
    from_status = None
    if req.method != 'copy-image':
        values['status'] = images.IMPORTING
        from_status = image.status
    named = [s for s in stores if s]
    importing = set(images.stores_list(
        image.properties.get(images.IMPORTING_TO_STORES)))
    failed = set(images.stores_list(
        image.properties.get(images.FAILED_IMPORT)))
    # A busted predecessor's stores are no longer in progress.
    importing -= set(old_stores)
    failed -= set(old_stores) | set(named)
    importing |= set(named)
    # Both are set on every import, as Glance does, and stay as ""
    # when empty: clients poll them until they read empty.
    set_props[images.IMPORTING_TO_STORES] = images.stores_value(importing)
    set_props[images.FAILED_IMPORT] = images.stores_value(failed)
    if images.STAGE_HOST in image.properties:
        remove_props.append(images.STAGE_HOST)
    db_images.image_update(ctx, image.id, values, from_status=from_status,
                           set_properties=set_props,
                           remove_properties=remove_props)
    return task


def begin_location_import(ctx, conf, image, url, validation_data, *,
                          stale_task_id=None):
    """Create the location_import task of POST /v2/images/{id}/locations
    and take the image's lock for it; one commit. Returns the task dict.

    The image stays queued: the task's flow records the location and
    makes the image active.
    """
    if stale_task_id is not None:
        _fail_stale_task(ctx, stale_task_id, conf)
    return _begin_location_import(ctx, image, url, validation_data,
                                  str(uuid.uuid4()), stale_task_id)


@db_engine.in_transaction
def _begin_location_import(ctx, image, url, validation_data, task_id,
                           stale_task_id):
    db_images.image_lock_row(ctx, image.id)
    current = db_images.image_get(ctx, image.id, check_visible=False)
    if current.import_lock not in (None, stale_task_id):
        raise exception.Conflict(
            "New operation on image '%s' is not permitted as prior "
            "operation is still in progress" % image.id)
    if current.status != images.QUEUED:
        raise exception.Conflict(
            "It's not allowed to add locations if image status is %s."
            % current.status)
    task = db_tasks.task_create(ctx, {
        'id': task_id, 'type': tasks.LOCATION_IMPORT, 'owner': ctx.owner,
        'image_id': image.id, 'user_id': ctx.user_id,
        'request_id': ctx.request_id,
        'input': {'image_id': image.id, 'loc_url': url,
                  'validation_data': validation_data or {}}})
    db_locks.acquire_import_lock(ctx, image.id, task_id,
                                 stale_task_id=stale_task_id)
    return task

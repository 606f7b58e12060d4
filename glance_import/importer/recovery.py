"""Imports whose process died: resume them, or revert them cleanly.

At start-up, and every ``[taskflow_executor] recovery_interval`` seconds,
the import tasks still ``pending`` or ``processing`` are examined. A task
is taken over only when its runner is provably gone:

* its saved owner is a process of this host that no longer exists
  (pid and start time), or
* its heartbeat (``updated_at``, refreshed while it runs) is older than
  ``recovery_timeout`` - the only evidence available about other hosts.

Of several nodes finding the same task, exactly one wins the takeover
(compare-and-swap on the heartbeat it saw). The winner resumes the flow
from its saved state (taskflow skips the steps that finished), or, when
resuming is turned off or impossible, reverts it: the image goes back to
``queued`` (an active image stays active), unfinished stores are recorded
in ``os_glance_failed_import``, the lock is dropped and neither staged
nor partially stored data is left behind.

Jobs posted to a jobboard are left to the conductors, whose claims
expire with them.
"""

import datetime
import enum
import logging
import threading

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import import tasks
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import models
from glance_import.db import tasks as db_tasks
from glance_import.importer import executor
from glance_import.importer import flows
from glance_import.importer import lifecycle
from glance_import.importer import persistence
from glance_import.importer import steps
from glance_import.store import backends
from glance_import.store import staging

LOG = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = ('Import interrupted when the process running it '
                       'stopped; the image was restored')


class Action(enum.Enum):
    SKIP = 'skip'        # its runner may be alive, or not ours to take
    START = 'start'      # never started: run it from the beginning
    RESUME = 'resume'    # continue the saved flow (or run it afresh)
    REVERT = 'revert'    # undo what it did and fail the task


def decide(task: dict, owner: dict | None, *, me: dict,
           now: datetime.datetime, timeout: float, alive,
           has_state: bool, resume: bool, on_jobboard: bool = False
           ) -> Action:
    """What to do with a pending or processing import task.

    *owner* is the process recorded in the task's saved flow (None if
    none was saved); *alive(owner)* checks a process of this host.
    """
    if on_jobboard:
        return Action.SKIP
    if owner is not None and owner.get('host') == me['host']:
        if owner == me or alive(owner):
            return Action.SKIP
    else:
        heartbeat = task['updated_at'] or task['created_at']
        if (now - heartbeat).total_seconds() < timeout:
            return Action.SKIP
    if task['status'] == tasks.PENDING:
        return Action.START
    if task['type'] not in tasks.FLOW_TYPES:
        # Legacy tasks build their image at start; they cannot resume.
        return Action.REVERT
    if resume or not has_state:
        return Action.RESUME
    return Action.REVERT


def recover(conf) -> dict:
    """Scan once; returns {task id: Action} for the tasks acted upon."""
    ctx = context.admin_context()
    me = persistence.this_process(conf)
    acted = {}
    for status in (tasks.PROCESSING, tasks.PENDING):
        for task in db_tasks.task_get_all(ctx, filters={'status': status}):
            if task['type'] not in tasks.RUNNABLE_TYPES:
                continue
            detail = persistence.flow_detail(task['id'])
            meta = (detail.meta or {}) if detail is not None else {}
            action = decide(
                task, meta.get('owner'), me=me, now=models.utcnow(),
                timeout=conf.taskflow_executor.recovery_timeout,
                alive=persistence.is_alive, has_state=detail is not None,
                resume=conf.taskflow_executor.resume_interrupted_imports,
                on_jobboard=bool(meta.get('jobboard')))
            if action is Action.SKIP:
                continue
            if not db_tasks.task_claim(ctx, task['id'], task['status'],
                                       task['updated_at']):
                continue    # another node took it, or its owner moved
            LOG.warning('Import task %s (image %s) was abandoned by %s; '
                        'action: %s', task['id'], task['image_id'],
                        meta.get('owner') or 'an unknown process',
                        action.value)
            acted[task['id']] = action
            if action is not Action.REVERT and detail is not None:
                # Ours from now on: later scans leave it alone.
                persistence.set_owner(detail, me)
            if action is Action.START:
                executor.submit(conf, task)
            elif action is Action.RESUME:
                executor.submit_resume(conf, task)
            else:
                revert(conf, task)
    persistence.forget_finished()
    return acted


def revert(conf, task: dict) -> None:
    """Undo an interrupted import without running it; fail the task."""
    task_id, image_id = task['id'], task['image_id']
    try:
        if task['type'] in tasks.FLOW_TYPES:
            args = lifecycle.flow_args(conf, task)
        else:
            args = {'image_id': image_id, 'method': 'web-download',
                    'stores': [None]}
        if image_id:
            _restore_image(conf, task_id, args)
    except Exception:
        LOG.exception('Reverting import task %s failed', task_id)
    persistence.forget(task_id)
    lifecycle.finish(conf, task_id, tasks.FAILURE,
                     message=INTERRUPTED_MESSAGE)


def _restore_image(conf, task_id, args):
    image_id, method = args['image_id'], args['method']
    stores = args['stores']
    ctx = context.admin_context()
    try:
        image = db_images.image_get(ctx, image_id, check_visible=False)
    except exception.ImageNotFound:
        return
    if image.import_lock != task_id:
        return      # someone else owns the image now
    # Locations this import added: a copy only targets stores the image
    # was not in; any other method starts from an image without data.
    named = {s for s in stores if s}
    added = [loc for loc in image.locations
             if method != 'copy-image'
             or loc['metadata'].get('store') in named]
    if image.status == images.ACTIVE and method != 'copy-image':
        added = []      # a store finished: the image is usable, keep it
    for loc in added:
        db_images.image_remove_location(ctx, image_id, loc['id'])
        if method == flows.LOCATION_IMPORT:
            continue    # registered data lives on: not ours to delete
        try:
            backends.delete(loc)
        except exception.GlanceImportError as e:
            LOG.warning('Cannot delete %s: %s', loc['url'], e)
    steps.ImportLock(image_id, task_id, method, stores).revert(conf, None)
    staging.delete(conf, image_id)
    lifecycle.remove_partial_data(conf, image_id, stores)


# The scanner -----------------------------------------------------------

_SCANNER = None
_SCANNER_LOCK = threading.Lock()


def start(conf) -> None:
    """Scan now, then every recovery_interval in a background thread.

    The first scan is done before the service takes requests (it only
    reads a few rows; resumed imports run in the pool). One scanner
    thread per process; a service started again restarts its period.
    Never stops the service.
    """
    global _SCANNER
    _scan_once(conf)
    with _SCANNER_LOCK:
        if _SCANNER is not None and _SCANNER[0].is_alive():
            _SCANNER[1].set()
            return
        wake = threading.Event()
        thread = threading.Thread(target=_scan_forever, args=(conf, wake),
                                  name='import-recovery', daemon=True)
        _SCANNER = (thread, wake)
        thread.start()


def _scan_once(conf):
    try:
        db_engine.get_engine()
    except AttributeError:
        return      # the service stopped (its database is closed)
    try:
        recover(conf)
    except Exception:
        LOG.exception('Scan for interrupted imports failed')


def _scan_forever(conf, wake):
    while True:
        interval = conf.taskflow_executor.recovery_interval
        if wake.wait(interval or None):
            wake.clear()        # restarted: a scan was just done
            continue
        _scan_once(conf)

"""A task's life: start it (pending -> processing), run its saved flow,
finish it (success or failure). The one owner of these moves, used by the
local executor, the jobboard conductors and recovery alike."""

import logging

from taskflow import exceptions as tf_exceptions

from glance_import import context
from glance_import import exception
from glance_import import notifications
from glance_import import tasks
from glance_import.db import images as db_images
from glance_import.db import tasks as db_tasks
from glance_import.importer import flows
from glance_import.importer import persistence
from glance_import.importer import steps
from glance_import.store import backends

LOG = logging.getLogger(__name__)


def flow_args(conf, task: dict) -> dict:
    """The flow arguments of an import task: saved ones, else its row's."""
    detail = persistence.flow_detail(task['id'])
    if detail is not None:
        return persistence.flow_args(detail)
    return flows.flow_args_from_task(task, conf)


def start(task_id: str, *, or_continue: bool = False) -> dict | None:
    """Move *task_id* pending -> processing; its row, or None if not ours.

    With *or_continue* a task already processing is returned as well: a
    conductor continuing the job of one that died.
    """
    ctx = context.admin_context()
    try:
        task = db_tasks.task_get(ctx, task_id)
    except exception.TaskNotFound:
        LOG.warning('Task %s not started: it no longer exists', task_id)
        return None
    if task['status'] == tasks.PENDING:
        try:
            db_tasks.task_update(ctx, task_id, {'status': tasks.PROCESSING},
                                 from_status=tasks.PENDING)
            _notify_task('task.processing', task_id)
            return dict(task, status=tasks.PROCESSING)
        except exception.Conflict:
            task = db_tasks.task_get(ctx, task_id)
    if or_continue and task['status'] == tasks.PROCESSING:
        return task
    LOG.warning('Task %s not started: it is %s', task_id, task['status'])
    return None


def finish(conf, task_id: str, status: str, *, message: str = '',
           result: dict | None = None,
           from_status: str = tasks.PROCESSING) -> None:
    """Record the end of a task (and when it expires); never raises."""
    try:
        db_tasks.task_update(
            context.admin_context(), task_id,
            {'status': status, 'message': message, 'result': result,
             'expires_at': db_tasks.task_expiry(conf)},
            from_status=from_status)
    except exception.Conflict:
        LOG.warning('Task %s changed while finishing it as %s', task_id,
                    status)
        return
    _notify_task('task.%s' % status, task_id)


def _notify_task(event_type, task_id):
    def payload():
        return notifications.task_payload(
            db_tasks.task_get(context.admin_context(), task_id))
    notifications.send(event_type, payload)


def failure_message(error: BaseException) -> str:
    """A message for the task row: ours as written, others named."""
    if isinstance(error, tf_exceptions.WrappedFailure):
        for failure in error:
            if failure.exception is not None:
                return failure_message(failure.exception)
        return str(error)
    if isinstance(error, exception.GlanceImportError):
        return error.msg
    return 'Import failed: %s: %s' % (type(error).__name__, error)


def engine_options(conf) -> dict:
    opts = conf.taskflow_executor
    if opts.engine_mode == 'parallel':
        return {'engine': 'parallel', 'max_workers': opts.max_workers}
    return {'engine': 'serial'}


def run_flow(conf, args: dict, credentials: dict | None, *,
             resumed: bool = False) -> None:
    """Run (or, *resumed*, continue) the saved flow of ``args['task_id']``.

    A fresh flow that cannot even be built ran nothing, so no revert
    will: the request's own changes (lock, status) are undone here.
    """
    task_id = args['task_id']
    try:
        engine = persistence.load_engine(conf, task_id, args, credentials,
                                         engine_options(conf))
    except Exception:
        if not resumed:
            steps.ImportLock(args['image_id'], task_id, args['method'],
                             args['stores']).revert(conf, None)
        raise
    persistence.run_engine(conf, task_id, engine)


def resume(conf, task: dict, credentials: dict | None = None) -> None:
    """Continue the saved flow of a processing task; finish the task.

    taskflow skips the steps that finished; what an interrupted write
    left unrecorded in a native file store is removed first.
    """
    task_id = task['id']
    try:
        args = flow_args(conf, task)
        remove_partial_data(conf, args['image_id'], args['stores'])
        run_flow(conf, args, credentials, resumed=True)
    except Exception as e:
        LOG.warning('Resumed import task %s failed: %s', task_id, e)
        finish(conf, task_id, tasks.FAILURE, message=failure_message(e))
    else:
        finish(conf, task_id, tasks.SUCCESS,
               result={'image_id': args['image_id']})


def remove_partial_data(conf, image_id: str, stores: list) -> None:
    """Delete what an interrupted write left in native file stores.

    Only where the image has no location in that store: such a file was
    never recorded, so nothing refers to it.
    """
    try:
        image = db_images.image_get(context.admin_context(), image_id,
                                    check_visible=False)
        urls = {loc['url'] for loc in image.locations}
    except exception.ImageNotFound:
        urls = set()
    for store_id in stores:
        try:
            location = backends.native_location(conf, image_id, store_id)
        except exception.GlanceImportError:
            continue
        if location is None or location['url'] in urls:
            continue
        try:
            backends.delete(location)
        except exception.GlanceImportError as e:
            LOG.warning('Cannot delete partial data %s: %s',
                        location['url'], e)

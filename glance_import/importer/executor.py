"""Runs import tasks: a bounded thread pool driving taskflow engines.

``submit`` hands a task row to one of ``[wsgi] task_pool_threads``
threads, which moves it pending -> processing, builds the flow from the
row, runs it with the ``[taskflow_executor]`` engine and records success
or failure (with a readable message and ``expires_at``). A task is never
left pending: if it cannot be started it fails at once. ``shutdown``
waits for every accepted task to finish.
"""

import logging
import threading
from concurrent import futures

from oslo_config import cfg
from taskflow import exceptions as tf_exceptions

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import task_states
from glance_import.db import tasks as db_tasks
from glance_import.importer import flows
from glance_import.importer import jobboard
from glance_import.importer import persistence
from glance_import.importer import steps
from glance_import.store import backends

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

IMPORT_TASK = 'api_image_import'
LEGACY_IMPORT_TASK = 'import'

_POOL = None
_POOL_LOCK = threading.Lock()


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = futures.ThreadPoolExecutor(
                max_workers=CONF.wsgi.task_pool_threads,
                thread_name_prefix='import-task')
        return _POOL


def submit(task: dict, credentials: dict | None = None) -> None:
    """Run *task* in the background.

    *credentials* (token, service catalog, roles of the caller) stay in
    memory; they are never written to the task row.
    """
    try:
        # The one dispatch point: saved flow, then jobboard or this pool.
        if jobboard.dispatch(task, credentials):
            return
        _pool().submit(run_task, task['id'], credentials or {})
    except RuntimeError as e:
        LOG.error('Cannot start task %s: %s', task['id'], e)
        _finish(task['id'], task_states.PENDING, task_states.FAILURE,
                message='The service is shutting down; the task was not '
                        'started')


def shutdown() -> None:
    """Wait for running and queued tasks, then drop the pool."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True)


def _finish(task_id, from_status, status, *, message='', result=None):
    try:
        db_tasks.task_update(
            context.admin_context(), task_id,
            {'status': status, 'message': message, 'result': result,
             'expires_at': db_tasks.task_expiry(CONF)},
            from_status=from_status)
    except exception.Conflict:
        LOG.warning('Task %s changed while finishing it as %s', task_id,
                    status)


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


def run_task(task_id: str, credentials: dict) -> None:
    """Execute one task to its end; never raises."""
    ctx = context.admin_context()
    try:
        task = db_tasks.task_get(ctx, task_id)
        db_tasks.task_update(ctx, task_id,
                             {'status': task_states.PROCESSING},
                             from_status=task_states.PENDING)
    except exception.GlanceImportError as e:
        LOG.warning('Task %s not started: %s', task_id, e)
        return
    args = None
    try:
        if task['type'] == LEGACY_IMPORT_TASK:
            args = _prepare_legacy_import(ctx, task)
        elif task['type'] == IMPORT_TASK:
            args = flows.flow_args_from_task(task, CONF)
        else:
            raise exception.ImportTaskError(
                reason='Tasks of type %s cannot be run' % task['type'])
        _run_flow(args, credentials)
    except Exception as e:
        if not isinstance(e, exception.GlanceImportError):
            LOG.exception('Task %s failed', task_id)
        else:
            LOG.warning('Task %s failed: %s', task_id, e)
        if args is not None and task['type'] == LEGACY_IMPORT_TASK:
            _discard_legacy_image(ctx, args['image_id'])
        _finish(task_id, task_states.PROCESSING, task_states.FAILURE,
                message=failure_message(e))
    else:
        _finish(task_id, task_states.PROCESSING, task_states.SUCCESS,
                result={'image_id': args['image_id']})


def engine_options():
    opts = CONF.taskflow_executor
    if opts.engine_mode == 'parallel':
        return {'engine': 'parallel', 'max_workers': opts.max_workers}
    return {'engine': 'serial'}


def _run_flow(args, credentials):
    try:
        flows.get_flow(**args)
    except Exception:
        # Nothing ran, so no revert will: undo the request's own changes.
        steps.ImportLock(args['image_id'], args['task_id'], args['method'],
                         args['stores']).revert(None)
        raise
    # Persisted so that an interrupted import can be resumed (recovery).
    persistence.run(args['task_id'], args, credentials, engine_options())


# The legacy tasks API "import" type ------------------------------------

def _prepare_legacy_import(ctx, task):
    """Create the image a legacy import task fills, locked and importing.

    A legacy task is run as a web-download of ``import_from`` into a new
    image made from ``image_properties``, owned by the task's owner.
    """
    task_input = task['input'] or {}
    props = dict(task_input.get('image_properties') or {})
    values = {'owner': task['owner'], 'visibility': 'shared',
              'disk_format': props.pop('disk_format',
                                       task_input.get('import_from_format')),
              'container_format': props.pop('container_format', 'bare'),
              'name': props.pop('name', None)}
    for key in ('min_disk', 'min_ram'):
        if key in props:
            values[key] = int(props.pop(key))
    if 'visibility' in props:
        values['visibility'] = props.pop('visibility')
    owner_ctx = context.RequestContext(project_id=task['owner'],
                                       user_id=task['user_id'],
                                       is_admin=True, overwrite=False)
    image = db_images.image_create(owner_ctx, values,
                                   properties={k: str(v)
                                               for k, v in props.items()})
    _lock_legacy_image(ctx, image.id, task['id'])
    store = (backends.default_store_id(CONF)
             if CONF.enabled_backends else None)
    return {'image_id': image.id, 'task_id': task['id'],
            'method': 'web-download', 'stores': [store],
            'all_stores_must_succeed': True,
            'uri': task_input.get('import_from'), 'remote': None,
            'plugin_names': []}


@db_engine.in_transaction
def _lock_legacy_image(ctx, image_id, task_id):
    db_tasks.task_update(ctx, task_id, {'image_id': image_id})
    db_locks.acquire_import_lock(ctx, image_id, task_id)
    db_images.image_update(ctx, image_id, {'status': images.IMPORTING},
                           from_status=images.QUEUED)


def _discard_legacy_image(ctx, image_id):
    """A failed legacy import leaves no image behind (as in Glance)."""
    try:
        backends.delete_all(db_images.image_delete(ctx, image_id))
    except exception.ImageNotFound:
        pass

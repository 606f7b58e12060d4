"""Runs import tasks in this process: a bounded thread pool of
``[wsgi] task_pool_threads`` threads driving their taskflow engines.

``submit`` takes an accepted task: its flow is saved and posted on the
jobboard when there is one (``jobboard.dispatch``), otherwise one of the
threads runs it through ``lifecycle``. A task is never left pending: if
it cannot be started it fails at once. ``shutdown`` waits for every
accepted task to finish.
"""

import logging
import threading
from concurrent import futures

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import import tasks
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import tasks as db_tasks
from glance_import.importer import flows
from glance_import.importer import jobboard
from glance_import.importer import lifecycle
from glance_import.store import backends

LOG = logging.getLogger(__name__)

_POOL = None
_POOL_LOCK = threading.Lock()


def _pool(conf):
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = futures.ThreadPoolExecutor(
                max_workers=conf.wsgi.task_pool_threads,
                thread_name_prefix='import-task')
        return _POOL


def submit(conf, task: dict, credentials: dict | None = None) -> None:
    """Run *task*, just created or never started, in the background.

    *credentials* (token, service catalog, roles of the caller) stay in
    memory; they are never written to the task row. The task's owner is
    added as the caller's project, which scopes their token: the key
    manager needs it to verify signed images.
    """
    if credentials:
        credentials = {'project_id': task['owner'], **credentials}
    args = None
    if task['type'] in tasks.FLOW_TYPES:
        args = flows.flow_args_from_task(task, conf)
    try:
        # The one dispatch point: saved flow, then jobboard or this pool.
        if args is not None and jobboard.dispatch(conf, task, args,
                                                  credentials):
            return
        _pool(conf).submit(run_task, conf, task['id'], args,
                           credentials or {})
    except RuntimeError as e:
        LOG.error('Cannot start task %s: %s', task['id'], e)
        lifecycle.finish(conf, task['id'], tasks.FAILURE,
                         from_status=tasks.PENDING,
                         message='The service is shutting down; the task '
                                 'was not started')


def submit_resume(conf, task: dict) -> None:
    """Continue the saved flow of an interrupted *task* in the pool."""
    _pool(conf).submit(lifecycle.resume, conf, task)


def shutdown() -> None:
    """Wait for running and queued tasks, then drop the pool."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True)


def run_task(conf, task_id: str, args: dict | None,
             credentials: dict) -> None:
    """Execute one task to its end; never raises.

    *args* are the flow arguments of an import task; a legacy task gets
    its own when it starts, as that creates its image.
    """
    task = lifecycle.start(task_id)
    if task is None:
        return
    legacy = task['type'] == tasks.LEGACY_IMPORT
    try:
        if legacy:
            args = _prepare_legacy_import(conf, context.admin_context(),
                                          task)
        elif task['type'] not in tasks.FLOW_TYPES:
            raise exception.ImportTaskError(
                reason='Tasks of type %s cannot be run' % task['type'])
        lifecycle.run_flow(conf, args, credentials)
    except Exception as e:
        if not isinstance(e, exception.GlanceImportError):
            LOG.exception('Task %s failed', task_id)
        else:
            LOG.warning('Task %s failed: %s', task_id, e)
        if legacy and args is not None:
            _discard_legacy_image(context.admin_context(), args['image_id'])
        lifecycle.finish(conf, task_id, tasks.FAILURE,
                         message=lifecycle.failure_message(e))
    else:
        lifecycle.finish(conf, task_id, tasks.SUCCESS,
                         result={'image_id': args['image_id']})


# The legacy tasks API "import" type ------------------------------------

def _prepare_legacy_import(conf, ctx, task):
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
    store = (backends.default_store_id(conf)
             if conf.enabled_backends else None)
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

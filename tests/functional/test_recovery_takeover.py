"""An import abandoned by another node is taken over once, and only late.

The task is set up as a node on another host would leave it when it
died mid-import: processing, locked, its flow saved with that node as
owner. Recovery leaves it alone while its heartbeat is fresh; once the
heartbeat is older than recovery_timeout, of several scanners racing
exactly one resumes it.
"""

import datetime
import os
import threading

import sqlalchemy as sa
from oslo_config import cfg

from glance_import import context
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import models
from glance_import.db import tasks as db_tasks
from glance_import.importer import flows
from glance_import.importer import locks
from glance_import.importer import persistence
from glance_import.importer import recovery
from glance_import.importer import request as import_request
from tests import fixtures
from tests.functional import importutil

CONF = cfg.CONF
OTHER_NODE = {'node': 'b', 'host': 'elsewhere.example', 'pid': 4242,
              'started': '1'}


def _abandoned_import(client, data):
    image_id = importutil.create(client, name='abandoned')['id']
    importutil.stage(client, image_id, data)
    ctx = context.admin_context('admin')
    image = db_images.image_get(ctx, image_id)
    req = import_request.parse(CONF, {'method': {'name': 'glance-direct'}},
                               {})
    task = locks.begin(ctx, CONF, image, req, [None])
    db_tasks.task_update(ctx, task['id'], {'status': 'processing'},
                         from_status='pending')
    detail = persistence.create_flow_detail(
        CONF, task['id'], flows.flow_args_from_task(task, CONF))
    persistence.set_owner(detail, OTHER_NODE)
    return image_id, task['id']


def _age_heartbeat(task_id, seconds):
    then = models.utcnow() - datetime.timedelta(seconds=seconds)
    with db_engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Task).where(
            models.Task.id == task_id).values(updated_at=then))


def test_other_nodes_import_is_taken_once_after_timeout(service_factory):
    svc = service_factory({'taskflow_executor.recovery_timeout': 30,
                           'taskflow_executor.recovery_interval': 0})
    client = fixtures.Client(svc.url)
    data = os.urandom(1 << 20)
    image_id, task_id = _abandoned_import(client, data)

    _age_heartbeat(task_id, 20)
    assert task_id not in recovery.recover(CONF)
    assert importutil.image(client, image_id)['status'] == 'importing'

    _age_heartbeat(task_id, 31)
    results = []
    barrier = threading.Barrier(6)

    def scan():
        barrier.wait()
        results.append(recovery.recover(CONF))

    threads = [threading.Thread(target=scan) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    takers = [r for r in results if task_id in r]
    assert takers == [{task_id: recovery.Action.RESUME}], results

    importutil.wait_status(client, image_id, 'active')
    task = importutil.wait_task(client, image_id)
    assert task['status'] == 'success', task
    assert importutil.download(client, image_id) == data
    # The flow now names this process as its owner, and is gone once
    # finished.
    assert persistence.flow_detail(task_id) is None


def test_other_nodes_import_is_reverted_when_resuming_is_off(
        service_factory):
    svc = service_factory({
        'taskflow_executor.recovery_timeout': 30,
        'taskflow_executor.recovery_interval': 0,
        'taskflow_executor.resume_interrupted_imports': False})
    client = fixtures.Client(svc.url)
    image_id, task_id = _abandoned_import(client, os.urandom(1 << 16))
    _age_heartbeat(task_id, 31)
    assert recovery.recover(CONF) == {task_id: recovery.Action.REVERT}
    task = importutil.wait_task(client, image_id)
    assert task['status'] == 'failure'
    assert task['message'] == recovery.INTERRUPTED_MESSAGE
    image = importutil.image(client, image_id)
    assert image['status'] == 'queued'
    assert importutil.files_in(os.path.join(svc.directory, 'staging')) == []
    # The lock is gone: the client may stage and import again.
    importutil.stage(client, image_id, b'again')
    resp = importutil.start_import(client, image_id)
    assert resp.status_code == 202, resp.text
    importutil.wait_status(client, image_id, 'active')


def test_dead_local_process_partial_store_file_is_replaced(service_factory):
    """A process of this host died while writing the image to the store."""
    svc = service_factory({'taskflow_executor.recovery_interval': 0})
    client = fixtures.Client(svc.url)
    data = os.urandom(1 << 20)
    image_id, task_id = _abandoned_import(client, data)
    # Same host, same pid as the test, another start time: a process that
    # is gone (its pid reused).
    dead = dict(persistence.this_process(CONF), started='0')
    persistence.set_owner(persistence.flow_detail(task_id), dead)
    store_dir = os.path.join(svc.directory, 'images')
    os.makedirs(store_dir, exist_ok=True)
    with open(os.path.join(store_dir, image_id), 'wb') as f:
        f.write(data[:1000])     # what the interrupted write left

    # No timeout to wait for: the owner is provably dead.
    assert recovery.recover(CONF) == {task_id: recovery.Action.RESUME}
    importutil.wait_status(client, image_id, 'active')
    assert importutil.wait_task(client, image_id)['status'] == 'success'
    assert importutil.download(client, image_id) == data
    assert importutil.files_in(store_dir) == [image_id]
    assert importutil.files_in(os.path.join(svc.directory, 'staging')) == []

"""The os_glance_import_task lock: one winner per race, stale locks bust."""

import datetime
import threading

import pytest
import sqlalchemy as sa

from tests import fixtures
from tests.functional import importutil as iu

CONFLICTS = ('Image has active task',
             'is not permitted as prior operation is still in progress',
             'Image status transition from',
             "Image needs to be staged before 'glance-direct'",
             "Image needs to be in 'queued' state",
             'Image with status active cannot be target for import')


@pytest.fixture
def svc(service_factory):
    return service_factory({'server_threads': 24})


def race(client, image_id, body, count=16):
    barrier = threading.Barrier(count)
    results = []

    def one():
        own = client.as_caller(client.headers['X-Project-Id'])
        barrier.wait()
        resp = own.post('/v2/images/%s/import' % image_id, json=body)
        results.append((resp.status_code, iu.message(resp)))
    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_parallel_glance_direct_imports_have_one_winner(svc):
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], b'x' * 4096)
    _check_race(client, image, {'method': {'name': 'glance-direct'}})


def test_parallel_web_downloads_have_one_winner(service_factory):
    with iu.http_source({'/img': b'y' * 4096}, held=['/img']) as source:
        svc = service_factory({
            'server_threads': 24,
            'import_filtering_opts.allowed_hosts': '127.0.0.1',
            'import_filtering_opts.allowed_ports': source.port})
        client = fixtures.Client(svc.url).as_caller(iu.project())
        image = iu.create(client)
        body = {'method': {'name': 'web-download',
                           'uri': source.url + '/img'}}
        # The download waits until every request has been answered.
        results = race(client, image['id'], body)
        source.release('/img')
        _check_results(results)
        assert iu.wait_task(client, image['id'])['status'] == 'success'
        assert len(iu.tasks(client, image['id'])) == 1
        assert source.hits == ['/img']


def _check_race(client, image, body):
    results = race(client, image['id'], body)
    _check_results(results)
    task = iu.wait_task(client, image['id'], timeout=120)
    assert len(iu.tasks(client, image['id'])) == 1
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image['id'])
    assert 'os_glance_import_task' not in shown


def _check_results(results):
    winners = [r for r in results if r[0] == 202]
    assert len(winners) == 1, results
    for status, text in results:
        if status != 202:
            assert status == 409, text
            assert any(c in text for c in CONFLICTS), text


def _age_task(task_id, minutes):
    from glance_import.db import engine as db_engine
    from glance_import.db import models
    old = models.utcnow() - datetime.timedelta(minutes=minutes)
    with db_engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Task.__table__).where(
            models.Task.__table__.c.id == task_id).values(updated_at=old))


def _lock_with(image_id, status, age_minutes=0, create=True):
    from glance_import import context
    from glance_import.db import locks as db_locks
    from glance_import.db import tasks as db_tasks
    ctx = context.admin_context()
    if create:
        task = db_tasks.task_create(ctx, {'type': 'api_image_import',
                                          'owner': 'other',
                                          'status': status,
                                          'image_id': image_id})
        task_id = task['id']
        _age_task(task_id, age_minutes)
    else:
        task_id = 'c6b8c6d5-6f0c-4a8e-9d38-1a3c0a1e7f00'
    db_locks.acquire_import_lock(ctx, image_id, task_id)
    return task_id


@pytest.mark.parametrize('status, age, stale', [
    ('processing', 59, False),
    ('processing', 61, True),
    ('pending', 61, False),      # pending locks last twice as long
    ('pending', 121, True),
    ('success', 61, True),
    ('failure', 30, False),
])
def test_lock_expiry(svc, status, age, stale):
    from glance_import import context
    from glance_import.db import tasks as db_tasks
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], b'payload')
    old = _lock_with(image['id'], status, age)
    resp = iu.start_import(client, image['id'])
    if not stale:
        assert resp.status_code == 409
        assert 'Image has active task' in iu.message(resp)
        return
    assert resp.status_code == 202, resp.text
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    assert iu.download(client, image['id']) == b'payload'
    old_task = db_tasks.task_get(context.admin_context(), old)
    if status in ('pending', 'processing'):
        assert old_task['status'] == 'failure'
        assert old_task['message'] == 'Expired lock preempted'
    else:
        assert old_task['status'] == status


def test_lock_of_missing_task_is_stale(svc):
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], b'payload')
    _lock_with(image['id'], None, create=False)
    assert iu.start_import(client, image['id']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'


def test_takeover_clears_stale_store_progress(service_factory, tmp_path):
    from glance_import import context
    from glance_import.db import images as db_images
    from glance_import.db import locks as db_locks
    from glance_import.db import tasks as db_tasks
    svc = service_factory({
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
    })
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], b'payload')
    ctx = context.admin_context()
    old = db_tasks.task_create(ctx, {
        'type': 'api_image_import', 'owner': 'other',
        'status': 'processing', 'image_id': image['id'],
        'input': {'image_id': image['id'], 'backend': ['slow']}})
    _age_task(old['id'], 90)
    db_locks.acquire_import_lock(ctx, image['id'], old['id'])
    db_images.image_update(ctx, image['id'], set_properties={
        'os_glance_importing_to_stores': 'slow'})
    assert iu.start_import(client, image['id'],
                           stores=['fast']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    shown = iu.image(client, image['id'])
    assert shown['os_glance_importing_to_stores'] == ''
    assert shown['stores'] == 'fast'

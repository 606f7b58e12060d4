"""20 requests at once against the same images.

Every status change is a compare-and-swap, so of racing requests exactly
one wins each transition, the others get a clear 4xx, and the image,
its tasks and its files end in one consistent state. Runs on whichever
database GLANCE_IMPORT_TEST_DB names (SQLite, PostgreSQL, MySQL).
"""

import os
import threading
from concurrent import futures

import pytest

from tests import fixtures
from tests.functional import importutil

N = 20
SIZE = 256 * 1024
# Stage bodies small enough to sit in socket buffers: a request refused
# (409) before its body is read must not see its connection reset.
STAGE_SIZE = 8 * 1024


@pytest.fixture
def svc(process_factory):
    # A real server process: its listen backlog takes N connects at once.
    return process_factory({'server_threads': N + 4})


def _race(calls):
    """Run the callables together (released at once); their responses."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _client(svc):
    # One session per thread: requests sessions are not thread-safe.
    return lambda: fixtures.Client(svc.url)


def _staging(svc):
    return importutil.files_in(os.path.join(svc.directory, 'staging'))


def _store(svc):
    return importutil.files_in(os.path.join(svc.directory, 'images'))


def _codes(responses):
    return sorted(r.status_code for r in responses)


def _finished_tasks(client, image_id):
    def done():
        found = importutil.tasks(client, image_id)
        if all(t['status'] in ('success', 'failure') for t in found):
            return found or True
        return None
    found = fixtures.wait_until(done, message='tasks of %s' % image_id)
    return found if isinstance(found, list) else []


def test_parallel_imports_one_wins(svc):
    client = fixtures.Client(svc.url)
    new = _client(svc)
    for _ in range(3):
        image_id = importutil.create(client, name='race-import')['id']
        data = os.urandom(SIZE)
        importutil.stage(client, image_id, data)
        responses = _race([lambda i=image_id: importutil.start_import(
            new(), i) for _ in range(N)])
        assert _codes(responses) == [202] + [409] * (N - 1), \
            [r.text for r in responses if r.status_code not in (202, 409)]
        importutil.wait_status(client, image_id, 'active')
        tasks = _finished_tasks(client, image_id)
        assert [t['status'] for t in tasks] == ['success']
        assert importutil.download(client, image_id) == data
    assert _staging(svc) == []


def test_parallel_stages_one_wins(svc):
    client = fixtures.Client(svc.url)
    new = _client(svc)
    image = importutil.create(client, name='race-stage')
    payloads = [os.urandom(STAGE_SIZE) for _ in range(N)]

    def stage(data):
        return lambda: new().put(
            '/v2/images/%s/stage' % image['id'], data=data,
            headers={'Content-Type': 'application/octet-stream'})

    responses = _race([stage(p) for p in payloads])
    assert _codes(responses) == [204] + [409] * (N - 1), \
        [r.text for r in responses if r.status_code not in (204, 409)]
    winner = payloads[[r.status_code for r in responses].index(204)]
    assert importutil.image(client, image['id'])['status'] == 'uploading'
    assert _staging(svc) == [image['id']]
    resp = importutil.start_import(client, image['id'])
    assert resp.status_code == 202, resp.text
    importutil.wait_status(client, image['id'], 'active')
    assert importutil.download(client, image['id']) == winner


def test_parallel_deletes_one_wins(svc):
    client = fixtures.Client(svc.url)
    new = _client(svc)
    image = importutil.create(client, name='race-delete')
    importutil.stage(client, image['id'], os.urandom(SIZE))
    responses = _race([lambda: new().delete('/v2/images/%s' % image['id'])
                       for _ in range(N)])
    assert _codes(responses) == [204] + [404] * (N - 1), \
        [r.text for r in responses if r.status_code not in (204, 404)]
    assert client.get('/v2/images/%s' % image['id']).status_code == 404
    assert _staging(svc) == []


@pytest.mark.parametrize('round_', range(3))
def test_imports_and_deletes_together(svc, round_):
    client = fixtures.Client(svc.url)
    new = _client(svc)
    image = importutil.create(client, name='race-mixed')
    importutil.stage(client, image['id'], os.urandom(SIZE))
    calls = []
    for i in range(N):
        if i % 2:
            calls.append(lambda: new().delete('/v2/images/%s' % image['id']))
        else:
            calls.append(lambda: importutil.start_import(new(),
                                                         image['id']))
    responses = _race(calls)
    deletes = [r.status_code for r in responses
               if r.request.method == 'DELETE']
    imports = [r.status_code for r in responses
               if r.request.method == 'POST']
    assert sorted(deletes) == [204] + [404] * (N // 2 - 1), deletes
    # An import may win before the delete; never two.
    assert imports.count(202) <= 1, imports
    assert set(imports) <= {202, 404, 409}, \
        [r.text for r in responses if r.status_code >= 500]
    assert client.get('/v2/images/%s' % image['id']).status_code == 404
    # Whatever the import did is undone or deleted: no file is left.
    fixtures.wait_until(lambda: _staging(svc) == [] and _store(svc) == [],
                        message='no residue')
    tasks = _tasks_of(client, image['id'])
    assert len(tasks) == imports.count(202)
    fixtures.wait_until(lambda: all(
        t['status'] in ('success', 'failure')
        for t in _tasks_of(client, image['id'])), message='tasks finished')


def _tasks_of(client, image_id):
    resp = client.get('/v2/tasks')
    assert resp.status_code == 200, resp.text
    found = []
    for summary in resp.json()['tasks']:
        task = client.get('/v2/tasks/%s' % summary['id']).json()
        if (task.get('input') or {}).get('image_id') == image_id:
            found.append(task)
    return found


def test_stages_and_deletes_together(svc):
    client = fixtures.Client(svc.url)
    new = _client(svc)
    image = importutil.create(client, name='race-stage-delete')

    def stage():
        return new().put('/v2/images/%s/stage' % image['id'],
                         data=os.urandom(STAGE_SIZE),
                         headers={'Content-Type':
                                  'application/octet-stream'})

    calls = [stage if i % 2 == 0 else
             (lambda: new().delete('/v2/images/%s' % image['id']))
             for i in range(N)]
    responses = _race(calls)
    deletes = [r.status_code for r in responses
               if r.request.method == 'DELETE']
    stages = [r.status_code for r in responses if r.request.method == 'PUT']
    assert sorted(deletes) == [204] + [404] * (N // 2 - 1), deletes
    assert stages.count(204) <= 1, stages
    assert set(stages) <= {204, 404, 409, 410}, \
        [r.text for r in responses if r.status_code >= 500]
    assert client.get('/v2/images/%s' % image['id']).status_code == 404
    fixtures.wait_until(lambda: _staging(svc) == [], message='no residue')

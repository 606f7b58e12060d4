"""The tasks API, the image tasks call, and the seed task policy."""

import datetime
import os
import re

import pytest
import sqlalchemy as sa

from tests import fixtures
from tests.functional import importutil as iu

SEED_POLICY = '''
"get_task": ""
"get_tasks": ""
"add_task": ""
"modify_task": ""
"tasks_api_access": "role:admin"
'''
OPEN_POLICY = '"tasks_api_access": ""\n'
RAW_TIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$')
ZULU_TIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


def service_with_policy(service_factory, tmp_path, text, **overrides):
    path = tmp_path / 'policy.yaml'
    path.write_text(text)
    overrides['oslo_policy.policy_file'] = str(path)
    return service_factory(overrides)


def imported(client, data=b'task data'):
    image = iu.create(client)
    iu.stage(client, image['id'], data)
    assert iu.start_import(client, image['id']).status_code == 202
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'success', task['message']
    return image, task


def test_seed_policy_user_imports_but_no_tasks_api(service_factory,
                                                   tmp_path):
    svc = service_with_policy(service_factory, tmp_path, SEED_POLICY)
    user = fixtures.Client(svc.url).as_caller(iu.project())
    image, task = imported(user)
    assert iu.download(user, image['id']) == b'task data'
    for method, path in [('GET', '/v2/tasks'),
                         ('GET', '/v2/tasks/%s' % task['id']),
                         ('POST', '/v2/tasks')]:
        resp = user.request(method, path, json={} if method == 'POST'
                            else None)
        assert resp.status_code == 403, (method, path, resp.text)
        assert 'tasks_api_access' in iu.message(resp)
    # The admin of the same deployment may use the tasks API.
    admin = user.as_caller(user.headers['X-Project-Id'], roles='admin')
    resp = admin.get('/v2/tasks/%s' % task['id'])
    assert resp.status_code == 200


def test_default_policy_tasks_api_is_admin_only(service):
    user = fixtures.Client(service.url).as_caller(iu.project())
    assert user.get('/v2/tasks').status_code == 403
    assert fixtures.Client(service.url).get('/v2/tasks').status_code == 200


def test_get_task_policy_enforced(service_factory, tmp_path):
    svc = service_with_policy(service_factory, tmp_path,
                              OPEN_POLICY + '"get_task": "role:admin"\n')
    user = fixtures.Client(svc.url).as_caller(iu.project())
    _image, task = imported(user)
    resp = user.get('/v2/tasks/%s' % task['id'])
    assert resp.status_code == 403
    assert 'get_task' in iu.message(resp)
    assert user.get('/v2/tasks').status_code == 200


def test_task_views(service_factory, tmp_path):
    svc = service_with_policy(service_factory, tmp_path, OPEN_POLICY)
    user = fixtures.Client(svc.url).as_caller(iu.project(), user='u1')
    image, raw = imported(user, b'z' * 5000)
    resp = user.get('/v2/tasks/%s' % raw['id'])
    assert resp.status_code == 200
    task = resp.json()
    assert set(task) == {
        'id', 'type', 'status', 'input', 'result', 'owner', 'message',
        'created_at', 'updated_at', 'self', 'schema', 'image_id',
        'request_id', 'user_id', 'expires_at', 'progress'}
    assert task['type'] == 'api_image_import'
    assert task['status'] == 'success'
    assert task['owner'] == user.headers['X-Project-Id']
    assert task['user_id'] == 'u1'
    assert task['image_id'] == image['id']
    assert task['request_id'].startswith('req-')
    assert task['result'] == {'image_id': image['id']}
    assert task['message'] == ''
    assert task['progress'] == 5000
    assert task['self'] == '/v2/tasks/%s' % task['id']
    assert task['schema'] == '/v2/schemas/task'
    for key in ('created_at', 'updated_at', 'expires_at'):
        assert ZULU_TIME.match(task[key]), task[key]

    listing = user.get('/v2/tasks').json()
    assert listing['first'] == '/v2/tasks'
    assert listing['schema'] == '/v2/schemas/tasks'
    stub = [t for t in listing['tasks'] if t['id'] == task['id']][0]
    assert 'input' not in stub and 'result' not in stub
    assert 'message' not in stub

    rows = iu.tasks(user, image['id'])
    assert len(rows) == 1
    row = rows[0]
    assert set(row) >= {
        'id', 'type', 'status', 'owner', 'expires_at', 'created_at',
        'updated_at', 'deleted_at', 'deleted', 'image_id', 'request_id',
        'user_id', 'input', 'result', 'message'}
    assert row['deleted'] is False and row['deleted_at'] is None
    for key in ('created_at', 'updated_at', 'expires_at'):
        assert RAW_TIME.match(row[key]), row[key]


def test_tasks_are_private_to_their_project(service_factory, tmp_path):
    svc = service_with_policy(service_factory, tmp_path, OPEN_POLICY)
    alice = fixtures.Client(svc.url).as_caller(iu.project())
    bob = alice.as_caller(iu.project())
    _image, task = imported(alice)
    assert bob.get('/v2/tasks/%s' % task['id']).status_code == 404
    assert task['id'] not in [t['id'] for t in
                              bob.get('/v2/tasks').json()['tasks']]
    admin = fixtures.Client(svc.url)
    assert admin.get('/v2/tasks/%s' % task['id']).status_code == 200


def test_image_tasks_need_only_get_image(service_factory, tmp_path):
    svc = service_with_policy(service_factory, tmp_path, SEED_POLICY)
    owner = fixtures.Client(svc.url).as_caller(iu.project())
    image, task = imported(owner)
    assert [t['id'] for t in iu.tasks(owner, image['id'])] == [task['id']]
    stranger = owner.as_caller(iu.project())
    assert stranger.get('/v2/images/%s/tasks' % image['id']).status_code \
        == 404


@pytest.mark.parametrize('query, text', [
    ('status=done', 'Invalid status value: done'),
    ('type=api_image_import', 'Invalid type value: api_image_import'),
    ('sort_dir=up', 'Invalid sort direction: up'),
    ('sort_key=input', 'Invalid sort key: input'),
    ('marker=abc', 'Invalid marker format'),
    ('limit=x', 'limit param must be an integer'),
    ('limit=-1', 'limit param must be positive'),
    ('status=%ff%fe', 'not valid UTF-8'),
    ('%ff=1', 'not valid UTF-8'),
    ('status=a%00b', 'must not contain NUL'),
])
def test_list_parameters_validated(service, query, text):
    resp = fixtures.Client(service.url).get('/v2/tasks?' + query)
    assert resp.status_code == 400
    assert text in iu.message(resp)


def test_list_filters_sorting_paging(service_factory, tmp_path):
    svc = service_with_policy(service_factory, tmp_path, OPEN_POLICY)
    user = fixtures.Client(svc.url).as_caller(iu.project())
    ids = [imported(user)[1]['id'] for _ in range(3)]
    assert user.get('/v2/tasks?status=pending').json()['tasks'] == []
    done = user.get('/v2/tasks?status=success').json()['tasks']
    assert sorted(t['id'] for t in done) == sorted(ids)
    assert user.get('/v2/tasks?type=import').json()['tasks'] == []

    newest_first = [t['id'] for t in user.get('/v2/tasks').json()['tasks']]
    oldest_first = [t['id'] for t in user.get(
        '/v2/tasks?sort_dir=asc').json()['tasks']]
    assert newest_first == list(reversed(oldest_first))

    page = user.get('/v2/tasks?limit=2').json()
    assert len(page['tasks']) == 2
    assert page['first'] == '/v2/tasks?limit=2'
    assert 'marker=%s' % page['tasks'][-1]['id'] in page['next']
    rest = user.get(page['next']).json()
    assert [t['id'] for t in page['tasks'] + rest['tasks']] == newest_first
    assert user.get('/v2/tasks?limit=0').json()['tasks'] == []


def test_expired_tasks_disappear(service_factory, tmp_path):
    from glance_import.db import engine as db_engine
    from glance_import.db import models
    svc = service_with_policy(service_factory, tmp_path, OPEN_POLICY)
    user = fixtures.Client(svc.url).as_caller(iu.project())
    image, task = imported(user)
    past = models.utcnow() - datetime.timedelta(minutes=1)
    table = models.Task.__table__
    with db_engine.get_engine().begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == task['id'])
                     .values(expires_at=past))
    assert iu.tasks(user, image['id']) == []
    assert task['id'] not in [t['id'] for t in
                              user.get('/v2/tasks').json()['tasks']]
    assert user.get('/v2/tasks/%s' % task['id']).status_code == 404


def test_delete_task_not_allowed(service):
    path = '/v2/tasks/11111111-2222-3333-4444-555555555555'
    resp = fixtures.Client(service.url).delete(path)
    assert resp.status_code == 405
    assert resp.headers['Allow'] == 'GET'


@pytest.mark.parametrize('body, text', [
    ({'input': {}}, "Task 'type' is required"),
    ({'type': 'import'}, "Task 'input' is required"),
    ({'type': 'nope', 'input': {}},
     "Provided object does not match schema 'task'"),
    ({'type': 'import', 'input': 'x'},
     "Provided object does not match schema 'task'"),
    ({'type': 'api_image_import', 'input': {}},
     'Tasks of type api_image_import are created by the image API'),
    ({'type': 'import', 'input': {'import_from_format': 'raw',
                                  'image_properties': {}}},
     "Input does not contain 'import_from' field"),
    ({'type': 'import', 'input': {'import_from': 'file:///etc/passwd',
                                  'import_from_format': 'raw',
                                  'image_properties': {}}},
     'File based imports are not allowed'),
    ({'type': 'import', 'input': {'import_from': 'ftp://example.com/x',
                                  'import_from_format': 'raw',
                                  'image_properties': {}}},
     'The given uri is not valid'),
    ({'type': 'import', 'input': {'import_from': 'http://127.0.0.1/x',
                                  'import_from_format': 'raw',
                                  'image_properties': {}}},
     'URI for legacy import task does not pass filtering'),
    ({'type': 'import', 'input': {'import_from': 'http://127.0.0.1/x',
                                  'import_from_format': 'raw',
                                  'image_properties': []}},
     'URI for legacy import task does not pass filtering'),
])
def test_create_task_validation(service, body, text):
    admin = fixtures.Client(service.url)
    resp = admin.post('/v2/tasks', json=body)
    assert resp.status_code == 400, resp.text
    assert text in iu.message(resp)
    assert admin.get('/v2/tasks').json()['tasks'] == []


def test_legacy_import_task_runs(service_factory):
    data = os.urandom(70000)
    with iu.http_source({'/legacy.raw': data}) as source:
        svc = service_factory({
            'import_filtering_opts.allowed_hosts': '127.0.0.1',
            'import_filtering_opts.allowed_ports': source.port})
        admin = fixtures.Client(svc.url)
        resp = admin.post('/v2/tasks', json={
            'type': 'import',
            'input': {'import_from': source.url + '/legacy.raw',
                      'import_from_format': 'raw',
                      'image_properties': {'name': 'legacy',
                                           'disk_format': 'raw',
                                           'container_format': 'bare',
                                           'os_distro': 'cirros'}}})
        assert resp.status_code == 201, resp.text
        task = resp.json()
        assert resp.headers['Location'].endswith('/v2/tasks/%s' % task['id'])
        assert task['status'] == 'pending'

        def finished():
            got = admin.get('/v2/tasks/%s' % task['id']).json()
            return got['status'] in ('success', 'failure') and got
        done = fixtures.wait_until(finished, message='legacy task')
        assert done['status'] == 'success', done['message']
        image = iu.image(admin, done['result']['image_id'])
        assert image['name'] == 'legacy'
        assert image['os_distro'] == 'cirros'
        assert image['status'] == 'active'
        assert iu.download(admin, image['id']) == data


def test_failed_legacy_import_leaves_no_image(service_factory):
    with iu.http_source({}) as source:
        svc = service_factory({
            'import_filtering_opts.allowed_hosts': '127.0.0.1',
            'import_filtering_opts.allowed_ports': source.port})
        project = iu.project()
        admin = fixtures.Client(svc.url).as_caller(project, roles='admin')
        resp = admin.post('/v2/tasks', json={
            'type': 'import',
            'input': {'import_from': source.url + '/missing',
                      'import_from_format': 'raw',
                      'image_properties': {'disk_format': 'raw',
                                           'container_format': 'bare'}}})
        assert resp.status_code == 201

        def finished():
            got = admin.get('/v2/tasks/%s' % resp.json()['id']).json()
            return got['status'] in ('success', 'failure') and got
        done = fixtures.wait_until(finished, message='legacy task')
        assert done['status'] == 'failure'
        assert 'HTTP status 404' in done['message']
        images = admin.get('/v2/images?owner=%s' % project).json()['images']
        assert images == []

"""Operator policy files on a running service, including the import
documentation's task settings."""

import json
import os
import uuid

import pytest

from tests import fixtures

SEED = {
    'get_task': '',
    'get_tasks': '',
    'add_task': '',
    'modify_task': '',
    'tasks_api_access': 'role:admin',
}


@pytest.mark.parametrize('name', ['policy.json', 'policy.yaml'])
def test_seed_configuration_lets_users_import(service_factory, tmp_path,
                                              name):
    path = tmp_path / name
    if name.endswith('.json'):
        path.write_text(json.dumps(SEED, indent=4))
    else:
        path.write_text(''.join('"%s": "%s"\n' % kv for kv in SEED.items()))
    svc = service_factory({'oslo_policy.policy_file': str(path)})
    user = fixtures.Client(svc.url).as_caller(
        'project-%s' % uuid.uuid4().hex[:8], roles='member')

    resp = user.post('/v2/images', json={
        'name': 'seed', 'disk_format': 'raw', 'container_format': 'bare'})
    assert resp.status_code == 201, resp.text
    image_id = resp.json()['id']
    resp = user.put('/v2/images/%s/stage' % image_id, data=b'x' * 4096,
                    headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    resp = user.post('/v2/images/%s/import' % image_id,
                     json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text

    def active():
        body = user.get('/v2/images/%s' % image_id).json()
        return body if body['status'] == 'active' else None
    image = fixtures.wait_until(active, timeout=60, message='active image')
    assert image['size'] == 4096

    # The tasks API stays closed to them...
    assert user.get('/v2/tasks').status_code == 403
    # ...while the image's own tasks are visible to its owner.
    def finished_task():
        resp = user.get('/v2/images/%s/tasks' % image_id)
        assert resp.status_code == 200
        task = resp.json()['tasks'][0]
        return task if task['status'] == 'success' else None
    task = fixtures.wait_until(finished_task, timeout=60,
                               message='task success')
    assert user.get('/v2/tasks/%s' % task['id']).status_code == 403
    admin = fixtures.Client(svc.url)
    assert admin.get('/v2/tasks/%s' % task['id']).status_code == 200


def test_policy_file_override_applies(service_factory, tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_text('"add_image": "role:admin"\n')
    svc = service_factory({'oslo_policy.policy_file': str(path)})
    client = fixtures.Client(svc.url)
    member = client.as_caller('project-m', roles='member')
    body = {'name': 'x', 'disk_format': 'raw', 'container_format': 'bare'}
    assert member.post('/v2/images', json=body).status_code == 403
    assert client.post('/v2/images', json=body).status_code == 201


def test_relative_policy_file_is_found_beside_the_config(service_factory):
    svc = service_factory()
    directory = svc.directory
    with open('%s/custom-policy.yaml' % directory, 'w') as f:
        f.write('"get_images": "role:admin"\n')
    svc = service_factory({'oslo_policy.policy_file': 'custom-policy.yaml'})
    member = fixtures.Client(svc.url).as_caller('project-m', roles='member')
    assert member.get('/v2/images').status_code == 403


def test_edited_policy_file_applies_to_the_running_service(service_factory,
                                                           tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_text('"get_images": ""\n')
    svc = service_factory({'oslo_policy.policy_file': str(path)})
    member = fixtures.Client(svc.url).as_caller('project-m', roles='member')
    assert member.get('/v2/images').status_code == 200
    path.write_text('"get_images": "role:admin"\n')
    # A later modification time, whatever the filesystem's resolution.
    mtime = os.stat(path).st_mtime + 5
    os.utime(path, (mtime, mtime))
    fixtures.wait_until(
        lambda: member.get('/v2/images').status_code == 403, timeout=10,
        message='the edited rule to apply')

"""Keystone unified limits against the real Keystone of the identity
tests: limits registered for the service of ``[oslo_limit] endpoint_id``
and overridden for a project are enforced at their boundaries on create,
upload, stage and import, and ``GET /v2/info/usage`` reports them.

Sizes count in whole MiB, rounded down as in Glance: with 2 MiB left, a
2 MiB upload passes, then one of 1 MiB less a byte still passes (it
counts 0), then one of 1 MiB is refused.
"""

import uuid

import pytest

from tests import keystone as ks
from tests.functional import importutil as iu

MiB = 1024 * 1024
RESOURCES = ('image_size_total', 'image_stage_total', 'image_count_total',
             'image_count_uploading')
OCTET = {'Content-Type': 'application/octet-stream'}


class Limits:
    """A service of its own in Keystone (so the catalog's image endpoint
    of other tests is untouched), its registered limits and project
    overrides."""

    def __init__(self, keystone):
        self.keystone = keystone
        service = keystone._admin('POST', '/services', json={'service': {
            'type': 'image-limits-%s' % uuid.uuid4().hex[:8],
            'name': 'glance-limits-test'}})['service']
        self.service_id = service['id']
        self.endpoint_id = keystone._admin('POST', '/endpoints', json={
            'endpoint': {'service_id': self.service_id,
                         'interface': 'public',
                         'url': 'http://127.0.0.1:9/',
                         'region_id': 'RegionOne'}})['endpoint']['id']
        self.registered = {}
        for name in RESOURCES:
            body = {'registered_limits': [{
                'service_id': self.service_id, 'resource_name': name,
                'default_limit': 1000, 'region_id': 'RegionOne'}]}
            self.registered[name] = keystone._admin(
                'POST', '/registered_limits',
                json=body)['registered_limits'][0]['id']
        self.project_limits = {}

    def default(self, name, value):
        self.keystone._admin(
            'PATCH', '/registered_limits/%s' % self.registered[name],
            json={'registered_limit': {'default_limit': value}})

    def set(self, project, name, value):
        """*project*'s own limit of *name*."""
        key = (project, name)
        if key in self.project_limits:
            self.keystone._admin(
                'PATCH', '/limits/%s' % self.project_limits[key],
                json={'limit': {'resource_limit': value}})
            return
        self.project_limits[key] = self.keystone._admin(
            'POST', '/limits', json={'limits': [{
                'service_id': self.service_id,
                'project_id': self.keystone.projects[project],
                'region_id': 'RegionOne', 'resource_name': name,
                'resource_limit': value}]})['limits'][0]['id']

    def reset(self):
        for limit_id in self.project_limits.values():
            self.keystone._admin('DELETE', '/limits/%s' % limit_id)
        self.project_limits = {}
        for name in RESOURCES:
            self.default(name, 1000)

    def overrides(self):
        admin = self.keystone.users['admin']
        return {
            'use_keystone_limits': True,
            'oslo_limit.endpoint_id': self.endpoint_id,
            'oslo_limit.auth_type': 'password',
            'oslo_limit.auth_url': self.keystone.url + '/v3',
            'oslo_limit.username': admin['name'],
            'oslo_limit.password': admin['password'],
            'oslo_limit.user_domain_id': 'default',
            'oslo_limit.system_scope': 'all',
        }

    def close(self):
        for limit_id in self.project_limits.values():
            self.keystone._admin('DELETE', '/limits/%s' % limit_id)
        for limit_id in self.registered.values():
            self.keystone._admin('DELETE', '/registered_limits/%s' % limit_id)
        self.keystone._admin('DELETE', '/endpoints/%s' % self.endpoint_id)
        self.keystone._admin('DELETE', '/services/%s' % self.service_id)


@pytest.fixture(scope='module')
def limits(keystone):
    limits = Limits(keystone)
    yield limits
    limits.close()


@pytest.fixture
def api(keystone, limits, fresh_db, tmp_path):
    limits.reset()
    proc = ks.start_service(keystone, str(tmp_path), fresh_db,
                            limits.overrides())
    yield proc
    proc.stop()


def alpha(keystone, api):
    return keystone.client(api.url, 'alpha-member')


def new_image(client):
    resp = client.post('/v2/images', json={'disk_format': 'raw',
                                           'container_format': 'bare'})
    assert resp.status_code == 201, resp.text
    return resp.json()['id']


def upload(client, image_id, size):
    return client.put('/v2/images/%s/file' % image_id, data=b'u' * size,
                      headers=OCTET)


def stage(client, image_id, size):
    return client.put('/v2/images/%s/stage' % image_id, data=b's' * size,
                      headers=OCTET)


def over(resp, resource, limit, usage, delta):
    assert resp.status_code == 413, resp.text
    text = resp.text
    assert 'a quota threshold was breached' in text
    assert ('Resource %s is over limit of %d due to current usage %d and '
            'delta %d' % (resource, limit, usage, delta)) in text


def status(client, image_id):
    return client.get('/v2/images/%s' % image_id).json()['status']


def test_image_count_total(keystone, limits, api):
    limits.set('alpha', 'image_count_total', 2)
    client = alpha(keystone, api)
    new_image(client)
    new_image(client)
    over(client.post('/v2/images', json={}), 'image_count_total', 2, 2, 1)
    assert len(client.get('/v2/images').json()['images']) == 2
    # Another project has the registered default.
    beta = keystone.client(api.url, 'beta-member')
    for _ in range(3):
        new_image(beta)


def test_image_size_total_in_whole_mib(keystone, limits, api):
    limits.set('alpha', 'image_size_total', 2)
    client = alpha(keystone, api)
    first, second, third = (new_image(client) for _ in range(3))
    assert upload(client, first, 2 * MiB).status_code == 204
    assert upload(client, second, MiB - 1).status_code == 204
    over(upload(client, third, MiB), 'image_size_total', 2, 2, 1)
    assert status(client, third) == 'queued'
    # An import is refused at once when the project is already over.
    limits.set('alpha', 'image_size_total', 1)
    resp = client.post('/v2/images/%s/import' % third,
                       json={'method': {'name': 'glance-direct'}})
    over(resp, 'image_size_total', 1, 2, 0)


def test_image_stage_total(keystone, limits, api):
    limits.set('alpha', 'image_stage_total', 1)
    client = alpha(keystone, api)
    first, second = new_image(client), new_image(client)
    assert stage(client, first, MiB).status_code == 204
    over(stage(client, second, MiB), 'image_stage_total', 1, 1, 1)
    assert status(client, second) == 'queued'
    # Under a MiB counts nothing.
    assert stage(client, second, MiB - 1).status_code == 204


def test_image_count_uploading(keystone, limits, api):
    limits.set('alpha', 'image_count_uploading', 1)
    client = alpha(keystone, api)
    first, second = new_image(client), new_image(client)
    assert stage(client, first, 100).status_code == 204
    # The second would be the second image in upload.
    over(stage(client, second, 100), 'image_count_uploading', 1, 2, 0)
    assert status(client, second) == 'queued'
    over(upload(client, second, 100), 'image_count_uploading', 1, 2, 0)
    assert status(client, second) == 'queued'
    # Once the first is imported the second may go.
    resp = client.post('/v2/images/%s/import' % first,
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text
    iu.wait_status(client, first, 'active')
    assert upload(client, second, 100).status_code == 204


def test_glance_direct_import_checks_the_staged_size(keystone, limits, api):
    client = alpha(keystone, api)
    image_id = new_image(client)
    assert stage(client, image_id, 2 * MiB).status_code == 204
    limits.set('alpha', 'image_size_total', 1)
    resp = client.post('/v2/images/%s/import' % image_id,
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, image_id)
    assert task['status'] == 'failure'
    assert ('Resource image_size_total is over limit of 1 due to current '
            'usage 0 and delta 2') in task['message']
    image = client.get('/v2/images/%s' % image_id).json()
    assert image['status'] == 'queued'
    assert image['os_glance_importing_to_stores'] == ''
    # With room for it, the same image imports.
    limits.set('alpha', 'image_size_total', 2)
    assert stage(client, image_id, 2 * MiB).status_code == 204
    resp = client.post('/v2/images/%s/import' % image_id,
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text
    assert iu.wait_task(client, image_id)['status'] == 'success'


def test_usage_reports_limits_and_usage(keystone, limits, api):
    limits.default('image_count_total', 7)
    limits.set('alpha', 'image_size_total', 5)
    client = alpha(keystone, api)
    image_id = new_image(client)
    assert upload(client, image_id, 3 * MiB + 5).status_code == 204
    staged = new_image(client)
    assert stage(client, staged, 2 * MiB).status_code == 204
    resp = client.get('/v2/info/usage')
    assert resp.status_code == 200, resp.text
    assert resp.json() == {'usage': {
        'image_size_total': {'limit': 5, 'usage': 3},
        'image_stage_total': {'limit': 1000, 'usage': 2},
        'image_count_total': {'limit': 7, 'usage': 2},
        'image_count_uploading': {'limit': 1000, 'usage': 1},
    }}


def test_usage_is_empty_without_keystone_limits(client):
    resp = client.get('/v2/info/usage')
    assert resp.status_code == 200, resp.text
    assert resp.json() == {'usage': {}}

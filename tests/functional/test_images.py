"""POST /v2/images, GET and DELETE /v2/images/{id}: fields and errors."""

import os
import re
import uuid

import pytest

from tests import fixtures
from tests.functional import imageutil
from tests.functional import importutil
from tests.functional.imageutil import create
from tests.functional.imageutil import message

BASE_FIELDS = {
    'id', 'name', 'status', 'visibility', 'protected', 'os_hidden',
    'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size',
    'disk_format', 'container_format', 'min_disk', 'min_ram', 'owner',
    'created_at', 'updated_at', 'tags', 'self', 'file', 'schema'}
TIME_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


def test_create_defaults_and_headers(client, service):
    resp = client.post('/v2/images', json={})
    assert resp.status_code == 201
    image = resp.json()
    assert set(image) == BASE_FIELDS
    assert image['status'] == 'queued'
    assert image['visibility'] == 'shared'
    assert image['protected'] is False and image['os_hidden'] is False
    for key in ('name', 'checksum', 'os_hash_algo', 'os_hash_value', 'size',
                'virtual_size', 'disk_format', 'container_format'):
        assert image[key] is None, key
    assert image['min_disk'] == 0 and image['min_ram'] == 0
    assert image['owner'] == 'admin'
    assert image['tags'] == []
    assert TIME_RE.match(image['created_at'])
    assert TIME_RE.match(image['updated_at'])
    assert image['self'] == '/v2/images/%s' % image['id']
    assert image['file'] == '/v2/images/%s/file' % image['id']
    assert image['schema'] == '/v2/schemas/image'
    assert resp.headers['Location'] == '%s/v2/images/%s' % (service.url,
                                                            image['id'])
    assert resp.headers['OpenStack-image-import-methods'] == \
        'glance-direct,web-download,copy-image'
    assert 'OpenStack-image-store-ids' not in resp.headers
    assert client.get(image['self']).json() == image


def test_create_with_everything(client):
    image_id = str(uuid.uuid4())
    image = create(client, id=image_id, name='full', disk_format='qcow2',
                   container_format='bare', min_disk=2, min_ram=512,
                   protected=True, os_hidden=True, visibility='private',
                   tags=['a', 'b', 'a'], os_distro='debian',
                   description='x' * 3000)
    assert image['id'] == image_id
    assert image['os_distro'] == 'debian'
    assert image['description'] == 'x' * 3000
    assert sorted(image['tags']) == ['a', 'b']
    assert (image['min_disk'], image['min_ram']) == (2, 512)
    assert image['protected'] is True and image['os_hidden'] is True
    shown = client.get('/v2/images/%s' % image_id).json()
    assert shown == image


def test_import_methods_header_absent_when_import_disabled(service_factory):
    svc = service_factory({'enable_image_import': False})
    resp = fixtures.Client(svc.url).post('/v2/images', json={})
    assert resp.status_code == 201
    assert 'OpenStack-image-import-methods' not in resp.headers


def test_import_methods_header_absent_when_no_methods(service_factory):
    svc = service_factory({'enabled_import_methods': ''})
    resp = fixtures.Client(svc.url).post('/v2/images', json={})
    assert resp.status_code == 201
    assert 'OpenStack-image-import-methods' not in resp.headers


def test_duplicate_id_is_conflict_even_after_delete(client):
    image = create(client)
    resp = client.post('/v2/images', json={'id': image['id']})
    assert resp.status_code == 409
    assert 'already exists' in message(resp)
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    resp = client.post('/v2/images', json={'id': image['id']})
    assert resp.status_code == 409


@pytest.mark.parametrize('key', [
    'status', 'checksum', 'size', 'virtual_size', 'created_at',
    'updated_at', 'os_hash_algo', 'os_hash_value', 'self', 'file', 'schema',
    'direct_url', 'stores'])
def test_create_read_only_attribute(client, key):
    resp = client.post('/v2/images', json={key: 'queued', 'name': key})
    assert resp.status_code == 403
    assert "Attribute '%s' is read-only." % key in message(resp)
    listed = client.get('/v2/images', params={'name': key}).json()['images']
    assert listed == []


@pytest.mark.parametrize('key', ['os_glance_import_task', 'os_glance_x',
                                 'location', 'deleted', 'deleted_at',
                                 'locations'])
def test_create_reserved_attribute(client, key):
    value = [] if key == 'locations' else 'v'
    resp = client.post('/v2/images', json={key: value, 'name': key})
    assert resp.status_code == 403
    assert "Attribute '%s' is reserved." % key in message(resp)
    assert client.get('/v2/images',
                      params={'name': key}).json()['images'] == []


@pytest.mark.parametrize('body, text', [
    ({'disk_format': 'floppy'}, "'floppy' is not one of"),
    ({'container_format': 'tarball'}, "'tarball' is not one of"),
    ({'visibility': 'everyone'}, "'everyone' is not one of"),
    ({'name': 'n' * 256}, 'is too long'),
    ({'id': 'not-a-uuid'}, 'does not match'),
    ({'min_disk': '1'}, "'1' is not of type 'integer'"),
    ({'protected': 'yes'}, "'yes' is not of type 'boolean'"),
    ({'os_hidden': 1}, "1 is not of type 'boolean'"),
    ({'tags': 'a,b'}, "'a,b' is not of type 'array'"),
    ({'tags': ['t' * 256]}, 'is too long'),
    ({'custom': 5}, "5 is not of type 'string'"),
    ({'custom': None}, "None is not of type 'string'"),
    ({'owner': 'o' * 256}, 'is too long'),
])
def test_create_schema_violations(client, body, text):
    resp = client.post('/v2/images', json=body)
    assert resp.status_code == 400, resp.text
    assert "Provided object does not match schema 'image'" in message(resp)
    assert text in message(resp)


@pytest.mark.parametrize('body, text', [
    ({'min_disk': -1}, 'Cannot set min_disk to a negative value.'),
    ({'min_ram': -5}, 'Cannot set min_ram to a negative value.'),
    ({'min_ram': 2 ** 31}, 'min_ram must be at most 2147483647.'),
    ({'k' * 256: 'v'}, 'Property key is too long'),
    ({'name': 'a\x00b'}, 'must not contain NUL characters'),
])
def test_create_invalid_values(client, body, text):
    resp = client.post('/v2/images', json=body)
    assert resp.status_code == 400
    assert text in message(resp)


@pytest.mark.parametrize('data, text', [
    (b'', 'Body expected in request.'),
    (b'{"name": ', 'Malformed JSON in request body.'),
    (b'[{}]', 'Request body must be an object.'),
    (b'"name"', 'Request body must be an object.'),
])
def test_create_bad_bodies(client, data, text):
    resp = client.post('/v2/images', data=data,
                       headers={'Content-Type': 'application/json'})
    assert resp.status_code == 400
    assert text in message(resp)


def test_owner_rules(client):
    project = imageutil.project()
    user = client.as_caller(project)
    resp = user.post('/v2/images', json={'owner': 'someone-else'})
    assert resp.status_code == 403
    assert ("You are not permitted to create images owned by "
            "'someone-else'.") in message(resp)
    assert create(user, owner=project)['owner'] == project
    assert create(user)['owner'] == project
    # Admins may create images for any project.
    assert create(client, owner=project)['owner'] == project


def test_reader_cannot_create(client):
    reader = client.as_caller(imageutil.project(), roles='reader')
    resp = reader.post('/v2/images', json={})
    assert resp.status_code == 403
    assert 'add_image' in message(resp)


def test_visibility_policies_on_create(client):
    user = client.as_caller(imageutil.project())
    resp = user.post('/v2/images', json={'visibility': 'public'})
    assert resp.status_code == 403
    assert 'publicize_image' in message(resp)
    assert create(user, visibility='community')['visibility'] == 'community'
    assert create(user, visibility='private')['visibility'] == 'private'
    assert create(client, visibility='public')['visibility'] == 'public'


def test_property_and_tag_quotas(service_factory):
    svc = service_factory({'image_property_quota': 2, 'image_tag_quota': 2})
    client = fixtures.Client(svc.url)
    assert create(client, a='1', b='2')['a'] == '1'
    resp = client.post('/v2/images', json={'a': '1', 'b': '2', 'c': '3'})
    assert resp.status_code == 413
    assert 'Maximum number of image properties exceeded' in message(resp)
    resp = client.post('/v2/images', json={'tags': ['1', '2', '3']})
    assert resp.status_code == 413
    assert 'Maximum number of image tags exceeded' in message(resp)
    assert client.get('/v2/images').json()['images'] != []
    assert len(client.get('/v2/images').json()['images']) == 1


def test_show_unknown_and_malformed_ids(client):
    for image_id in (str(uuid.uuid4()), 'x' * 37, 'not-an-id', 'é'):
        resp = client.get('/v2/images/%s' % image_id)
        assert resp.status_code == 404
        assert 'No image found with ID' in message(resp)


def test_body_refused_on_show_and_delete(client):
    image = create(client)
    for method in ('GET', 'DELETE'):
        resp = client.request(method, '/v2/images/%s' % image['id'],
                              data=b'{}')
        assert resp.status_code == 400
        assert 'A body is not expected with this request.' in message(resp)


def test_visibility_of_single_images(client):
    owner = client.as_caller(imageutil.project())
    other = client.as_caller(imageutil.project())
    private = create(owner, visibility='private')
    shared = create(owner, visibility='shared')
    community = create(owner, visibility='community')
    public = create(client, visibility='public')
    for image in (private, shared):
        path = '/v2/images/%s' % image['id']
        assert other.get(path).status_code == 404
        resp = imageutil.patch(other, image['id'], [
            {'op': 'replace', 'path': '/name', 'value': 'x'}])
        assert resp.status_code == 404
        assert other.delete(path).status_code == 404
    for image in (community, public):
        path = '/v2/images/%s' % image['id']
        assert other.get(path).status_code == 200
        resp = imageutil.patch(other, image['id'], [
            {'op': 'replace', 'path': '/name', 'value': 'x'}])
        assert resp.status_code == 403
        assert 'modify_image' in message(resp)
        resp = other.delete(path)
        assert resp.status_code == 403
        assert 'delete_image' in message(resp)


def test_delete(client):
    image = create(client, name='doomed', tags=['t'], p='v')
    path = '/v2/images/%s' % image['id']
    resp = client.delete(path)
    assert resp.status_code == 204
    assert resp.text == ''
    assert client.get(path).status_code == 404
    assert client.delete(path).status_code == 404
    assert client.get('/v2/images', params={'name': 'doomed'}).json()[
        'images'] == []


def test_delete_protected_is_forbidden(client):
    image = create(client, protected=True)
    path = '/v2/images/%s' % image['id']
    resp = client.delete(path)
    assert resp.status_code == 403
    assert 'is protected and cannot be deleted' in message(resp)
    resp = imageutil.patch(client, image['id'], [
        {'op': 'replace', 'path': '/protected', 'value': False}])
    assert resp.status_code == 200
    assert client.delete(path).status_code == 204


def test_delete_removes_stored_data(client, service):
    image = imageutil.active_image(client, data=b'stored bytes')
    store_dir = service.conf.glance_store.filesystem_store_datadir
    assert os.listdir(store_dir) != []
    stored = [name for name in os.listdir(store_dir)
              if name.startswith(image['id'])]
    assert stored
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert [name for name in os.listdir(store_dir)
            if name.startswith(image['id'])] == []


def test_delete_removes_staged_data(client, service):
    image = create(client, disk_format='raw', container_format='bare')
    resp = client.put('/v2/images/%s/stage' % image['id'], data=b'staged',
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    from glance_import.store import staging
    path = staging.path(service.conf, image['id'])
    assert os.path.exists(path)
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert not os.path.exists(path)


def test_multi_store_header_and_stores_field(service_factory, tmp_path):
    svc = service_factory({
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
    })
    client = fixtures.Client(svc.url)
    resp = client.post('/v2/images', json={'disk_format': 'raw',
                                           'container_format': 'bare'})
    assert resp.status_code == 201
    assert sorted(resp.headers['OpenStack-image-store-ids'].split(',')) == [
        'fast', 'slow']
    image = resp.json()
    assert 'stores' not in image
    resp = imageutil.upload(client, image['id'], b'multi')
    assert resp.status_code == 204, resp.text
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['stores'] == 'fast'
    listed = client.get('/v2/images', params={'id': image['id']}).json()
    assert listed['images'][0]['stores'] == 'fast'


def test_single_store_has_no_stores_field(client):
    image = imageutil.active_image(client)
    assert 'stores' not in image


@pytest.mark.parametrize('web_weight, expect_web', [(0, False),
                                                    (100, True)])
def test_direct_url_prefers_the_heaviest_store(service_factory, tmp_path,
                                               web_weight, expect_web):
    with importutil.http_source({'/weights': b'weights'}) as source:
        _direct_url_prefers_the_heaviest_store(
            service_factory, tmp_path, web_weight, expect_web, source)


def _direct_url_prefers_the_heaviest_store(service_factory, tmp_path,
                                           web_weight, expect_web, source):
    svc = service_factory({
        'enabled_backends': 'fast:file,web:http',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'web.weight': web_weight,
        'show_image_direct_url': True,
        'show_multiple_locations': True,
        'import_filtering_opts.allowed_hosts': ['127.0.0.1'],
        'import_filtering_opts.allowed_ports': [source.port],
    })
    client = fixtures.Client(svc.url)
    image = imageutil.active_image(client, data=b'weights')
    assert image['direct_url'].startswith('file://')
    web_url = source.url + '/weights'
    resp = imageutil.patch(client, image['id'], [
        {'op': 'add', 'path': '/locations/-',
         'value': {'url': web_url, 'metadata': {'store': 'web'}}}])
    assert resp.status_code == 200, resp.text
    assert resp.json()['stores'] == 'fast,web'
    assert (resp.json()['direct_url'] == web_url) is expect_web

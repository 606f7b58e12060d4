"""PATCH /v2/images/{id}: both JSON-patch media types and every refusal."""

import pytest

from tests import fixtures
from tests.functional import imageutil
from tests.functional.imageutil import PATCH_V20
from tests.functional.imageutil import PATCH_V21
from tests.functional.imageutil import create
from tests.functional.imageutil import message
from tests.functional.imageutil import patch

HTTP_URL = 'http://127.0.0.1:9/images/%s'


@pytest.fixture
def image(client):
    return create(client, name='orig', disk_format='raw',
                  container_format='bare', color='red')


def test_replace_add_remove_v21(client, image):
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'renamed'},
        {'op': 'add', 'path': '/size_hint', 'value': 'big'},
        {'op': 'replace', 'path': '/color', 'value': 'blue'},
        {'op': 'replace', 'path': '/min_ram', 'value': 1024},
        {'op': 'replace', 'path': '/protected', 'value': True},
        {'op': 'replace', 'path': '/os_hidden', 'value': True},
        {'op': 'replace', 'path': '/tags', 'value': ['x', 'y', 'x']},
        {'op': 'replace', 'path': '/disk_format', 'value': 'qcow2'},
    ])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body['name'] == 'renamed'
    assert body['size_hint'] == 'big'
    assert body['color'] == 'blue'
    assert body['min_ram'] == 1024
    assert body['protected'] is True and body['os_hidden'] is True
    assert sorted(body['tags']) == ['x', 'y']
    assert body['disk_format'] == 'qcow2'
    assert client.get('/v2/images/%s' % image['id']).json() == body
    resp = patch(client, image['id'], [
        {'op': 'remove', 'path': '/color'},
        {'op': 'add', 'path': '/size_hint', 'value': 'small'}])
    assert resp.status_code == 200
    assert 'color' not in resp.json()
    assert resp.json()['size_hint'] == 'small'


def test_v20_media_type(client, image):
    resp = patch(client, image['id'], [
        {'replace': '/name', 'value': 'v20'},
        {'add': '/flavor', 'value': 'm1'},
    ], PATCH_V20)
    assert resp.status_code == 200, resp.text
    assert resp.json()['name'] == 'v20'
    resp = patch(client, image['id'], [{'add': '/flavor', 'value': 'x'}],
                 PATCH_V20)
    assert resp.status_code == 409
    assert 'Property flavor already present.' in message(resp)
    resp = patch(client, image['id'], [{'remove': '/flavor'}], PATCH_V20)
    assert resp.status_code == 200
    assert 'flavor' not in resp.json()
    resp = patch(client, image['id'], [
        {'remove': '/flavor', 'add': '/flavor', 'value': 'x'}], PATCH_V20)
    assert resp.status_code == 400
    assert 'exactly one member' in message(resp)


@pytest.mark.parametrize('content_type', [
    'application/json', 'application/json-patch+json', None])
def test_unsupported_media_type(client, image, content_type):
    headers = {'Content-Type': content_type} if content_type else {}
    resp = client.patch('/v2/images/%s' % image['id'], headers=headers,
                        data=b'[]')
    assert resp.status_code == 415
    assert resp.headers['Accept-Patch'] == (
        'application/openstack-images-v2.0-json-patch, '
        'application/openstack-images-v2.1-json-patch')


@pytest.mark.parametrize('ops, text', [
    ({'op': 'replace'}, 'must be a JSON array of operation objects'),
    ('name', 'must be a JSON array of operation objects'),
    (['name'], 'Operations must be JSON objects.'),
    ([{'path': '/name', 'value': 'x'}], 'Unable to find `op`'),
    ([{'op': 'move', 'path': '/name', 'value': 'x'}], 'Unable to find `op`'),
    ([{'op': 'replace', 'value': 'x'}], "Unable to find '`path`'"),
    ([{'op': 'replace', 'path': '/name'}], 'requires a member named'),
    ([{'op': 'replace', 'path': 'name', 'value': 'x'}],
     'does not start with "/"'),
    ([{'op': 'replace', 'path': '/name/', 'value': 'x'}], 'end with "/"'),
    ([{'op': 'replace', 'path': '//name', 'value': 'x'}], 'adjacent "/"'),
    ([{'op': 'replace', 'path': '/na~2me', 'value': 'x'}],
     'not part of a recognized escape'),
    ([{'op': 'replace', 'path': '/', 'value': 'x'}],
     'does not contain a valid token'),
    ([{'op': 'replace', 'path': '/name/first', 'value': 'x'}],
     'Invalid JSON pointer'),
    ([{'op': 'add', 'path': '/locations', 'value': {}}],
     'Invalid JSON pointer'),
    ([{'op': 'replace', 'path': 5, 'value': 'x'}], 'must be a string'),
    ([{'op': 'replace', 'path': '/disk_format', 'value': 'floppy'}],
     "'floppy' is not one of"),
    ([{'op': 'replace', 'path': '/name', 'value': 'n' * 256}],
     'is too long'),
    ([{'op': 'replace', 'path': '/min_disk', 'value': -1}],
     'Cannot set min_disk to a negative value.'),
    ([{'op': 'replace', 'path': '/min_disk', 'value': 2 ** 31}],
     'min_disk must be at most'),
    ([{'op': 'replace', 'path': '/min_ram', 'value': 'lots'}],
     "is not of type 'integer'"),
    ([{'op': 'add', 'path': '/color', 'value': 3}],
     "3 is not of type 'string'"),
    ([{'op': 'add', 'path': '/visibility', 'value': 'all'}],
     "'all' is not one of"),
    ([{'op': 'add', 'path': '/' + 'k' * 256, 'value': 'v'}],
     'Property key is too long'),
    ([{'op': 'add', 'path': '/color', 'value': 'a\x00'}],
     'must not contain NUL characters'),
])
def test_bad_documents(client, image, ops, text):
    resp = patch(client, image['id'], ops)
    assert resp.status_code == 400, resp.text
    assert text in message(resp)
    assert client.get('/v2/images/%s' % image['id']).json() == image


@pytest.mark.parametrize('path', [
    'status', 'id', 'checksum', 'size', 'virtual_size', 'created_at',
    'updated_at', 'os_hash_algo', 'os_hash_value', 'self', 'file', 'schema',
    'direct_url', 'stores'])
@pytest.mark.parametrize('op', ['add', 'replace', 'remove'])
def test_read_only_paths(client, image, path, op):
    item = {'op': op, 'path': '/' + path}
    if op != 'remove':
        item['value'] = 'x'
    resp = patch(client, image['id'], [item])
    assert resp.status_code == 403
    assert "Attribute '%s' is read-only." % path in message(resp)


@pytest.mark.parametrize('path', ['os_glance_import_task', 'os_glance_foo',
                                  'location', 'deleted', 'deleted_at'])
def test_reserved_paths(client, image, path):
    resp = patch(client, image['id'], [
        {'op': 'add', 'path': '/' + path, 'value': 'x'}])
    assert resp.status_code == 403
    assert "Attribute '%s' is reserved." % path in message(resp)


def test_custom_property_rules(client, image):
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/missing', 'value': 'x'}])
    assert resp.status_code == 409
    assert 'Property missing does not exist.' in message(resp)
    resp = patch(client, image['id'], [{'op': 'remove', 'path': '/missing'}])
    assert resp.status_code == 409
    assert 'Property missing does not exist.' in message(resp)
    # One failing operation aborts the whole document.
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'changed'},
        {'op': 'remove', 'path': '/missing'}])
    assert resp.status_code == 409
    assert client.get('/v2/images/%s' % image['id']).json()['name'] == 'orig'
    # Escaped pointers address keys with '/' and '~'.
    resp = patch(client, image['id'], [
        {'op': 'add', 'path': '/a~1b~0c', 'value': 'v'}])
    assert resp.status_code == 200
    assert resp.json()['a/b~c'] == 'v'


@pytest.mark.parametrize('attr', ['name', 'visibility', 'tags', 'min_ram',
                                  'protected', 'owner', 'disk_format'])
def test_base_attributes_cannot_be_removed(client, image, attr):
    resp = patch(client, image['id'], [{'op': 'remove', 'path': '/' + attr}])
    assert resp.status_code == 403
    assert 'Property %s may not be removed.' % attr in message(resp)


def test_owner_only_changed_by_admin(client):
    project = imageutil.project()
    user = client.as_caller(project)
    image = create(user)
    resp = patch(user, image['id'], [
        {'op': 'replace', 'path': '/owner', 'value': 'other'}])
    assert resp.status_code == 403
    assert "Owner can't be updated by non admin." in message(resp)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/owner', 'value': 'other'}])
    assert resp.status_code == 200
    assert resp.json()['owner'] == 'other'


def test_visibility_policies(client):
    user = client.as_caller(imageutil.project())
    image = create(user, visibility='private')
    resp = patch(user, image['id'], [
        {'op': 'replace', 'path': '/visibility', 'value': 'public'}])
    assert resp.status_code == 403
    assert 'publicize_image' in message(resp)
    for visibility in ('community', 'shared', 'private'):
        resp = patch(user, image['id'], [
            {'op': 'replace', 'path': '/visibility', 'value': visibility}])
        assert resp.status_code == 200
        assert resp.json()['visibility'] == visibility
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/visibility', 'value': 'public'}])
    assert resp.json()['visibility'] == 'public'


def test_reader_cannot_patch(client):
    project = imageutil.project()
    image = create(client.as_caller(project))
    reader = client.as_caller(project, roles='reader')
    resp = patch(reader, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'x'}])
    assert resp.status_code == 403
    assert 'modify_image' in message(resp)


def test_quotas(service_factory):
    svc = service_factory({'image_property_quota': 2, 'image_tag_quota': 1})
    client = fixtures.Client(svc.url)
    image = create(client, a='1')
    resp = patch(client, image['id'], [
        {'op': 'add', 'path': '/b', 'value': '2'},
        {'op': 'add', 'path': '/c', 'value': '3'}])
    assert resp.status_code == 413
    assert 'Maximum number of image properties exceeded' in message(resp)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/tags', 'value': ['1', '2']}])
    assert resp.status_code == 413
    assert 'Maximum number of image tags exceeded' in message(resp)


def test_formats_only_change_while_queued(client):
    image = imageutil.active_image(client)
    for attr, value in (('disk_format', 'qcow2'),
                        ('container_format', 'ovf')):
        resp = patch(client, image['id'], [
            {'op': 'replace', 'path': '/' + attr, 'value': value}])
        assert resp.status_code == 403
        assert ('Attribute %s can be only replaced for a queued image.'
                % attr) in message(resp)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'still fine'}])
    assert resp.status_code == 200


@pytest.mark.parametrize('op, verb', [('add', 'add'), ('replace', 'update'),
                                      ('remove', 'remove')])
def test_locations_hidden_by_default(client, image, op, verb):
    path = '/locations' if op == 'replace' else '/locations/0'
    item = {'op': op, 'path': path}
    if op == 'add':
        item['value'] = {'url': HTTP_URL % 'x', 'metadata': {}}
    elif op == 'replace':
        item['value'] = []
    resp = patch(client, image['id'], [item])
    assert resp.status_code == 403
    assert ("It's not allowed to %s locations if locations are invisible."
            % verb) in message(resp)
    assert 'locations' not in client.get(
        '/v2/images/%s' % image['id']).json()


def test_patch_unknown_image(client):
    resp = patch(client, '6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c', [
        {'op': 'replace', 'path': '/name', 'value': 'x'}])
    assert resp.status_code == 404


def test_v21_add_overwrites_existing_property(client, image):
    resp = patch(client, image['id'], [
        {'op': 'add', 'path': '/color', 'value': 'green'}], PATCH_V21)
    assert resp.status_code == 200
    assert resp.json()['color'] == 'green'

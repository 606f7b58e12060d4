"""GET /v2/schemas/*: shapes clients build their models from."""

import json
import os

import jsonschema
import pytest

from glance_import import exception
from tests import fixtures
from tests.functional.imageutil import create

SCHEMAS = ['image', 'images', 'member', 'members', 'task', 'tasks']


@pytest.mark.parametrize('name', SCHEMAS)
def test_schema_documents(client, name):
    resp = client.get('/v2/schemas/%s' % name)
    assert resp.status_code == 200
    assert resp.headers['Content-Type'] == 'application/json'
    schema = resp.json()
    assert schema['name'] == name
    jsonschema.Draft4Validator.check_schema(schema)
    if name.endswith('s'):
        item = name[:-1]
        assert set(schema['properties']) == {name, 'first', 'next', 'schema'}
        assert [link['rel'] for link in schema['links']] == [
            'first', 'next', 'describedby']
        assert schema['properties'][name]['items']['name'] == item


@pytest.mark.parametrize('name', SCHEMAS)
def test_schemas_are_read_only(client, name):
    for method in ('POST', 'PUT', 'DELETE', 'PATCH'):
        resp = client.request(method, '/v2/schemas/%s' % name)
        assert resp.status_code == 405
        assert resp.headers['Allow'] == 'GET'


def test_image_schema_shape(client):
    schema = client.get('/v2/schemas/image').json()
    assert schema['additionalProperties'] == {'type': 'string'}
    assert [link['rel'] for link in schema['links']] == [
        'self', 'enclosure', 'describedby']
    props = schema['properties']
    assert set(props) >= {
        'id', 'name', 'status', 'visibility', 'protected', 'os_hidden',
        'checksum', 'os_hash_algo', 'os_hash_value', 'owner', 'size',
        'virtual_size', 'container_format', 'disk_format', 'created_at',
        'updated_at', 'tags', 'direct_url', 'locations', 'self', 'file',
        'schema', 'min_disk', 'min_ram', 'stores'}
    assert props['visibility']['enum'] == [
        'community', 'public', 'private', 'shared']
    assert None in props['disk_format']['enum']
    assert 'qcow2' in props['disk_format']['enum']
    for key in ('status', 'checksum', 'size', 'self', 'file', 'schema',
                'created_at', 'updated_at', 'direct_url', 'stores'):
        assert props[key]['readOnly'] is True, key


def test_formats_follow_configuration(service_factory):
    svc = service_factory({'image_format.disk_formats': 'raw,qcow2',
                           'image_format.container_formats': 'bare'})
    client = fixtures.Client(svc.url)
    props = client.get('/v2/schemas/image').json()['properties']
    assert props['disk_format']['enum'] == [None, 'raw', 'qcow2']
    assert props['container_format']['enum'] == [None, 'bare']
    assert client.post('/v2/images',
                       json={'disk_format': 'vmdk'}).status_code == 400


def test_responses_validate_against_schemas(client):
    image = create(client, name='valid', disk_format='raw',
                   container_format='bare', tags=['t'], extra='yes')
    image_schema = client.get('/v2/schemas/image').json()
    jsonschema.validate(image, image_schema)
    listing = client.get('/v2/images').json()
    jsonschema.validate(listing, client.get('/v2/schemas/images').json())
    member = client.post('/v2/images/%s/members' % image['id'],
                         json={'member': 'friend'}).json()
    jsonschema.validate(member, client.get('/v2/schemas/member').json())
    members = client.get('/v2/images/%s/members' % image['id']).json()
    jsonschema.validate(members, client.get('/v2/schemas/members').json())


# Custom properties: schema-image.json ---------------------------------------

SHIPPED = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                       'schema-image.json')
UUID = '0b5d6a6e-59fe-4a2f-8a4a-5d1fb0bb8a0e'


def _with_schema_file(service_factory, tmp_path, text):
    directory = tmp_path / 'api'
    directory.mkdir(exist_ok=True)
    (directory / 'schema-image.json').write_text(text)
    return fixtures.Client(service_factory().url)


def test_shipped_custom_properties_are_served_and_enforced(
        service_factory, tmp_path):
    with open(SHIPPED) as f:
        client = _with_schema_file(service_factory, tmp_path, f.read())
    schema = client.get('/v2/schemas/image').json()
    for name in ('kernel_id', 'ramdisk_id', 'os_distro', 'architecture',
                 'cinder_encryption_key_deletion_policy'):
        assert name in schema['properties'], name
    assert 'required' not in schema

    body = {'disk_format': 'raw', 'container_format': 'bare'}
    resp = client.post('/v2/images', json=dict(body, kernel_id='nope'))
    assert resp.status_code == 400
    assert 'kernel_id' in resp.text or 'nope' in resp.text
    resp = client.post('/v2/images', json=dict(
        body, cinder_encryption_key_deletion_policy='sometimes'))
    assert resp.status_code == 400
    image = create(client, kernel_id=UUID, os_distro='debian', **body)
    assert image['kernel_id'] == UUID
    # PATCH values are held to the same schema.
    patch = {'Content-Type': 'application/openstack-images-v2.1-json-patch'}
    resp = client.patch('/v2/images/%s' % image['id'], headers=patch, json=[
        {'op': 'add', 'path': '/ramdisk_id', 'value': 'nope'}])
    assert resp.status_code == 400
    resp = client.patch('/v2/images/%s' % image['id'], headers=patch, json=[
        {'op': 'add', 'path': '/ramdisk_id', 'value': UUID}])
    assert resp.status_code == 200, resp.text
    assert resp.json()['ramdisk_id'] == UUID


def test_required_custom_properties_apply_to_new_images(service_factory,
                                                       tmp_path):
    client = _with_schema_file(service_factory, tmp_path, json.dumps({
        'properties': {'cost_center': {'type': 'string',
                                       'pattern': '^cc-[0-9]+$'}},
        'required': ['cost_center', 'disk_format'],
    }))
    schema = client.get('/v2/schemas/image').json()
    assert schema['required'] == ['cost_center', 'disk_format']
    body = {'disk_format': 'raw', 'container_format': 'bare'}
    assert client.post('/v2/images', json=body).status_code == 400
    assert client.post('/v2/images', json=dict(
        body, cost_center='x')).status_code == 400
    image = create(client, cost_center='cc-42', **body)
    # Updates name one attribute; the others are not asked for again.
    patch = {'Content-Type': 'application/openstack-images-v2.1-json-patch'}
    resp = client.patch('/v2/images/%s' % image['id'], headers=patch, json=[
        {'op': 'replace', 'path': '/name', 'value': 'renamed'}])
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize('text,reason', [
    ('{"name": {"type": "string"}}', 'already defined'),
    ('{"x": {"type": "no-such-type"}}', 'property x'),
    ('{"x": "string"}', 'property x'),
    ('[1, 2]', 'JSON object'),
    ('{not json', 'schema-image.json'),
    ('{"properties": {}, "required": ["ghost"]}', 'ghost'),
])
def test_bad_custom_properties_stop_the_service(service_factory, tmp_path,
                                                text, reason):
    with pytest.raises(exception.InvalidConfiguration) as info:
        _with_schema_file(service_factory, tmp_path, text)
    assert reason in info.value.msg
    assert 'schema-image.json' in info.value.msg

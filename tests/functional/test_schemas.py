"""GET /v2/schemas/*: shapes clients build their models from."""

import jsonschema
import pytest

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

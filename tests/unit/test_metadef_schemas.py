"""GET /v2/schemas/metadefs/*: the documents Horizon and the clients read."""

import json

import jsonschema
import pytest

from glance_import.api import metadef_schemas

# schema path -> (function, document name, collection member or None).
SCHEMAS = {
    'namespace': (metadef_schemas.namespace_schema, 'namespace', None),
    'namespaces': (metadef_schemas.namespaces_schema, 'namespaces',
                   'namespaces'),
    'object': (metadef_schemas.object_schema, 'object', None),
    'objects': (metadef_schemas.objects_schema, 'objects', 'objects'),
    'property': (metadef_schemas.property_schema, 'property', None),
    'properties': (metadef_schemas.properties_schema, 'properties',
                   'properties'),
    'tag': (metadef_schemas.tag_schema, 'tag', None),
    'tags': (metadef_schemas.tags_schema, 'tags', 'tags'),
    'resource_type': (metadef_schemas.resource_type_schema,
                      'resource_type_association', None),
    'resource_types': (metadef_schemas.resource_types_schema,
                       'resource_type_associations',
                       'resource_type_associations'),
}
SINGLE = [name for name, (_, _, member) in SCHEMAS.items() if not member]
COLLECTIONS = [name for name, (_, _, member) in SCHEMAS.items() if member]

PROPERTY_KEYS = {
    'name', 'title', 'description', 'operators', 'type', 'required',
    'minimum', 'maximum', 'maxLength', 'minLength', 'pattern', 'enum',
    'readonly', 'default', 'items', 'maxItems', 'minItems', 'uniqueItems',
    'additionalItems'}
TYPE_ENUM = ['array', 'boolean', 'integer', 'number', 'object', 'string',
             None]
TIMESTAMP_KEYS = {'type', 'readOnly', 'description', 'format'}


def _schema(name):
    return SCHEMAS[name][0]()


def _item(name):
    """The single-resource document of collection *name*."""
    doc = _schema(name)
    member = doc['properties'][SCHEMAS[name][2]]
    return member.get('items') or member['additionalProperties']


@pytest.mark.parametrize('name', list(SCHEMAS))
def test_every_schema_is_a_valid_draft4_document(name):
    doc = _schema(name)
    assert doc['name'] == SCHEMAS[name][1]
    jsonschema.Draft4Validator.check_schema(doc)
    # Plain JSON: serialising and parsing changes nothing.
    assert json.loads(json.dumps(doc)) == doc


@pytest.mark.parametrize('name', list(SCHEMAS))
def test_callers_get_their_own_copy(name):
    doc = _schema(name)
    doc['properties'].clear()
    doc['name'] = 'changed'
    assert _schema(name)['name'] == SCHEMAS[name][1]
    assert _schema(name)['properties']


@pytest.mark.parametrize('name', SINGLE)
def test_single_documents_are_closed(name):
    doc = _schema(name)
    assert doc['additionalProperties'] is False
    assert 'links' not in doc
    assert set(doc['required']) <= set(doc['properties'])


@pytest.mark.parametrize('name', COLLECTIONS)
def test_collections(name):
    doc = _schema(name)
    member = SCHEMAS[name][2]
    assert set(doc['properties']) == {member, 'first', 'next', 'schema'}
    for key in ('first', 'next', 'schema'):
        assert doc['properties'][key] == {'type': 'string'}
    assert doc['links'] == [{'rel': 'first', 'href': '{first}'},
                            {'rel': 'next', 'href': '{next}'},
                            {'rel': 'describedby', 'href': '{schema}'}]
    item = _item(name)
    single = _schema(name[:-1] if name != 'properties' else 'property')
    assert item['name'] == single['name']
    assert item['properties'] == single['properties']
    assert item['additionalProperties'] is False
    # Definitions move from the item to the collection document.
    assert 'definitions' not in item
    assert doc.get('definitions') == single.get('definitions')


def test_collections_hold_arrays_except_properties_keyed_by_name():
    for name in COLLECTIONS:
        member = _schema(name)['properties'][SCHEMAS[name][2]]
        if name == 'properties':
            assert member['type'] == 'object'
            assert set(member) == {'type', 'additionalProperties'}
        else:
            assert member['type'] == 'array'
            assert set(member) == {'type', 'items'}


def test_namespace_schema():
    doc = metadef_schemas.namespace_schema()
    props = doc['properties']
    assert list(props) == [
        'namespace', 'display_name', 'description', 'visibility',
        'protected', 'owner', 'created_at', 'updated_at', 'schema', 'self',
        'resource_type_associations', 'properties', 'objects', 'tags']
    assert doc['required'] == ['namespace']
    assert props['visibility']['enum'] == ['public', 'private']
    assert props['protected']['type'] == 'boolean'
    assert props['namespace']['maxLength'] == 80
    assert props['display_name']['maxLength'] == 80
    assert props['description']['maxLength'] == 500
    assert props['owner']['maxLength'] == 255
    for key in ('created_at', 'updated_at'):
        assert set(props[key]) == TIMESTAMP_KEYS
        assert props[key]['readOnly'] is True
        assert props[key]['format'] == 'date-time'
    assert props['created_at']['description'] == (
        'Date and time of namespace creation')
    for key in ('schema', 'self'):
        assert props[key] == {'readOnly': True, 'type': 'string'}
    assert props['properties'] == {'$ref': '#/definitions/property'}
    objects = props['objects']['items']['properties']
    assert objects['required'] == {'$ref': '#/definitions/stringArray'}
    assert objects['properties'] == {'$ref': '#/definitions/property'}
    assert set(props['resource_type_associations']['items']['properties']) \
        == {'name', 'prefix', 'properties_target'}
    assert props['tags']['items']['properties'] == {
        'name': {'type': 'string'}}


@pytest.mark.parametrize('name', ['namespace', 'object'])
def test_property_definition_shared_by_namespaces_and_objects(name):
    definitions = _schema(name)['definitions']
    assert set(definitions) == {'positiveInteger', 'positiveIntegerDefault0',
                                'stringArray', 'property'}
    assert definitions['positiveInteger'] == {'type': 'integer',
                                              'minimum': 0}
    assert definitions['positiveIntegerDefault0'] == {'allOf': [
        {'$ref': '#/definitions/positiveInteger'}, {'default': 0}]}
    assert definitions['stringArray'] == {
        'type': 'array', 'items': {'type': 'string'}, 'uniqueItems': True}
    prop = definitions['property']
    assert prop['type'] == 'object'
    entry = prop['additionalProperties']
    assert entry['type'] == 'object'
    assert entry['required'] == ['title', 'type']
    assert set(entry['properties']) == PROPERTY_KEYS
    # The same vocabulary as the property schema itself.
    assert entry['properties'] == metadef_schemas.property_schema()[
        'properties']


def test_property_schema():
    doc = metadef_schemas.property_schema()
    props = doc['properties']
    assert set(props) == PROPERTY_KEYS
    assert doc['required'] == ['type', 'title', 'name']
    assert props['type'] == {'type': 'string', 'enum': TYPE_ENUM}
    assert props['items']['properties']['type']['enum'] == TYPE_ENUM
    assert props['name']['maxLength'] == 80
    assert props['pattern'] == {'type': 'string', 'format': 'regex'}
    assert props['uniqueItems'] == {'type': 'boolean', 'default': False}
    assert props['default'] == {}
    for key in ('maxLength', 'maxItems'):
        assert props[key] == {'$ref': '#/definitions/positiveInteger'}
    for key in ('minLength', 'minItems'):
        assert props[key] == {'$ref': '#/definitions/positiveIntegerDefault0'}
    # Here a "required" list may not be empty.
    assert doc['definitions']['stringArray']['minItems'] == 1
    assert 'property' not in doc['definitions']


def test_listed_properties_are_keyed_by_name():
    item = _item('properties')
    assert item['required'] == ['type', 'title']
    assert 'name' in item['properties']


def test_object_schema():
    doc = metadef_schemas.object_schema()
    assert list(doc['properties']) == [
        'name', 'description', 'required', 'properties', 'schema', 'self',
        'created_at', 'updated_at']
    assert doc['required'] == ['name']
    assert doc['properties']['name']['maxLength'] == 80
    assert doc['properties']['updated_at']['description'] == (
        'Date and time of the last object modification')


def test_tag_schema():
    doc = metadef_schemas.tag_schema()
    assert list(doc['properties']) == ['name', 'created_at', 'updated_at']
    assert doc['properties']['name'] == {'type': 'string', 'maxLength': 80}
    assert doc['required'] == ['name']
    assert 'definitions' not in doc
    assert 'definitions' not in metadef_schemas.tags_schema()


def test_resource_type_schema():
    doc = metadef_schemas.resource_type_schema()
    props = doc['properties']
    assert list(props) == ['name', 'prefix', 'properties_target',
                           'created_at', 'updated_at']
    assert doc['required'] == ['name']
    for key in ('name', 'prefix', 'properties_target'):
        assert props[key]['type'] == 'string'
        assert props[key]['maxLength'] == 80
        assert props[key]['description']
    assert props['created_at']['description'] == (
        'Date and time of resource type association')
    assert props['updated_at']['description'] == (
        'Date and time of the last resource type association modification')


def test_documents_validate_what_clients_send():
    namespace = {
        'namespace': 'OS::Compute::Example', 'visibility': 'public',
        'protected': True,
        'properties': {'hw_x': {'title': 'X', 'type': 'string',
                                'enum': ['a', 'b']}},
        'objects': [{'name': 'o', 'required': ['p'],
                     'properties': {'p': {'title': 'P',
                                          'type': 'integer',
                                          'minimum': 1}}}],
        'tags': [{'name': 't'}],
        'resource_type_associations': [{'name': 'OS::Glance::Image',
                                        'prefix': 'hw_'}],
    }
    validator = jsonschema.Draft4Validator(metadef_schemas.namespace_schema())
    assert list(validator.iter_errors(namespace)) == []
    for bad in ({'visibility': 'shared'}, {'extra': 1},
                {'properties': {'p': {'type': 'string'}}},
                {'properties': {'p': {'title': 'P', 'type': 'date'}}},
                {'namespace': 'n' * 81}):
        assert list(validator.iter_errors(dict(namespace, **bad))), bad
    prop = jsonschema.Draft4Validator(metadef_schemas.property_schema())
    assert not list(prop.iter_errors(
        {'name': 'p', 'title': 'P', 'type': 'array',
         'items': {'type': 'string', 'enum': ['x']}}))
    assert list(prop.iter_errors({'name': 'p', 'title': 'P',
                                  'type': 'string', 'required': []}))
    assert list(prop.iter_errors({'title': 'P', 'type': 'string'}))


def test_every_schema_route_answers(client):
    for name in SCHEMAS:
        path = '/v2/schemas/metadefs/%s' % name
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers['Content-Type'] == 'application/json'
        assert resp.json() == _schema(name), path
        for method in ('POST', 'PUT', 'DELETE', 'PATCH'):
            resp = client.request(method, path)
            assert resp.status_code == 405, (method, path)
            assert resp.headers['Allow'] == 'GET'
        # A body is refused, as Glance does.
        resp = client.get(path, data=b'{}',
                          headers={'Content-Type': 'application/json'})
        assert resp.status_code == 400, path

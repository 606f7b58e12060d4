"""Metadata definitions API (/v2/metadefs): namespaces, objects, properties,
tags, resource types and their associations, and refused requests.

Every expectation here is Glance 33's behaviour: status codes, messages,
fields and their order.
"""

import concurrent.futures
import threading
import uuid

import pytest

from tests.functional import metadefutil as mu
from tests.functional.metadefutil import NAMESPACES
from tests.functional.metadefutil import RESOURCE_TYPES
from tests.functional.metadefutil import message
from tests.functional.metadefutil import ns_path

NS_FIELDS = {'namespace', 'visibility', 'protected', 'owner', 'created_at',
             'updated_at', 'self', 'schema'}


@pytest.fixture
def md(request):
    return mu.Target(mu.base_url(request))


@pytest.fixture
def admin(md):
    return md.admin


@pytest.fixture
def ns(admin):
    """A fresh private namespace of the admin's project."""
    return mu.create_namespace(admin)['namespace']


def _names(resp, key='namespaces', field='namespace'):
    assert resp.status_code == 200, resp.text
    return [item[field] for item in resp.json()[key]]


def _rt():
    return 'Test::%s' % uuid.uuid4().hex[:10]


# Namespaces ------------------------------------------------------------

def test_create_minimal_namespace(admin):
    name = mu.name()
    resp = admin.post(NAMESPACES, json={'namespace': name})
    assert resp.status_code == 201
    body = resp.json()
    assert list(body) == ['namespace', 'visibility', 'protected', 'owner',
                          'created_at', 'updated_at', 'self', 'schema']
    assert body['namespace'] == name
    assert body['visibility'] == 'private'
    assert body['protected'] is False
    assert body['owner'] == admin.project
    assert mu.TIME_RE.match(body['created_at'])
    assert body['updated_at'] == body['created_at']
    assert body['self'] == '/v2/metadefs/namespaces/%s' % name
    assert body['schema'] == '/v2/schemas/metadefs/namespace'
    shown = admin.get(ns_path(name))
    assert shown.status_code == 200
    assert shown.json() == body


def test_create_namespace_with_everything(admin):
    name = mu.name()
    rt = _rt()
    body = {
        'namespace': name, 'display_name': 'Display', 'description': 'Desc',
        'visibility': 'public', 'protected': True,
        'resource_type_associations': [
            {'name': rt, 'prefix': 'hw_', 'properties_target': 'image'}],
        'properties': {'cpu': {'type': 'string', 'title': 'CPU',
                               'enum': ['a', 'b']}},
        'objects': [{'name': 'obj', 'description': 'od', 'required': ['x'],
                     'properties': {'x': {'type': 'integer', 'title': 'X',
                                          'minimum': 1}}}],
        'tags': [{'name': 't1'}, {'name': 't2'}],
    }
    resp = admin.post(NAMESPACES, json=body)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert list(created) == [
        'namespace', 'display_name', 'description', 'visibility',
        'protected', 'owner', 'created_at', 'updated_at',
        'resource_type_associations', 'properties', 'objects', 'tags',
        'self', 'schema']
    assert created['resource_type_associations'] == [
        {'name': rt, 'prefix': 'hw_', 'properties_target': 'image'}]
    assert created['properties'] == body['properties']
    assert created['objects'] == [
        {'name': 'obj', 'required': ['x'], 'description': 'od',
         'properties': {'x': {'type': 'integer', 'title': 'X',
                              'minimum': 1}}}]
    assert created['tags'] == [{'name': 't1'}, {'name': 't2'}]

    shown = admin.get(ns_path(name)).json()
    assert shown['display_name'] == 'Display'
    assert shown['protected'] is True
    assoc = shown['resource_type_associations']
    assert [(a['name'], a['prefix'], a['properties_target']) for a in assoc
            ] == [(rt, 'hw_', 'image')]
    assert mu.TIME_RE.match(assoc[0]['created_at'])
    assert shown['properties'] == body['properties']
    obj = shown['objects'][0]
    assert obj['self'] == '/v2/metadefs/namespaces/%s/objects/obj' % name
    assert obj['schema'] == '/v2/schemas/metadefs/object'
    assert obj['required'] == ['x']
    # Shown newest first.
    assert shown['tags'] == [{'name': 't2'}, {'name': 't1'}]
    # The unknown resource type was created with the namespace.
    listed = admin.get(RESOURCE_TYPES).json()['resource_types']
    assert rt in [t['name'] for t in listed]

    # resource_type applies the association's prefix to property names.
    prefixed = admin.get(ns_path(name), params={'resource_type': rt}).json()
    assert list(prefixed['properties']) == ['hw_cpu']
    assert prefixed['objects'][0]['required'] == ['hw_x']
    assert list(prefixed['objects'][0]['properties']) == ['hw_x']
    other = admin.get(ns_path(name),
                      params={'resource_type': 'Other::Type'}).json()
    assert list(other['properties']) == ['cpu']
    mu.delete_namespace(admin, name)


def test_protected_namespace_cannot_be_deleted(admin):
    name = mu.create_namespace(admin, protected=True)['namespace']
    resp = admin.delete(ns_path(name))
    assert resp.status_code == 403
    assert message(resp) == ('Metadata definition namespace %s is protected '
                             'and cannot be deleted.' % name)
    assert admin.get(ns_path(name)).status_code == 200
    resp = admin.put(ns_path(name), json={'namespace': name,
                                          'protected': False})
    assert resp.status_code == 200
    assert admin.delete(ns_path(name)).status_code == 204
    resp = admin.get(ns_path(name))
    assert resp.status_code == 404
    assert message(resp) == ('Metadata definition namespace=%s was not '
                             'found.' % name)
    assert admin.delete(ns_path(name)).status_code == 404


def test_duplicate_namespace_is_conflict(admin, ns):
    resp = admin.post(NAMESPACES, json={'namespace': ns})
    assert resp.status_code == 409
    assert message(resp) == ('The metadata definition namespace=%s already '
                             'exists.' % ns)


def test_update_replaces_and_renames(admin):
    old = mu.create_namespace(admin, display_name='D', description='d',
                              visibility='public')
    new_name = mu.name()
    resp = admin.put(ns_path(old['namespace']),
                     json={'namespace': new_name, 'description': 'new'})
    assert resp.status_code == 200
    body = resp.json()
    assert body['namespace'] == new_name
    assert body['description'] == 'new'
    # PUT replaces: what the body leaves out goes back to its default.
    assert 'display_name' not in body
    assert body['visibility'] == 'private'
    assert body['self'] == '/v2/metadefs/namespaces/%s' % new_name
    assert admin.get(ns_path(old['namespace'])).status_code == 404
    assert admin.get(ns_path(new_name)).json()['description'] == 'new'
    mu.delete_namespace(admin, new_name)


def test_rename_onto_existing_namespace_is_conflict(admin, ns):
    other = mu.create_namespace(admin)['namespace']
    resp = admin.put(ns_path(ns), json={'namespace': other})
    assert resp.status_code == 409
    assert message(resp) == (
        'Invalid update. It would result in a duplicate metadata definition '
        'namespace with the same name of %s' % other)
    assert admin.get(ns_path(ns)).status_code == 200


def test_update_unknown_namespace(admin):
    name = mu.name()
    resp = admin.put(ns_path(name), json={'namespace': name})
    assert resp.status_code == 404
    assert message(resp) == 'Namespace %s not found' % name


def test_private_namespace_visibility(md, admin):
    owner_project = mu.project()
    name = mu.create_namespace(admin, owner=owner_project)['namespace']
    public = mu.create_namespace(admin, owner=owner_project,
                                 visibility='public')['namespace']
    owner = md.caller(owner_project)
    reader = md.caller(owner_project, mu.READER_ROLES)
    stranger = md.caller()
    for caller in (owner, reader, admin):
        resp = caller.get(ns_path(name))
        assert resp.status_code == 200
        assert resp.json()['owner'] == owner_project
    resp = stranger.get(ns_path(name))
    assert resp.status_code == 404
    assert message(resp) == 'The resource could not be found.'
    assert stranger.get(ns_path(name, 'objects')).status_code == 404
    assert stranger.get(ns_path(public)).status_code == 200
    listed = _names(stranger.get(NAMESPACES, params={'limit': 1000}))
    assert name not in listed and public in listed
    listed = _names(owner.get(NAMESPACES, params={'limit': 1000}))
    assert name in listed and public in listed


def test_list_filters_sorting_and_links(admin):
    rt = _rt()
    made = []
    for i in range(3):
        made.append(mu.create_namespace(
            admin, mu.name('ns%d' % i),
            visibility='private' if i == 0 else 'public',
            resource_type_associations=[{'name': rt}])['namespace'])
    query = {'resource_types': rt}
    resp = admin.get(NAMESPACES, params=query)
    body = resp.json()
    assert list(body) == ['namespaces', 'schema', 'first']
    assert body['schema'] == '/v2/schemas/metadefs/namespaces'
    assert body['first'] == ('/v2/metadefs/namespaces?resource_types=%s'
                             % rt.replace(':', '%3A'))
    # Newest first by default.
    assert _names(resp) == made[::-1]
    item = body['namespaces'][0]
    assert list(item) == ['namespace', 'visibility', 'protected', 'owner',
                          'created_at', 'updated_at',
                          'resource_type_associations', 'self', 'schema']
    assert [a['name'] for a in item['resource_type_associations']] == [rt]

    resp = admin.get(NAMESPACES, params={'resource_types': rt, 'limit': 2,
                                         'sort_dir': 'asc'})
    body = resp.json()
    assert _names(resp) == made[:2]
    assert list(body) == ['namespaces', 'next', 'schema', 'first']
    enc = rt.replace(':', '%3A')
    assert body['first'] == ('/v2/metadefs/namespaces?resource_types=%s'
                             '&limit=2&sort_dir=asc' % enc)
    assert body['next'] == ('/v2/metadefs/namespaces?resource_types=%s'
                            '&limit=2&sort_dir=asc&marker=%s' % (enc,
                                                                 made[1]))
    resp = admin.get(body['next'])
    assert _names(resp) == made[2:]
    assert 'next' not in resp.json()

    resp = admin.get(NAMESPACES, params={'resource_types': rt,
                                         'visibility': 'public',
                                         'sort_key': 'namespace',
                                         'sort_dir': 'asc'})
    assert _names(resp) == sorted(made[1:])
    resp = admin.get(NAMESPACES, params={'resource_types': rt,
                                         'visibility': 'private'})
    assert _names(resp) == made[:1]
    resp = admin.get(NAMESPACES, params={'resource_types': rt,
                                         'marker': made[2]})
    assert _names(resp) == made[1::-1]
    # Several resource types: namespaces associated with any of them.
    rt2 = _rt()
    extra = mu.create_namespace(
        admin, resource_type_associations=[{'name': rt2}])['namespace']
    resp = admin.get(NAMESPACES, params={'resource_types': '%s,%s'
                                         % (rt, rt2)})
    assert sorted(_names(resp)) == sorted(made + [extra])
    for name in made + [extra]:
        mu.delete_namespace(admin, name)


@pytest.mark.parametrize('params, status, text', [
    ({'sort_dir': 'up'}, 400, 'Invalid sort direction: up'),
    ({'limit': '-1'}, 400, 'limit param must be positive'),
    ({'visibility': 'shared'}, 400, 'Invalid visibility value: shared'),
    ({'marker': 'no-such-namespace'}, 404,
     'Metadata definition namespace=no-such-namespace was not found.'),
])
def test_list_bad_queries(admin, params, status, text):
    resp = admin.get(NAMESPACES, params=params)
    assert resp.status_code == status
    assert message(resp) == text


def test_concurrent_creates_of_one_name(md):
    name = mu.name('race')
    barrier = threading.Barrier(10)

    def create(_):
        caller = md.caller(md.admin.project, mu.ADMIN_ROLES)
        barrier.wait(30)
        return caller.post(NAMESPACES, json={'namespace': name})

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = sorted(r.status_code for r in pool.map(create, range(10)))
    assert statuses == [201] + [409] * 9
    listed = _names(md.admin.get(NAMESPACES, params={'limit': 1000}))
    assert listed.count(name) == 1
    mu.delete_namespace(md.admin, name)


# Objects ---------------------------------------------------------------

def test_object_life_cycle(admin, ns):
    path = ns_path(ns, 'objects')
    body = {'name': 'obj', 'description': 'an object', 'required': ['a'],
            'properties': {'a': {'type': 'string', 'title': 'A'},
                           'b': {'type': 'integer', 'title': 'B',
                                 'minimum': 0}}}
    resp = admin.post(path, json=body)
    assert resp.status_code == 201
    obj = resp.json()
    assert list(obj) == ['name', 'required', 'description', 'properties',
                         'created_at', 'updated_at', 'self', 'schema']
    assert obj['properties'] == body['properties']
    assert obj['self'] == path + '/obj'
    assert obj['schema'] == '/v2/schemas/metadefs/object'

    resp = admin.post(path, json={'name': 'obj'})
    assert resp.status_code == 409
    assert message(resp) == ('A metadata definition object with name=obj '
                             'already exists in namespace=%s.' % ns)
    assert admin.post(path, json={'name': 'second'}).status_code == 201
    listed = admin.get(path).json()
    assert list(listed) == ['objects', 'schema']
    assert listed['schema'] == 'v2/schemas/metadefs/objects'
    # Glance lists objects in no particular order.
    by_name = {o['name']: o for o in listed['objects']}
    assert sorted(by_name) == ['obj', 'second']
    assert by_name['second']['required'] == []
    assert by_name['second']['properties'] == {}
    assert by_name['obj']['properties'] == body['properties']

    resp = admin.put(path + '/obj', json={'name': 'renamed',
                                          'description': 'd'})
    assert resp.status_code == 200
    assert resp.json()['name'] == 'renamed'
    assert resp.json()['self'] == path + '/renamed'
    shown = admin.get(path + '/renamed').json()
    assert shown['description'] == 'd'
    # PUT replaces: required and properties are gone.
    assert shown['required'] == [] and shown['properties'] == {}
    resp = admin.get(path + '/obj')
    assert resp.status_code == 404
    assert message(resp) == 'Could not find metadata object obj'
    # Glance 33 answers a rename onto another object with a 500.
    resp = admin.put(path + '/renamed', json={'name': 'second'})
    assert resp.status_code >= 400
    assert admin.get(path + '/renamed').status_code == 200

    assert admin.delete(path + '/renamed').status_code == 204
    assert admin.delete(path + '/renamed').status_code == 404
    assert admin.delete(path).status_code == 204
    assert admin.get(path).json()['objects'] == []
    resp = admin.get(ns_path('no-such-ns-%s' % mu.uid(), 'objects', 'x'))
    assert resp.status_code == 404
    assert 'Metadata definition namespace=no-such-ns-' in message(resp)


def test_object_invalid_property_type(admin, ns):
    resp = admin.post(ns_path(ns, 'objects'), json={
        'name': 'o', 'properties': {'a': {'type': 'foo', 'title': 'A'}}})
    assert resp.status_code == 400
    assert message(resp).startswith(
        "Provided object does not match schema 'object': 'foo' is not one "
        "of ['array', 'boolean', 'integer', 'number', 'object', 'string', "
        "None]")


# Properties ------------------------------------------------------------

def test_property_life_cycle(admin, ns):
    path = ns_path(ns, 'properties')
    resp = admin.post(path, json={'name': 'q', 'title': 'Q',
                                  'type': 'string', 'enum': ['x', 'y'],
                                  'default': 'x', 'readonly': False})
    assert resp.status_code == 201
    assert resp.json() == {'name': 'q', 'type': 'string', 'title': 'Q',
                           'default': 'x', 'readonly': False,
                           'enum': ['x', 'y']}
    resp = admin.post(path, json={'name': 'q', 'title': 'Q',
                                  'type': 'string'})
    assert resp.status_code == 409
    assert message(resp) == ('A metadata definition property with name=q '
                             'already exists in namespace=%s.' % ns)
    assert admin.post(path, json={'name': 'n', 'title': 'N',
                                  'type': 'number'}).status_code == 201
    listed = admin.get(path).json()
    assert list(listed) == ['properties']
    assert sorted(listed['properties']) == ['n', 'q']
    # Unlike in a namespace, listed properties carry their name.
    assert listed['properties']['n'] == {'name': 'n', 'type': 'number',
                                         'title': 'N'}

    resp = admin.put(path + '/q', json={'name': 'q2', 'title': 'Q2',
                                        'type': 'integer'})
    assert resp.status_code == 200
    assert resp.json() == {'name': 'q2', 'type': 'integer', 'title': 'Q2'}
    assert admin.get(path + '/q2').json() == resp.json()
    resp = admin.get(path + '/q')
    assert resp.status_code == 404
    assert message(resp) == 'Could not find property q'
    # Glance 33 answers a rename onto another property with a 500.
    resp = admin.put(path + '/q2', json={'name': 'n', 'title': 'N',
                                         'type': 'number'})
    assert resp.status_code >= 400
    assert admin.get(path + '/q2').json()['type'] == 'integer'
    assert admin.delete(path + '/q2').status_code == 204
    assert admin.delete(path + '/q2').status_code == 404
    assert admin.delete(path).status_code == 204
    assert admin.get(path).json() == {'properties': {}}


def test_property_with_resource_type_prefix(admin):
    rt = _rt()
    name = mu.create_namespace(admin, resource_type_associations=[
        {'name': rt, 'prefix': 'hw_'}])['namespace']
    path = ns_path(name, 'properties')
    admin.post(path, json={'name': 'cpu', 'title': 'C', 'type': 'string'})
    resp = admin.get(path + '/hw_cpu', params={'resource_type': rt})
    assert resp.status_code == 200
    assert resp.json()['name'] == 'cpu'
    resp = admin.get(path + '/cpu', params={'resource_type': rt})
    assert resp.status_code == 404
    assert message(resp) == ('Property cpu does not start with the expected '
                             "resource type association prefix of 'hw_'.")
    listed = admin.get(path, params={'resource_type': rt}).json()
    assert list(listed['properties']) == ['cpu']
    mu.delete_namespace(admin, name)


def test_property_schema_leniency(admin, ns):
    """What Glance accepts without complaint; stored as given."""
    path = ns_path(ns, 'properties')
    cases = [
        {'type': 'integer', 'minimum': 5, 'maximum': 1},
        {'type': 'string', 'minLength': 5, 'maxLength': 2},
        {'type': 'array', 'items': {'type': 'string'}, 'minItems': 3,
         'maxItems': 1},
        {'type': 'integer', 'enum': ['a']},
        {'type': 'string', 'enum': ['a', 'a']},
        {'type': 'array'},
        {'type': 'object'},
    ]
    for i, case in enumerate(cases):
        body = dict(case, name='p%d' % i, title='T')
        resp = admin.post(path, json=body)
        assert resp.status_code == 201, (case, resp.text)
        shown = admin.get(path + '/p%d' % i).json()
        assert shown == dict(body), case
    # A default is kept as a string.
    resp = admin.post(path, json={'name': 'd', 'title': 'D',
                                  'type': 'string', 'default': 5})
    assert resp.status_code == 201
    assert resp.json()['default'] == '5'


@pytest.mark.parametrize('body, text', [
    ({'name': 'a', 'title': 'A', 'type': 'foo'},
     "'foo' is not one of ['array', 'boolean', 'integer', 'number', "
     "'object', 'string', None]"),
    ({'name': 'a', 'title': 'A', 'type': None},
     "None is not of type 'string'"),
    ({'name': 'a', 'title': 'A', 'type': 'string', 'bogus': 1},
     "Additional properties are not allowed ('bogus' was unexpected)"),
    ({'name': 'a', 'type': 'string'}, "'title' is a required property"),
    ({'title': 'A', 'type': 'string'}, "'name' is a required property"),
    ({'name': 'a', 'title': 'A'}, "'type' is a required property"),
    ({'name': 'a', 'title': 'A', 'type': 'string', 'enum': 'x'},
     "'x' is not of type 'array'"),
    ({'name': 'a', 'title': 'A', 'type': 'string', 'readonly': 'yes'},
     "'yes' is not of type 'boolean'"),
    ({'name': 'a', 'title': 'A', 'type': 'number', 'minimum': 'x'},
     "'x' is not of type 'number'"),
    ({'name': 'a', 'title': 'A', 'type': 'array',
      'items': {'type': 'foo'}},
     "'foo' is not one of ['array', 'boolean', 'integer', 'number', "
     "'object', 'string', None]"),
], ids=['bad-type', 'null-type', 'unknown-key', 'no-title', 'no-name',
        'no-type', 'enum-not-list', 'readonly-not-bool', 'minimum-string',
        'bad-item-type'])
def test_invalid_property_definitions(admin, ns, body, text):
    resp = admin.post(ns_path(ns, 'properties'), json=body)
    assert resp.status_code == 400
    assert message(resp).startswith(
        "Provided object does not match schema 'property': " + text)
    assert admin.get(ns_path(ns, 'properties')).json() == {'properties': {}}


@pytest.mark.parametrize('enum', [[1, 2], [True, False]],
                         ids=['ints', 'bools'])
def test_enum_of_non_strings_is_refused(admin, ns, enum):
    # Glance 33 fails these with a 500; a client error is what they are.
    resp = admin.post(ns_path(ns, 'properties'), json={
        'name': 'e', 'title': 'E', 'type': 'string', 'enum': enum})
    assert 400 <= resp.status_code < 600
    assert admin.get(ns_path(ns, 'properties', 'e')).status_code == 404


# Tags ------------------------------------------------------------------

def test_tag_life_cycle(admin, ns):
    path = ns_path(ns, 'tags')
    resp = admin.post(path + '/alpha')
    assert resp.status_code == 201
    tag = resp.json()
    assert list(tag) == ['name', 'created_at', 'updated_at']
    assert tag['name'] == 'alpha'
    resp = admin.post(path + '/alpha')
    assert resp.status_code == 409
    assert message(resp) == (
        'A metadata tag with name=alpha already exists in namespace=%s. '
        '(Please note that metadata tag names are case insensitive).' % ns)
    admin.post(path + '/beta')
    listed = admin.get(path).json()
    assert list(listed) == ['tags']
    assert [t['name'] for t in listed['tags']] == ['beta', 'alpha']
    assert admin.get(path + '/alpha').json() == tag

    resp = admin.put(path + '/alpha', json={'name': 'gamma'})
    assert resp.status_code == 200
    assert resp.json()['name'] == 'gamma'
    resp = admin.get(path + '/alpha')
    assert resp.status_code == 404
    assert message(resp) == 'Could not find metadata tag alpha'
    resp = admin.put(path + '/gamma', json={'name': 'beta'})
    assert resp.status_code == 409
    assert admin.put(path + '/gamma', json={'name': 'gamma'}
                     ).status_code == 200

    assert admin.delete(path + '/gamma').status_code == 204
    resp = admin.delete(path + '/gamma')
    assert resp.status_code == 404
    assert message(resp) == 'Could not find metadata tag gamma'
    assert [t['name'] for t in admin.get(path).json()['tags']] == ['beta']
    assert admin.delete(path).status_code == 204
    assert admin.get(path).json() == {'tags': []}


def test_tag_in_unknown_namespace(admin):
    name = 'no-such-ns-%s' % mu.uid()
    resp = admin.post(ns_path(name, 'tags', 'x'))
    assert resp.status_code == 404
    assert message(resp) == 'Namespace %s not found' % name


def test_bulk_tags_replace_or_append(admin, ns):
    path = ns_path(ns, 'tags')
    admin.post(path + '/old')
    resp = admin.post(path, json={'tags': [{'name': 'b'}, {'name': 'c'}]})
    assert resp.status_code == 201
    assert resp.json() == {'tags': [{'name': 'b'}, {'name': 'c'}]}
    assert sorted(t['name'] for t in admin.get(path).json()['tags']) == [
        'b', 'c']
    resp = admin.post(path, json={'tags': [{'name': 'd'}]},
                      headers={'X-Openstack-Append': 'True'})
    assert resp.status_code == 201
    assert resp.json() == {'tags': [{'name': 'd'}]}
    names = [t['name'] for t in admin.get(path).json()['tags']]
    assert names[0] == 'd' and sorted(names) == ['b', 'c', 'd']
    resp = admin.post(path, json={'tags': [{'name': 'c'}]},
                      headers={'X-Openstack-Append': 'True'})
    assert resp.status_code == 409
    assert message(resp) == (
        'A metadata tag with name=c already exists in namespace=%s. '
        '(Please note that metadata tag names are case insensitive).' % ns)
    resp = admin.post(path, json={'tags': [{'name': 'x'}, {'name': 'x'}]})
    assert resp.status_code == 409
    assert 'A metadata tag with name=x already exists' in message(resp)
    # A refused bulk request changes nothing.
    assert sorted(t['name'] for t in admin.get(path).json()['tags']) == [
        'b', 'c', 'd']


def test_tag_names_differing_in_case(admin, ns):
    path = ns_path(ns, 'tags')
    assert admin.post(path + '/Alpha').status_code == 201
    resp = admin.post(path + '/alpha')
    if mu.CASE_INSENSITIVE_TAGS:
        assert resp.status_code == 409
        assert message(resp) == (
            'A metadata tag with name=alpha already exists in namespace=%s. '
            '(Please note that metadata tag names are case insensitive).'
            % ns)
        resp = admin.post(path, json={'tags': [{'name': 'b'},
                                               {'name': 'B'}]})
        assert resp.status_code == 409
    else:
        assert resp.status_code == 201


# Resource types ----------------------------------------------------------

def test_resource_type_associations(admin, ns):
    rt = _rt()
    mu.create_namespace(admin, resource_type_associations=[{'name': rt}])
    resp = admin.get(RESOURCE_TYPES)
    assert resp.status_code == 200
    assert list(resp.json()) == ['resource_types']
    found = [t for t in resp.json()['resource_types'] if t['name'] == rt]
    assert len(found) == 1
    assert list(found[0]) == ['name', 'created_at', 'updated_at']

    path = ns_path(ns, 'resource_types')
    assert admin.get(path).json() == {'resource_type_associations': []}
    resp = admin.post(path, json={'name': rt, 'prefix': 'p_',
                                  'properties_target': 'image'})
    assert resp.status_code == 201
    body = resp.json()
    assert list(body) == ['name', 'prefix', 'properties_target',
                          'created_at', 'updated_at']
    assert (body['name'], body['prefix'], body['properties_target']) == (
        rt, 'p_', 'image')
    resp = admin.post(path, json={'name': rt, 'prefix': 'x_'})
    assert resp.status_code == 409
    assert message(resp) == (
        'The metadata definition resource-type association of '
        'resource-type=%s to namespace=%s already exists.' % (rt, ns))
    listed = admin.get(path).json()['resource_type_associations']
    assert [(a['name'], a['prefix'], a['properties_target'])
            for a in listed] == [(rt, 'p_', 'image')]
    shown = admin.get(ns_path(ns)).json()
    assert [a['name'] for a in shown['resource_type_associations']] == [rt]
    listed = admin.get(NAMESPACES, params={'resource_types': rt})
    assert ns in _names(listed)

    assert admin.delete(path + '/' + rt).status_code == 204
    resp = admin.delete(path + '/' + rt)
    assert resp.status_code == 404
    assert message(resp) == 'Failed to find resource type %s to delete' % rt
    assert admin.get(path).json() == {'resource_type_associations': []}
    # The resource type itself stays.
    names = [t['name'] for t in admin.get(RESOURCE_TYPES).json()[
        'resource_types']]
    assert rt in names


def test_association_needs_a_name(admin, ns):
    resp = admin.post(ns_path(ns, 'resource_types'), json={'prefix': 'p_'})
    assert resp.status_code == 400
    assert message(resp).startswith(
        "Provided object does not match schema 'resource_type_association': "
        "'name' is a required property")


def test_deleting_namespace_removes_everything(admin):
    rt = _rt()
    name = mu.create_namespace(
        admin, resource_type_associations=[{'name': rt}],
        objects=[{'name': 'o'}], tags=[{'name': 't'}],
        properties={'p': {'type': 'string', 'title': 'P'}})['namespace']
    assert admin.delete(ns_path(name)).status_code == 204
    for sub in ('objects', 'properties', 'tags', 'resource_types'):
        assert admin.get(ns_path(name, sub)).status_code == 404
    assert name not in _names(admin.get(
        NAMESPACES, params={'resource_types': rt}))
    # The name can be used again, with nothing left over.
    again = mu.create_namespace(admin, name)
    assert 'objects' not in again and 'tags' not in again
    assert admin.get(ns_path(name, 'tags')).json() == {'tags': []}
    mu.delete_namespace(admin, name)


# Refused requests ------------------------------------------------------

@pytest.mark.parametrize('body, text', [
    ({'namespace': 5}, "5 is not of type 'string'"),
    ({'namespace': 'x' * 81}, "'%s' is too long" % ('x' * 81)),
    ({}, "'namespace' is a required property"),
    ({'namespace': 'v', 'visibility': 'shared'},
     "'shared' is not one of ['public', 'private']"),
    ({'namespace': 'v', 'protected': 'yes'},
     "'yes' is not of type 'boolean'"),
    ({'namespace': 'v', 'bogus': 'yes'},
     "Additional properties are not allowed ('bogus' was unexpected)"),
], ids=['int-name', 'long-name', 'no-name', 'bad-visibility',
        'protected-string', 'unknown-key'])
def test_invalid_namespace_bodies(admin, body, text):
    if body.get('namespace') == 'v':
        body['namespace'] = mu.name()
    resp = admin.post(NAMESPACES, json=body)
    assert resp.status_code == 400
    assert message(resp).startswith(
        "Provided object does not match schema 'namespace': " + text)
    if isinstance(body.get('namespace'), str):
        assert admin.get(ns_path(body['namespace'])).status_code == 404


def test_malformed_json(admin, ns):
    for path in (NAMESPACES, ns_path(ns, 'properties'),
                 ns_path(ns, 'objects'), ns_path(ns, 'tags')):
        resp = admin.post(path, data='{"not json',
                          headers={'Content-Type': 'application/json'})
        assert resp.status_code == 400, path
        assert message(resp) == 'Malformed JSON in request body.'


def test_oversize_body_is_refused(admin):
    name = mu.name()
    doc = '{"namespace": "%s", "description": "%s"}' % (
        name, 'x' * (2 * 1024 * 1024))
    resp = admin.post(NAMESPACES, data=doc,
                      headers={'Content-Type': 'application/json'})
    assert resp.status_code in (400, 413)
    assert admin.get(ns_path(name)).status_code == 404


def test_description_too_long(admin):
    name = mu.name()
    resp = admin.post(NAMESPACES, json={'namespace': name,
                                        'description': 'd' * 501})
    assert resp.status_code == 400
    assert message(resp).startswith(
        "Provided object does not match schema 'namespace': '%s' is too "
        "long" % ('d' * 501))

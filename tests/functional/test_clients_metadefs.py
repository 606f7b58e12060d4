"""Metadata definitions driven by unmodified clients: python-glanceclient
(Python API and ``glance`` command) and openstackclient (``openstack image
metadef ...``).

The command line clients reach the service through a local proxy adding
the identity headers of an admin caller (no Keystone here).
"""

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.functional import metadefutil as mu


@pytest.fixture
def url(request):
    return mu.base_url(request)


@pytest.fixture
def admin_headers():
    return {'X-Identity-Status': 'Confirmed', 'X-Roles': mu.ADMIN_ROLES,
            'X-Project-Id': mu.project(), 'X-User-Id': 'md-admin'}


@pytest.fixture
def glance(url, admin_headers):
    import glanceclient
    # glanceclient percent-encodes header values: one role, no commas.
    return glanceclient.Client('2', endpoint=url, identity_headers=dict(
        admin_headers, **{'X-Auth-Token': 'x', 'X-Roles': 'admin'}))


@pytest.fixture
def proxy(url, admin_headers):
    p = mu.HeaderProxy(url, admin_headers)
    yield p
    p.stop()


def _rt():
    return 'Client::%s' % uuid.uuid4().hex[:10]


# python-glanceclient, Python API ----------------------------------------

def test_glanceclient_namespaces(glance, admin_headers):
    import glanceclient.exc
    rt = _rt()
    name = mu.name('gc')
    created = glance.metadefs_namespace.create(
        namespace=name, display_name='GC', description='made by glanceclient',
        visibility='public', protected=True,
        resource_type_associations=[{'name': rt, 'prefix': 'gc_'}],
        properties={'speed': {'type': 'integer', 'title': 'Speed'}})
    assert created['namespace'] == name
    assert created['owner'] == admin_headers['X-Project-Id']
    shown = glance.metadefs_namespace.get(name)
    assert shown['display_name'] == 'GC'
    assert shown['properties'] == {'speed': {'type': 'integer',
                                             'title': 'Speed'}}
    prefixed = glance.metadefs_namespace.get(name, resource_type=rt)
    assert list(prefixed['properties']) == ['gc_speed']
    listed = list(glance.metadefs_namespace.list(
        filters={'resource_types': [rt]}))
    assert [n['namespace'] for n in listed] == [name]
    with pytest.raises(glanceclient.exc.HTTPForbidden):
        glance.metadefs_namespace.delete(name)
    with pytest.raises(glanceclient.exc.HTTPConflict):
        glance.metadefs_namespace.create(namespace=name)
    updated = glance.metadefs_namespace.update(name, protected=False,
                                               description='changed')
    assert updated['protected'] is False
    assert updated['description'] == 'changed'
    # glanceclient sends the whole namespace back: nothing else is lost.
    assert updated['display_name'] == 'GC'
    glance.metadefs_namespace.delete(name)
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        glance.metadefs_namespace.get(name)


def test_glanceclient_paging(glance):
    rt = _rt()
    names = [mu.name('gcp%d' % i) for i in range(5)]
    for name in names:
        glance.metadefs_namespace.create(
            namespace=name, resource_type_associations=[{'name': rt}])
    listed = list(glance.metadefs_namespace.list(
        filters={'resource_types': [rt]}, page_size=2, sort_key='namespace',
        sort_dir='asc'))
    assert [n['namespace'] for n in listed] == sorted(names)
    for name in names:
        glance.metadefs_namespace.delete(name)


def test_glanceclient_objects_properties_tags(glance):
    import glanceclient.exc
    name = mu.name('gc')
    glance.metadefs_namespace.create(namespace=name)

    obj = glance.metadefs_object.create(
        name, name='cpu', description='CPU', required=['cores'],
        properties={'cores': {'type': 'integer', 'title': 'Cores'}})
    assert obj['name'] == 'cpu'
    assert [o['name'] for o in glance.metadefs_object.list(name)] == ['cpu']
    shown = glance.metadefs_object.get(name, 'cpu')
    assert shown['required'] == ['cores']
    updated = glance.metadefs_object.update(name, 'cpu', name='processor')
    assert updated['name'] == 'processor'
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        glance.metadefs_object.get(name, 'cpu')
    glance.metadefs_object.delete(name, 'processor')
    assert list(glance.metadefs_object.list(name)) == []

    prop = glance.metadefs_property.create(name, name='mode', title='Mode',
                                           type='string',
                                           enum=['fast', 'slow'])
    assert prop['name'] == 'mode'
    listed = list(glance.metadefs_property.list(name))
    assert [p['name'] for p in listed] == ['mode']
    updated = glance.metadefs_property.update(name, 'mode', name='mode2',
                                              title='Mode', type='string')
    assert updated['name'] == 'mode2'
    assert glance.metadefs_property.get(name, 'mode2')['title'] == 'Mode'
    glance.metadefs_property.delete(name, 'mode2')
    assert list(glance.metadefs_property.list(name)) == []

    tag = glance.metadefs_tag.create(name, 'first')
    assert tag['name'] == 'first'
    with pytest.raises(glanceclient.exc.HTTPConflict):
        glance.metadefs_tag.create(name, 'first')
    made = glance.metadefs_tag.create_multiple(name, tags=['a', 'b'])
    assert sorted(t['name'] for t in made) == ['a', 'b']
    assert sorted(t['name'] for t in glance.metadefs_tag.list(name)) == [
        'a', 'b']
    glance.metadefs_tag.create(name, 'c')
    renamed = glance.metadefs_tag.update(name, 'a', name='z')
    assert renamed['name'] == 'z'
    assert glance.metadefs_tag.get(name, 'z')['name'] == 'z'
    glance.metadefs_tag.delete(name, 'z')
    assert sorted(t['name'] for t in glance.metadefs_tag.list(name)) == [
        'b', 'c']
    glance.metadefs_tag.delete_all(name)
    assert list(glance.metadefs_tag.list(name)) == []
    glance.metadefs_namespace.delete(name)


def test_glanceclient_resource_types(glance):
    rt = _rt()
    holder = mu.name('gc')
    glance.metadefs_namespace.create(
        namespace=holder, resource_type_associations=[{'name': rt}])
    assert rt in [t['name'] for t in glance.metadefs_resource_type.list()]
    name = mu.name('gc')
    glance.metadefs_namespace.create(namespace=name)
    assoc = glance.metadefs_resource_type.associate(
        name, name=rt, prefix='x_', properties_target='image')
    assert assoc['name'] == rt and assoc['prefix'] == 'x_'
    listed = list(glance.metadefs_resource_type.get(name))
    assert [(a['name'], a['prefix'], a['properties_target'])
            for a in listed] == [(rt, 'x_', 'image')]
    glance.metadefs_resource_type.deassociate(name, rt)
    assert list(glance.metadefs_resource_type.get(name)) == []
    glance.metadefs_namespace.delete(name)
    glance.metadefs_namespace.delete(holder)


# python-glanceclient, command line -------------------------------------

def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith('OS_')}


def _glance_cli(proxy, *args, check=True):
    command = [os.path.join(os.path.dirname(sys.executable), 'glance'),
               '--os-image-url', proxy.url, '--os-auth-token', 'x',
               '--os-image-api-version', '2', *args]
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=120, env=_env())
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def _field(output, name):
    for line in output.splitlines():
        cells = [c.strip() for c in line.split('|')]
        if len(cells) > 2 and cells[1] == name:
            return cells[2]
    raise AssertionError('no field %s in:\n%s' % (name, output))


def test_glance_cli_metadefs(proxy):
    name = mu.name('cli')
    rt = _rt()
    out = _glance_cli(proxy, 'md-namespace-create', name,
                      '--display-name', 'CLI', '--visibility', 'public',
                      '--description', 'from the cli').stdout
    assert _field(out, 'namespace') == name
    assert _field(out, 'visibility') == 'public'
    out = _glance_cli(proxy, 'md-namespace-show', name).stdout
    assert _field(out, 'display_name') == 'CLI'
    out = _glance_cli(proxy, 'md-namespace-update', name,
                      '--description', 'changed').stdout
    assert _field(out, 'description') == 'changed'

    _glance_cli(proxy, 'md-resource-type-associate', name, '--name', rt,
                '--prefix', 'cli_')
    out = _glance_cli(proxy, 'md-namespace-resource-type-list', name).stdout
    assert rt in out
    out = _glance_cli(proxy, 'md-resource-type-list').stdout
    assert rt in out
    out = _glance_cli(proxy, 'md-namespace-list', '--resource-types',
                      rt).stdout
    assert name in out

    _glance_cli(proxy, 'md-property-create', name, '--name', 'speed',
                '--title', 'Speed', '--type', 'integer',
                '--schema', '{"type": "integer"}')
    out = _glance_cli(proxy, 'md-property-show', name, 'speed').stdout
    assert _field(out, 'type') == 'integer'
    out = _glance_cli(proxy, 'md-property-list', name).stdout
    assert 'speed' in out
    _glance_cli(proxy, 'md-property-update', name, 'speed', '--title',
                'Velocity')
    out = _glance_cli(proxy, 'md-property-show', name, 'speed').stdout
    assert _field(out, 'title') == 'Velocity'

    _glance_cli(proxy, 'md-object-create', name, '--name', 'cpu',
                '--schema', json.dumps({'description': 'CPU', 'properties': {
                    'cores': {'type': 'integer', 'title': 'Cores'}}}))
    out = _glance_cli(proxy, 'md-object-show', name, 'cpu').stdout
    assert _field(out, 'description') == 'CPU'
    out = _glance_cli(proxy, 'md-object-list', name).stdout
    assert 'cpu' in out
    _glance_cli(proxy, 'md-object-update', name, 'cpu', '--name', 'proc')
    _glance_cli(proxy, 'md-object-show', name, 'proc')

    # (--append makes glanceclient 4.13 fail before sending anything.)
    _glance_cli(proxy, 'md-tag-create-multiple', name, '--names',
                'two,three')
    _glance_cli(proxy, 'md-tag-create', name, '--name', 'one')
    out = _glance_cli(proxy, 'md-tag-list', name).stdout
    assert all(t in out for t in ('one', 'two', 'three'))
    _glance_cli(proxy, 'md-tag-update', name, 'one', '--name', 'uno')
    out = _glance_cli(proxy, 'md-tag-show', name, 'uno').stdout
    assert _field(out, 'name') == 'uno'
    _glance_cli(proxy, 'md-tag-delete', name, 'uno')
    gone = _glance_cli(proxy, 'md-tag-show', name, 'uno', check=False)
    assert gone.returncode != 0

    _glance_cli(proxy, 'md-object-delete', name, 'proc')
    _glance_cli(proxy, 'md-property-delete', name, 'speed')
    _glance_cli(proxy, 'md-resource-type-deassociate', name, rt)
    _glance_cli(proxy, 'md-namespace-delete', name)
    gone = _glance_cli(proxy, 'md-namespace-show', name, check=False)
    assert gone.returncode != 0
    assert '404' in gone.stderr + gone.stdout


# openstackclient -------------------------------------------------------

def _osc(proxy, *args, check=True, as_json=True):
    command = [os.path.join(os.path.dirname(sys.executable), 'openstack'),
               '--os-auth-type', 'none', '--os-endpoint', proxy.url,
               '--os-image-api-version', '2', *args]
    if as_json:
        command += ['-f', 'json']
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=180, env=_env(),
                            stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout) if as_json else result.stdout
    return result


def test_openstackclient_metadefs(proxy):
    name = mu.name('osc')
    rt = _rt()
    created = _osc(proxy, 'image', 'metadef', 'namespace', 'create',
                   '--display-name', 'OSC', '--description', 'made by osc',
                   '--public', '--protected', name)
    assert created['namespace'] == name
    assert created['visibility'] == 'public'
    shown = _osc(proxy, 'image', 'metadef', 'namespace', 'show', name)
    assert shown['display_name'] == 'OSC'
    assert shown['protected'] is True

    refused = _osc(proxy, 'image', 'metadef', 'namespace', 'delete', name,
                   check=False, as_json=False)
    assert refused.returncode != 0
    _osc(proxy, 'image', 'metadef', 'namespace', 'set', '--unprotected',
         '--description', 'changed', name, as_json=False)
    shown = _osc(proxy, 'image', 'metadef', 'namespace', 'show', name)
    assert shown['description'] == 'changed'
    assert shown['protected'] is False

    # A namespace bringing a new resource type, made through the API.
    caller = mu.Caller(proxy.url, mu.project(), mu.ADMIN_ROLES)
    holder = mu.create_namespace(
        caller, resource_type_associations=[{'name': rt}])['namespace']
    types = _osc(proxy, 'image', 'metadef', 'resource', 'type', 'list')
    assert rt in [t['Name'] for t in types]
    listed = _osc(proxy, 'image', 'metadef', 'namespace', 'list')
    assert name in [n['namespace'] for n in listed]

    _osc(proxy, 'image', 'metadef', 'object', 'create', '--namespace', name,
         'cpu', as_json=False)
    objects = _osc(proxy, 'image', 'metadef', 'object', 'list', name)
    assert [o['name'] for o in objects] == ['cpu']
    obj = _osc(proxy, 'image', 'metadef', 'object', 'show', name, 'cpu')
    assert obj['name'] == 'cpu'
    _osc(proxy, 'image', 'metadef', 'object', 'delete', name, 'cpu',
         as_json=False)
    assert _osc(proxy, 'image', 'metadef', 'object', 'list', name) == []

    _osc(proxy, 'image', 'metadef', 'property', 'create', '--name', 'speed',
         '--title', 'Speed', '--type', 'integer', '--schema',
         '{"type": "integer"}', name, as_json=False)
    props = _osc(proxy, 'image', 'metadef', 'property', 'list', name)
    assert [p['name'] for p in props] == ['speed']
    prop = _osc(proxy, 'image', 'metadef', 'property', 'show', name,
                'speed')
    assert prop['type'] == 'integer' and prop['title'] == 'Speed'
    _osc(proxy, 'image', 'metadef', 'property', 'set', '--title', 'Velocity',
         name, 'speed', as_json=False)
    prop = _osc(proxy, 'image', 'metadef', 'property', 'show', name,
                'speed')
    assert prop['title'] == 'Velocity'
    _osc(proxy, 'image', 'metadef', 'property', 'delete', name, 'speed',
         as_json=False)
    assert _osc(proxy, 'image', 'metadef', 'property', 'list', name) == []

    _osc(proxy, 'image', 'metadef', 'namespace', 'delete', name, holder,
         as_json=False)
    gone = _osc(proxy, 'image', 'metadef', 'namespace', 'show', name,
                check=False)
    assert gone.returncode != 0

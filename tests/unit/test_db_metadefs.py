"""db/metadefs.py on the configured test database (SQLite by default)."""

import datetime
import threading
import types

import pytest
import sqlalchemy as sa

from glance_import import context
from glance_import import exception
from glance_import.db import engine as db_engine
from glance_import.db import metadefs as db
from glance_import.db import migration
from glance_import.db import models
from tests import fixtures


@pytest.fixture
def ctx(tmp_path, test_db_url):
    url = test_db_url or 'sqlite:///%s/db.sqlite' % tmp_path
    if test_db_url:
        fixtures.empty_database_if_migrated(url)
    db_engine.configure(types.SimpleNamespace(database=types.SimpleNamespace(
        connection=url, max_retries=3)))
    if not test_db_url:
        migration.upgrade()
    yield context.admin_context('admin-project')
    db_engine.dispose()


def _user(project):
    return context.RequestContext(project_id=project, roles=['member'],
                                  overwrite=False)


def _ns(ctx, name, **values):
    values.setdefault('owner', 'p1')
    return db.namespace_create(ctx, dict(values, namespace=name))


def _race(fn, count=6):
    """Run *fn(i)* in *count* threads released together."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        try:
            results[i] = ('ok', fn(i))
        except Exception as e:
            results[i] = ('error', e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def _one_winner(results, error):
    assert sorted(r[0] for r in results) == (
        ['error'] * (len(results) - 1) + ['ok']), results
    for kind, value in results:
        if kind == 'error':
            assert isinstance(value, error), value


def test_namespace_crud(ctx):
    ns = _ns(ctx, 'OS::Test', display_name='Test', description='d',
             visibility='public', protected=True)
    assert ns['namespace'] == 'OS::Test'
    assert ns['protected'] is True
    assert ns['visibility'] == 'public'
    assert ns['owner'] == 'p1'
    assert ns['created_at'] == ns['updated_at']
    assert db.namespace_get(ctx, 'OS::Test') == ns

    updated = db.namespace_update(ctx, 'OS::Test', {
        'namespace': 'OS::Renamed', 'description': 'new', 'id': 99,
        'protected': False})
    assert updated['namespace'] == 'OS::Renamed'
    assert updated['description'] == 'new'
    assert updated['id'] == ns['id']
    assert updated['protected'] is False
    with pytest.raises(exception.MetadefNamespaceNotFound):
        db.namespace_get(ctx, 'OS::Test')

    deleted = db.namespace_delete(ctx, 'OS::Renamed')
    assert deleted['id'] == ns['id']
    with pytest.raises(exception.MetadefNamespaceNotFound):
        db.namespace_delete(ctx, 'OS::Renamed')


def test_namespace_defaults(ctx):
    ns = db.namespace_create(_user('p2'), {'namespace': 'mine'})
    assert (ns['owner'], ns['visibility'], ns['protected']) == (
        'p2', 'private', False)
    assert ns['display_name'] is None


def test_namespace_duplicates(ctx):
    _ns(ctx, 'a')
    _ns(ctx, 'b')
    with pytest.raises(exception.MetadefDuplicateNamespace) as info:
        _ns(ctx, 'a')
    assert info.value.status == 409
    with pytest.raises(exception.MetadefDuplicateNamespace):
        db.namespace_update(ctx, 'b', {'namespace': 'a'})
    assert db.namespace_get(ctx, 'b')['namespace'] == 'b'


def test_visibility(ctx):
    _ns(ctx, 'public', owner='p1', visibility='public')
    _ns(ctx, 'private1', owner='p1')
    _ns(ctx, 'private2', owner='p2')
    p1, p2, anon = _user('p1'), _user('p2'), _user(None)

    def names(c, **kw):
        return sorted(n['namespace'] for n in db.namespace_list(c, **kw))

    assert names(ctx) == ['private1', 'private2', 'public']
    assert names(p1) == ['private1', 'public']
    assert names(p2) == ['private2', 'public']
    assert names(anon) == ['public']
    assert names(p1, visibility='private') == ['private1']
    for fn, args in ((db.namespace_get, ()), (db.object_list, ()),
                     (db.tag_list, ()), (db.property_list, ()),
                     (db.association_list, ()),
                     (db.tag_create, ('t',)),
                     (db.namespace_update, ({'description': 'x'},)),
                     (db.namespace_delete, ())):
        with pytest.raises(exception.MetadefNamespaceNotFound):
            fn(p2, 'private1', *args)
    with pytest.raises(exception.MetadefNamespaceNotFound):
        db.namespace_list(p2, marker='private1')
    assert db.namespace_get(p2, 'public')['owner'] == 'p1'


def _fill(ctx, name):
    db.resource_type_create(ctx, 'OS::Glance::Image')
    _ns(ctx, name)
    db.object_create(ctx, name, {
        'name': 'obj', 'description': 'an object', 'required': ['a'],
        'properties': {'a': {'type': 'string', 'title': 'A'}}})
    db.property_create(ctx, name, 'prop', {'type': 'integer', 'title': 'P',
                                           'name': 'ignored'})
    db.tag_create_many(ctx, name, ['t1', 't2'])
    db.association_create(ctx, name, {'name': 'OS::Glance::Image',
                                      'prefix': 'hw_',
                                      'properties_target': 'image'})


def _count(model):
    with db_engine.get_engine().connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model))


def test_delete_namespace_removes_its_content(ctx):
    _fill(ctx, 'full')
    other = _ns(ctx, 'other')
    db.tag_create(ctx, 'other', 'kept')
    db.namespace_delete(ctx, 'full')
    assert _count(models.MetadefObject) == 0
    assert _count(models.MetadefProperty) == 0
    assert _count(models.MetadefNamespaceResourceType) == 0
    assert [t['name'] for t in db.tag_list(ctx, 'other')] == ['kept']
    assert db.namespace_get(ctx, 'other') == other
    # Resource types are shared, not part of the namespace.
    assert db.resource_type_get(ctx, 'OS::Glance::Image')['name'] == (
        'OS::Glance::Image')
    # The name is free again.
    _ns(ctx, 'full')


def test_delete_namespace_content_by_kind(ctx):
    _fill(ctx, 'full')
    assert db.namespace_delete_objects(ctx, 'full') == 1
    assert db.object_list(ctx, 'full') == []
    assert len(db.property_list(ctx, 'full')) == 1
    assert db.namespace_delete_properties(ctx, 'full') == 1
    assert db.property_list(ctx, 'full') == []
    assert db.namespace_delete_tags(ctx, 'full') == 2
    assert db.tag_list(ctx, 'full') == []
    assert len(db.association_list(ctx, 'full')) == 1


def test_objects(ctx):
    _ns(ctx, 'ns')
    obj = db.object_create(ctx, 'ns', {
        'name': 'o1', 'description': 'd', 'required': ['x'],
        'properties': {'x': {'type': 'string'}}})
    assert obj['required'] == ['x']
    assert obj['properties'] == {'x': {'type': 'string'}}
    bare = db.object_create(ctx, 'ns', {'name': 'o2'})
    assert (bare['required'], bare['properties']) == ([], {})
    assert [o['name'] for o in db.object_list(ctx, 'ns')] == ['o1', 'o2']
    assert db.object_get(ctx, 'ns', 'o1') == obj
    with pytest.raises(exception.MetadefDuplicateObject):
        db.object_create(ctx, 'ns', {'name': 'o1'})
    with pytest.raises(exception.MetadefDuplicateObject):
        db.object_update(ctx, 'ns', 'o2', {'name': 'o1'})

    updated = db.object_update(ctx, 'ns', 'o1', {
        'name': 'renamed', 'required': [], 'properties': {'y': {}}})
    assert updated['name'] == 'renamed'
    assert updated['description'] == 'd'
    assert updated['properties'] == {'y': {}}
    with pytest.raises(exception.MetadefObjectNotFound):
        db.object_get(ctx, 'ns', 'o1')
    db.object_delete(ctx, 'ns', 'renamed')
    with pytest.raises(exception.MetadefObjectNotFound):
        db.object_delete(ctx, 'ns', 'renamed')
    # Same object name in another namespace is fine.
    _ns(ctx, 'ns2')
    db.object_create(ctx, 'ns2', {'name': 'o2'})


def test_properties(ctx):
    _ns(ctx, 'ns')
    prop = db.property_create(ctx, 'ns', 'p', {
        'name': 'p', 'type': 'string', 'enum': ['a', 'b']})
    assert prop['name'] == 'p'
    assert prop['schema'] == {'type': 'string', 'enum': ['a', 'b']}
    assert db.property_get(ctx, 'ns', 'p') == prop
    db.property_create(ctx, 'ns', 'q', {'type': 'boolean'})
    with pytest.raises(exception.MetadefDuplicateProperty):
        db.property_create(ctx, 'ns', 'p', {})
    with pytest.raises(exception.MetadefDuplicateProperty):
        db.property_update(ctx, 'ns', 'q', 'p', {})
    updated = db.property_update(ctx, 'ns', 'p', 'p2', {'type': 'integer'})
    assert (updated['name'], updated['schema']) == ('p2', {'type': 'integer'})
    assert [p['name'] for p in db.property_list(ctx, 'ns')] == ['p2', 'q']
    db.property_delete(ctx, 'ns', 'p2')
    with pytest.raises(exception.MetadefPropertyNotFound):
        db.property_get(ctx, 'ns', 'p2')


def test_tags_are_case_insensitive(ctx):
    _ns(ctx, 'ns')
    tag = db.tag_create(ctx, 'ns', 'Linux')
    assert tag['name'] == 'Linux'
    with pytest.raises(exception.MetadefDuplicateTag) as info:
        db.tag_create(ctx, 'ns', 'LINUX')
    assert info.value.status == 409
    assert db.tag_get(ctx, 'ns', 'linux') == tag
    db.tag_create(ctx, 'ns', 'other')
    with pytest.raises(exception.MetadefDuplicateTag):
        db.tag_update(ctx, 'ns', 'other', 'linux')
    # A change of case only is not a clash with itself.
    assert db.tag_update(ctx, 'ns', 'linux', 'LiNuX')['name'] == 'LiNuX'
    with pytest.raises(exception.MetadefDuplicateTag):
        db.tag_create_many(ctx, 'ns', ['a', 'A'])
    with pytest.raises(exception.MetadefDuplicateTag):
        db.tag_create_many(ctx, 'ns', ['new', 'OTHER'], append=True)
    assert sorted(t['name'] for t in db.tag_list(ctx, 'ns')) == [
        'LiNuX', 'other']
    db.tag_delete(ctx, 'ns', 'LINUX')
    with pytest.raises(exception.MetadefTagNotFound):
        db.tag_get(ctx, 'ns', 'linux')


def test_tag_create_many(ctx):
    _ns(ctx, 'ns')
    db.tag_create_many(ctx, 'ns', ['a', 'b'])
    db.tag_create_many(ctx, 'ns', ['c'], append=True)
    assert sorted(t['name'] for t in db.tag_list(ctx, 'ns')) == [
        'a', 'b', 'c']
    # Replacing may reuse a name, in any case.
    created = db.tag_create_many(ctx, 'ns', ['A', 'd'])
    assert [t['name'] for t in created] == ['A', 'd']
    assert sorted(t['name'] for t in db.tag_list(ctx, 'ns')) == ['A', 'd']
    assert db.tag_create_many(ctx, 'ns', []) == []
    assert len(db.tag_list(ctx, 'ns')) == 2


def _set_created(model, name_column, created):
    """Give rows chosen creation times (name -> datetime)."""
    with db_engine.get_engine().begin() as conn:
        for name, when in created.items():
            conn.execute(sa.update(model).where(
                name_column == name).values(created_at=when))


def test_namespace_paging(ctx):
    base = datetime.datetime(2026, 1, 1)
    names = ['n%d' % i for i in range(7)]
    for name in names:
        _ns(ctx, name, display_name=None if name in ('n2', 'n5') else
            'z' + name)
    # Ties on created_at between n1..n4: the id breaks them.
    _set_created(models.MetadefNamespace, models.MetadefNamespace.namespace,
                 {n: base + datetime.timedelta(
                     seconds=1 if n in ('n1', 'n2', 'n3', 'n4') else i)
                  for i, n in enumerate(names)})

    def pages(**kw):
        seen, marker = [], None
        while True:
            page = db.namespace_list(ctx, marker=marker, limit=2, **kw)
            seen.extend(n['namespace'] for n in page)
            if len(page) < 2:
                return seen
            marker = page[-1]['namespace']

    everything = [n['namespace'] for n in db.namespace_list(ctx)]
    assert everything == ['n6', 'n5', 'n4', 'n3', 'n2', 'n1', 'n0']
    assert pages() == everything
    assert pages(sort_dir='asc') == everything[::-1]
    assert pages(sort_key='namespace', sort_dir='asc') == names
    assert pages(sort_key='id', sort_dir='desc') == names[::-1]
    # NULL display names come first ascending, last descending.
    by_display = pages(sort_key='display_name', sort_dir='asc')
    assert by_display == ['n2', 'n5', 'n0', 'n1', 'n3', 'n4', 'n6']
    assert pages(sort_key='display_name') == [
        'n6', 'n4', 'n3', 'n1', 'n0', 'n5', 'n2']
    assert db.namespace_list(ctx, limit=0) == []
    with pytest.raises(exception.MetadefNamespaceNotFound):
        db.namespace_list(ctx, marker='missing')
    with pytest.raises(exception.BadRequest):
        db.namespace_list(ctx, sort_key='nope')
    with pytest.raises(exception.BadRequest):
        db.namespace_list(ctx, sort_dir='up')


def test_namespace_list_by_resource_type(ctx):
    for name in ('a', 'b', 'c'):
        _ns(ctx, name)
    db.resource_type_create(ctx, 'T1')
    db.resource_type_create(ctx, 'T2')
    db.association_create(ctx, 'a', {'name': 'T1'})
    db.association_create(ctx, 'b', {'name': 'T2'})
    db.association_create(ctx, 'c', {'name': 'T1'})
    db.association_create(ctx, 'c', {'name': 'T2'})

    def names(types):
        return sorted(n['namespace'] for n in db.namespace_list(
            ctx, resource_types=types))

    assert names(['T1']) == ['a', 'c']
    assert names(['T1', 'T2']) == ['a', 'b', 'c']
    assert names('T2') == ['b', 'c']
    assert names(['unknown']) == []


def test_tag_paging(ctx):
    _ns(ctx, 'ns')
    db.tag_create_many(ctx, 'ns', ['b', 'D', 'a', 'c'])
    by_name = [t['name'] for t in db.tag_list(ctx, 'ns', sort_key='name',
                                               sort_dir='asc')]
    assert sorted(by_name, key=str.lower) == ['a', 'b', 'c', 'D']
    # All made in one second: created_at ties, broken by id.
    assert [t['name'] for t in db.tag_list(ctx, 'ns')] == [
        'c', 'a', 'D', 'b']
    page = db.tag_list(ctx, 'ns', marker='d', limit=2)
    assert [t['name'] for t in page] == ['b']
    page = db.tag_list(ctx, 'ns', marker='D', limit=1, sort_dir='asc')
    assert [t['name'] for t in page] == ['a']
    with pytest.raises(exception.MetadefTagNotFound):
        db.tag_list(ctx, 'ns', marker='zz')


def test_resource_types_and_associations(ctx):
    _ns(ctx, 'ns')
    rt = db.resource_type_create(ctx, 'OS::Nova::Server', protected=True)
    assert rt['protected'] is True
    assert db.resource_type_get(ctx, 'OS::Nova::Server') == rt
    with pytest.raises(exception.MetadefDuplicateResourceType):
        db.resource_type_create(ctx, 'OS::Nova::Server')
    # An unknown type is created with its first association, as Glance.
    made = db.association_create(ctx, 'ns', {'name': 'OS::Made'})
    assert db.resource_type_get(ctx, 'OS::Made')['protected'] is False
    db.association_delete(ctx, 'ns', made['name'])
    assoc = db.association_create(ctx, 'ns', {
        'name': 'OS::Nova::Server', 'prefix': 'hw:',
        'properties_target': None})
    assert (assoc['name'], assoc['prefix'], assoc['properties_target']) == (
        'OS::Nova::Server', 'hw:', None)
    assert db.association_list(ctx, 'ns') == [assoc]
    with pytest.raises(exception.MetadefDuplicateResourceTypeAssociation):
        db.association_create(ctx, 'ns', {'name': 'OS::Nova::Server'})
    db.association_delete(ctx, 'ns', 'OS::Nova::Server')
    assert db.association_list(ctx, 'ns') == []
    with pytest.raises(exception.MetadefResourceTypeAssociationNotFound):
        db.association_delete(ctx, 'ns', 'OS::Nova::Server')
    with pytest.raises(exception.MetadefResourceTypeNotFound):
        db.association_delete(ctx, 'ns', 'OS::Unknown')
    assert [r['name'] for r in db.resource_type_list(ctx)] == [
        'OS::Nova::Server', 'OS::Made']


def test_namespace_create_full(ctx):
    db.resource_type_create(ctx, 'Known')
    ns = db.namespace_create_full(
        ctx, {'namespace': 'full', 'owner': 'p1', 'visibility': 'public'},
        objects=[{'name': 'o', 'description': None, 'required': [],
                  'properties': {'x': {'type': 'string'}}}],
        properties={'p': {'type': 'integer', 'minimum': 0}},
        tags=[{'name': 't'}],
        associations=[{'name': 'Known', 'prefix': 'k_',
                       'properties_target': None},
                      {'name': 'New', 'prefix': None,
                       'properties_target': 'image'}])
    assert ns['visibility'] == 'public'
    assert db.object_get(ctx, 'full', 'o')['properties'] == {
        'x': {'type': 'string'}}
    assert db.property_get(ctx, 'full', 'p')['schema'] == {
        'type': 'integer', 'minimum': 0}
    assert db.tag_get(ctx, 'full', 't')['name'] == 't'
    assert sorted(a['name'] for a in db.association_list(ctx, 'full')) == [
        'Known', 'New']
    assert db.resource_type_get(ctx, 'New')['protected'] is False


def test_namespace_create_full_is_one_transaction(ctx):
    with pytest.raises(exception.MetadefDuplicateTag):
        db.namespace_create_full(
            ctx, {'namespace': 'full', 'owner': 'p1'},
            objects=[{'name': 'o'}], properties={'p': {}},
            tags=[{'name': 't'}, {'name': 'T'}],
            associations=[{'name': 'New'}])
    with pytest.raises(exception.MetadefNamespaceNotFound):
        db.namespace_get(ctx, 'full')
    assert _count(models.MetadefObject) == 0
    assert _count(models.MetadefProperty) == 0
    with pytest.raises(exception.MetadefResourceTypeNotFound):
        db.resource_type_get(ctx, 'New')
    with pytest.raises(exception.MetadefDuplicateObject):
        db.namespace_create_full(
            ctx, {'namespace': 'full', 'owner': 'p1'},
            objects=[{'name': 'o'}, {'name': 'o'}])
    assert db.namespace_list(ctx) == []


def test_concurrent_creates_of_one_name(ctx):
    _ns(ctx, 'ns')
    db.resource_type_create(ctx, 'RT')
    admin = context.admin_context

    _one_winner(_race(lambda i: _ns(admin('x'), 'same')),
                exception.MetadefDuplicateNamespace)
    _one_winner(_race(lambda i: db.object_create(admin('x'), 'ns',
                                                 {'name': 'o'})),
                exception.MetadefDuplicateObject)
    _one_winner(_race(lambda i: db.property_create(admin('x'), 'ns', 'p',
                                                   {})),
                exception.MetadefDuplicateProperty)
    # Differently cased names still clash.
    _one_winner(_race(lambda i: db.tag_create(admin('x'), 'ns',
                                              'tag' if i % 2 else 'TAG')),
                exception.MetadefDuplicateTag)
    _one_winner(_race(lambda i: db.resource_type_create(admin('x'), 'R2')),
                exception.MetadefDuplicateResourceType)
    _one_winner(_race(lambda i: db.association_create(admin('x'), 'ns',
                                                      {'name': 'RT'})),
                exception.MetadefDuplicateResourceTypeAssociation)
    assert len(db.tag_list(ctx, 'ns')) == 1


def test_concurrent_full_creates_share_new_resource_types(ctx):
    results = _race(lambda i: db.namespace_create_full(
        context.admin_context('x'), {'namespace': 'full%d' % i},
        associations=[{'name': 'Fresh'}]), count=4)
    assert [r[0] for r in results] == ['ok'] * 4, results
    assert [r['name'] for r in db.resource_type_list(ctx)] == ['Fresh']


def test_namespace_update_without_owner_keeps_it(ctx):
    _ns(ctx, 'ns', visibility='public')
    updated = db.namespace_update(ctx, 'ns', {
        'owner': None, 'visibility': None, 'protected': None})
    assert (updated['owner'], updated['visibility'], updated['protected']) \
        == ('p1', 'private', False)


def test_association_lists_of_a_page(ctx):
    for name in ('a', 'b', 'c'):
        _ns(ctx, name)
    db.association_create(ctx, 'a', {'name': 'OS::Glance::Image',
                                     'prefix': 'hw_'})
    db.association_create(ctx, 'a', {'name': 'OS::Nova::Flavor'})
    db.association_create(ctx, 'c', {'name': 'OS::Nova::Flavor'})
    page = db.namespace_list(ctx, sort_key='namespace', sort_dir='asc')
    lists = db.association_lists(ctx, page)
    assert lists == {name: db.association_list(ctx, name)
                     for name in ('a', 'b', 'c')}
    assert [a['name'] for a in lists['a']] == ['OS::Glance::Image',
                                              'OS::Nova::Flavor']
    assert lists['b'] == []
    assert db.association_lists(ctx, []) == {}

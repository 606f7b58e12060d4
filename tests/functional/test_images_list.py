"""GET /v2/images: filters, sorting, paging, visibility, statement count."""

import threading
import urllib.parse

import pytest

from tests import fixtures
from tests.functional import imageutil
from tests.functional.imageutil import create
from tests.functional.imageutil import ids
from tests.functional.imageutil import message
from tests.functional.imageutil import names


@pytest.fixture
def owner(client):
    """A member of a fresh project, with a few varied images."""
    user = client.as_caller(imageutil.project())
    create(user, name='alpha', disk_format='raw', container_format='bare',
           tags=['linux', 'small'], os_distro='debian', visibility='private')
    create(user, name='beta', disk_format='qcow2', container_format='bare',
           tags=['linux'], os_distro='ubuntu', protected=True)
    create(user, name='gamma,1', disk_format='iso', container_format='ovf',
           tags=['small'], min_disk=5)
    create(user, name='hidden', os_hidden=True)
    return user


def _get(user, **params):
    resp = user.get('/v2/images', params=params)
    assert resp.status_code == 200, resp.text
    return resp


def _names(user, **params):
    return sorted(names(_get(user, **params)))


def _mine(user, **params):
    return _names(user, owner=user.headers['X-Project-Id'], **params)


def test_default_list_excludes_hidden(owner):
    assert _mine(owner) == ['alpha', 'beta', 'gamma,1']
    assert _mine(owner, os_hidden='true') == ['hidden']
    assert _mine(owner, os_hidden='false') == ['alpha', 'beta', 'gamma,1']
    assert _mine(owner, os_hidden='True') == ['hidden']


def test_equality_and_in_filters(owner):
    assert _mine(owner, name='alpha') == ['alpha']
    assert _mine(owner, name='eq:alpha') == ['alpha']
    assert _mine(owner, name='in:alpha,beta,nope') == ['alpha', 'beta']
    assert _mine(owner, name='in:"gamma,1",alpha') == ['alpha', 'gamma,1']
    assert _mine(owner, disk_format='qcow2') == ['beta']
    assert _mine(owner, disk_format='in:raw,iso') == ['alpha', 'gamma,1']
    assert _mine(owner, container_format='ovf') == ['gamma,1']
    assert _mine(owner, status='queued') == ['alpha', 'beta', 'gamma,1']
    assert _mine(owner, status='active') == []
    assert _mine(owner, visibility='private') == ['alpha']
    assert _mine(owner, visibility='shared') == ['beta', 'gamma,1']
    assert _mine(owner, visibility='all') == ['alpha', 'beta', 'gamma,1']
    assert _mine(owner, protected='true') == ['beta']
    assert _mine(owner, protected='false') == ['alpha', 'gamma,1']
    assert _mine(owner, os_distro='ubuntu') == ['beta']
    assert _mine(owner, os_distro='ubuntu', name='alpha') == []
    assert _mine(owner, min_disk='5') == ['gamma,1']
    first = _get(owner, name='alpha').json()['images'][0]
    assert _mine(owner, id=first['id']) == ['alpha']
    assert _mine(owner, id='in:%s' % first['id']) == ['alpha']


def test_tag_filter_is_repeatable_and(owner):
    assert _mine(owner, tag='linux') == ['alpha', 'beta']
    assert _mine(owner, tag=['linux', 'small']) == ['alpha']
    assert _mine(owner, tag=['linux', 'absent']) == []


def test_size_filters(client):
    user = client.as_caller(imageutil.project())
    for name, size in (('s10', 10), ('s20', 20), ('s30', 30)):
        imageutil.active_image(user, data=b'x' * size, name=name)
    assert _mine(user, size_min='20') == ['s20', 's30']
    assert _mine(user, size_max='20') == ['s10', 's20']
    assert _mine(user, size_min='11', size_max='29') == ['s20']
    assert _mine(user, size='30') == ['s30']
    assert _mine(user, status='active') == ['s10', 's20', 's30']


def test_time_filters(owner):
    images = _get(owner, owner=owner.headers['X-Project-Id']).json()[
        'images']
    newest = max(image['created_at'] for image in images)
    oldest = min(image['created_at'] for image in images)
    assert _mine(owner, created_at='lte:' + newest) == [
        'alpha', 'beta', 'gamma,1']
    assert _mine(owner, created_at='gte:' + oldest) == [
        'alpha', 'beta', 'gamma,1']
    assert _mine(owner, created_at='gt:' + newest) == []
    assert _mine(owner, created_at='lt:' + oldest) == []
    assert _mine(owner, updated_at='gt:2000-01-01T00:00:00Z') == [
        'alpha', 'beta', 'gamma,1']
    assert _mine(owner, updated_at='lt:2000-01-01T00:00:00+02:00') == []
    assert _mine(owner, created_at='gt:9999-12-31T23:59:59Z') == []
    assert _mine(owner, created_at='lt:2000-01-01T00:00:00.5Z') == []
    same = [i['name'] for i in images
            if i['created_at'] == newest and not i['os_hidden']]
    assert _mine(owner, created_at=newest) == sorted(same)
    assert _mine(owner, created_at='eq:' + newest) == sorted(same)
    assert len(_mine(owner, created_at='neq:' + newest)) == 3 - len(same)


@pytest.mark.parametrize('params, text', [
    ({'name': 'like:alp'}, "Unable to filter by unknown operator 'like'."),
    ({'name': 'a:b'}, "Unable to filter by unknown operator 'a'."),
    ({'name': 'in:"a,b'}, 'unbalanced quotes'),
    ({'status': 'sleeping'}, 'Invalid status value: sleeping'),
    ({'status': 'in:active,bogus'}, 'Invalid status value: bogus'),
    ({'visibility': 'everyone'}, 'Invalid visibility value: everyone'),
    ({'member_status': 'maybe'}, 'Invalid status: maybe'),
    ({'os_hidden': 'yes'}, "Invalid value 'yes' for 'os_hidden' filter."),
    ({'protected': 'True'}, "Invalid value 'True' for 'protected' filter."),
    ({'size_min': 'ten'}, 'size_min param must be an integer'),
    ({'size_max': '-1'}, 'size_max param must be positive'),
    ({'size_max': str(2 ** 64)}, 'size_max param is too large'),
    ({'created_at': 'gt:yesterday'}, 'Invalid time format: yesterday'),
    ({'created_at': 'about:2020-01-01T00:00:00Z'},
     "Unable to filter by unknown operator 'about'."),
    ({'updated_at': 'eq:2020-13-45'}, 'Invalid time format'),
    ({'changes-since': '2020-01-01T00:00:00Z'},
     'The changes-since filter is no longer available'),
    ({'limit': 'ten'}, 'limit param must be an integer'),
    ({'limit': '-1'}, 'limit param must be positive'),
    ({'limit': '1.5'}, 'limit param must be an integer'),
    ({'marker': '6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c'},
     'Invalid marker. Image 6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c could '
     'not be found.'),
    ({'sort_key': 'owner'}, 'Invalid sort key: owner'),
    ({'sort_dir': 'up'}, 'Invalid sort direction: up'),
    ({'sort_key': ['name', 'size'], 'sort_dir': ['asc', 'desc', 'asc']},
     'Number of sort dirs does not match'),
    ({'sort': 'name:asc', 'sort_key': 'size'},
     'cannot be combined with sort_key'),
    ({'sort': 'name:sideways'}, 'Invalid sort direction: sideways'),
    ({'sort': 'bogus'}, 'Invalid sort key: bogus'),
    ({'limit': ['1', '2']}, 'Parameter limit may be given only once.'),
    ({'name': 'a\x00b'}, 'must not contain NUL characters'),
])
def test_bad_queries(client, params, text):
    resp = client.get('/v2/images', params=params)
    assert resp.status_code == 400, resp.text
    assert text in message(resp)


def test_bad_query_encoding(client):
    resp = client.get('/v2/images?name=%ff%fe')
    assert resp.status_code == 400
    assert 'not valid UTF-8' in message(resp)


def test_sorting(owner):
    project = owner.headers['X-Project-Id']
    assert names(_get(owner, owner=project, sort_key='name',
                      sort_dir='asc')) == ['alpha', 'beta', 'gamma,1']
    assert names(_get(owner, owner=project, sort_key='name')) == [
        'gamma,1', 'beta', 'alpha']
    assert names(_get(owner, owner=project, sort='name:asc')) == [
        'alpha', 'beta', 'gamma,1']
    assert names(_get(owner, owner=project, sort='disk_format:desc,name')) \
        == ['alpha', 'beta', 'gamma,1']
    assert names(_get(owner, owner=project,
                      sort_key=['container_format', 'name'],
                      sort_dir=['asc', 'desc'])) == [
        'beta', 'alpha', 'gamma,1']
    assert names(_get(owner, owner=project, sort_key=['disk_format'],
                      sort_dir='asc')) == ['gamma,1', 'beta', 'alpha']


def _walk(user, **params):
    """Follow next links from the first page; returns every page."""
    pages = [_get(user, **params).json()]
    while 'next' in pages[-1]:
        assert len(pages) < 50
        resp = user.get(pages[-1]['next'])
        assert resp.status_code == 200
        pages.append(resp.json())
    return pages


@pytest.mark.parametrize('sort', [
    {'sort_key': 'name', 'sort_dir': 'asc'},
    {'sort_key': 'name', 'sort_dir': 'desc'},
    {'sort': 'disk_format:asc,size:desc'},
    {'sort_key': 'updated_at'},
    {'sort_key': 'created_at', 'sort_dir': 'asc'},
    {'sort_key': 'id'},
    {'sort': 'size:asc,name:asc'},
])
def test_paging_covers_everything_once(client, sort):
    user = client.as_caller(imageutil.project())
    project = user.headers['X-Project-Id']
    formats = [None, 'raw', 'qcow2']
    for i in range(11):
        body = {'name': None if i % 4 == 0 else 'img-%02d' % (i % 5)}
        if formats[i % 3]:
            body['disk_format'] = formats[i % 3]
        create(user, **body)
    everything = ids(_get(user, owner=project, limit='100', **sort))
    assert len(everything) == 11
    pages = _walk(user, owner=project, limit='3', **sort)
    walked = [image['id'] for page in pages for image in page['images']]
    assert walked == everything
    assert [len(page['images']) for page in pages] == [3, 3, 3, 2]
    first = pages[0]['first']
    assert first.startswith('/v2/images?')
    assert 'marker' not in urllib.parse.parse_qs(first.split('?', 1)[1])
    query = urllib.parse.parse_qs(pages[0]['next'].split('?', 1)[1])
    assert query['marker'] == [pages[0]['images'][-1]['id']]
    assert query['limit'] == ['3']
    assert query['owner'] == [project]


def test_limit_default_and_cap(service_factory):
    svc = service_factory({'limit_param_default': 2, 'api_limit_max': 3})
    client = fixtures.Client(svc.url)
    for i in range(5):
        create(client, name='n%d' % i)
    body = client.get('/v2/images').json()
    assert len(body['images']) == 2
    assert body['first'] == '/v2/images'
    assert body['schema'] == '/v2/schemas/images'
    assert 'marker=' in body['next']
    assert len(client.get('/v2/images?limit=100').json()['images']) == 3
    assert client.get('/v2/images?limit=0').json()['images'] == []
    last = client.get('/v2/images?limit=3&sort_key=name&sort_dir=asc')
    resp = client.get('/v2/images?limit=3&sort_key=name&sort_dir=asc'
                      '&marker=%s' % ids(last)[-1])
    assert names(resp) == ['n3', 'n4']
    assert 'next' not in resp.json()


def test_visibility_rules(client):
    alice = client.as_caller(imageutil.project())
    bob = client.as_caller(imageutil.project())
    a_id = alice.headers['X-Project-Id']
    b_id = bob.headers['X-Project-Id']
    create(alice, name='a-private', visibility='private')
    shared = create(alice, name='a-shared', visibility='shared')
    create(alice, name='a-community', visibility='community')
    create(client, name='public-%s' % a_id, visibility='public')
    # Community images are listed by default only for their owner.
    assert _names(alice, owner=a_id) == [
        'a-community', 'a-private', 'a-shared']
    assert _names(alice, owner=a_id, visibility='community') == [
        'a-community']
    assert _names(alice, owner=a_id, visibility='all') == [
        'a-community', 'a-private', 'a-shared']
    assert _names(bob, owner=a_id) == []
    assert _names(bob, owner=a_id, visibility='community') == [
        'a-community']
    assert _names(bob, owner=a_id, visibility='all') == ['a-community']
    assert _names(bob, name='public-%s' % a_id) == ['public-%s' % a_id]
    # Shared images appear for a member once accepted.
    members = '/v2/images/%s/members' % shared['id']
    assert alice.post(members, json={'member': b_id}).status_code == 200
    assert _names(bob, owner=a_id) == []
    assert _names(bob, owner=a_id, member_status='pending') == ['a-shared']
    assert _names(bob, owner=a_id, member_status='all') == ['a-shared']
    resp = bob.put(members + '/' + b_id, json={'status': 'accepted'})
    assert resp.status_code == 200
    assert _names(bob, owner=a_id) == ['a-shared']
    assert _names(bob, owner=a_id, visibility='shared') == ['a-shared']
    assert _names(bob, owner=a_id, member_status='pending') == []
    resp = bob.put(members + '/' + b_id, json={'status': 'rejected'})
    assert _names(bob, owner=a_id) == []
    assert _names(bob, owner=a_id, member_status='rejected') == ['a-shared']
    # A marker the caller cannot see is refused.
    private = _get(alice, name='a-private').json()['images'][0]['id']
    resp = bob.get('/v2/images', params={'marker': private})
    assert resp.status_code == 400
    # Admins see everything except other projects' community images
    # unless asked for.
    assert _names(client, owner=a_id) == ['a-private', 'a-shared']
    assert _names(client, owner=a_id, visibility='all') == [
        'a-community', 'a-private', 'a-shared']


def test_reader_may_list(client):
    project = imageutil.project()
    create(client.as_caller(project), name='r')
    reader = client.as_caller(project, roles='reader')
    assert _names(reader, owner=project) == ['r']


def test_killed_and_deleted_images_never_listed(client, service):
    user = client.as_caller(imageutil.project())
    killed = create(user, name='killed')
    gone = create(user, name='gone')
    from glance_import import context
    from glance_import.db import images as db_images
    db_images.image_update(context.admin_context(), killed['id'],
                           {'status': 'killed'})
    assert user.delete('/v2/images/%s' % gone['id']).status_code == 204
    assert _mine(user) == []
    assert _mine(user, status='killed') == []
    assert _mine(user, status='deleted') == []


class _StatementCounter:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, conn, cursor, statement, *args):
        with self.lock:
            self.count += 1


def _statements_for(user, counter, params):
    user.get('/v2/images', params=params)
    before = counter.count
    resp = user.get('/v2/images', params=params)
    assert resp.status_code == 200
    return counter.count - before, len(resp.json()['images'])


def test_list_costs_a_constant_number_of_statements(client, service):
    import sqlalchemy as sa

    from glance_import.db import engine as db_engine
    counter = _StatementCounter()
    engine = db_engine.get_engine()
    sa.event.listen(engine, 'before_cursor_execute', counter)
    try:
        costs = []
        for count in (3, 30):
            user = client.as_caller(imageutil.project())
            for i in range(count):
                create(user, name='n%d' % i, tags=['t1', 't2'], prop='v',
                       disk_format='raw', container_format='bare')
            params = {'owner': user.headers['X-Project-Id'], 'limit': '100',
                      'tag': 't1', 'prop': 'v', 'sort': 'name:asc'}
            cost, listed = _statements_for(user, counter, params)
            assert listed == count
            paged = dict(params, limit='2',
                         marker=ids(_get(user, **params))[0])
            costs.append((cost, _statements_for(user, counter, paged)[0]))
        assert costs[0] == costs[1]
        # The page and its children; with a marker, the marker too (and
        # on SQLite the BEGIN oslo.db sends).
        assert costs[0][0] <= 3
        assert costs[0][1] <= 4
    finally:
        sa.event.remove(engine, 'before_cursor_execute', counter)

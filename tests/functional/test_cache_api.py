"""The cache management API (/v2/cache) and the legacy calls of the
cachemanagement flavor, with the statuses and bodies of Glance 33.

Every status, message and body asserted here was first read from a
Glance 33 with image_cache_dir set, behind its caching and cachemanage
filters; where this service differs on purpose, the test says so.
"""

import os
import uuid

import pytest

from glance_import.cache import image_cache
from tests import fixtures
from tests.functional import imageutil

DATA = b'cached image data\n' * 4096
NODE = 'http://node-a.example:9292'
CACHE_OFF = 'Caching via API is not supported at this site.'
CLEAR_400 = ("If provided 'x-image-cache-clear-target' must be 'cache', "
             "'queue' or empty string.")
ENTRY_KEYS = {'id', 'image_id', 'last_accessed', 'last_modified', 'size',
              'hits', 'checksum'}


@pytest.fixture
def caching(service_factory, tmp_path):
    """An in-process service with a cache; returns (service, client)."""
    cache_dir = tmp_path / 'cache'

    def start(**overrides):
        overrides.setdefault('image_cache_dir', str(cache_dir))
        overrides.setdefault('paste_deploy.flavor', 'caching')
        overrides.setdefault('worker_self_reference_url', NODE)
        svc = service_factory(overrides)
        return svc, fixtures.Client(svc.url)
    start.cache_dir = cache_dir
    return start


def _state(client):
    resp = client.get('/v2/cache')
    assert resp.status_code == 200, resp.text
    return resp.json()


def _cached_ids(client):
    return [e['image_id'] for e in _state(client)['cached_images']]


def _wait_cached(client, image_id):
    fixtures.wait_until(lambda: image_id in _cached_ids(client), 30,
                        message='image %s cached' % image_id)


def _fill_by_download(client, image_id):
    resp = client.get('/v2/images/%s/file' % image_id)
    assert resp.status_code == 200
    _wait_cached(client, image_id)


def _assert_empty(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.content == b''


# Cache off ---------------------------------------------------------------

def test_every_call_is_404_when_the_cache_is_off(client):
    image = imageutil.active_image(client)
    calls = [('GET', '/v2/cache'), ('DELETE', '/v2/cache'),
             ('PUT', '/v2/cache/%s' % image['id']),
             ('DELETE', '/v2/cache/%s' % image['id']),
             ('GET', '/v2/cache/nodes/%s' % image['id']),
             ('GET', '/v2/cache/nodes/%s' % uuid.uuid4()),
             ('POST', '/v2/cache/clean'), ('POST', '/v2/cache/prune')]
    for method, path in calls:
        resp = client.request(method, path)
        assert resp.status_code == 404, (method, path)
        assert CACHE_OFF in resp.text, (method, path)
    # The image is looked up first; Glance 33 answers the DELETE of an
    # unknown image with a 500 here (it asks the missing cache).
    unknown = str(uuid.uuid4())
    for method in ('PUT', 'DELETE'):
        resp = client.request(method, '/v2/cache/%s' % unknown)
        assert resp.status_code == 404
        assert 'Image %s not found.' % unknown in resp.text


def test_policy_comes_before_the_cache_off_404(client):
    member = client.as_caller(imageutil.project())
    image = imageutil.active_image(member)
    for method, path, rule in [
            ('GET', '/v2/cache', 'cache_list'),
            ('DELETE', '/v2/cache', 'cache_delete'),
            ('PUT', '/v2/cache/%s' % image['id'], 'cache_image'),
            ('DELETE', '/v2/cache/%s' % image['id'], 'cache_delete'),
            ('GET', '/v2/cache/nodes/%s' % uuid.uuid4(),
             'list_cached_nodes'),
            ('POST', '/v2/cache/clean', 'cache_clean'),
            ('POST', '/v2/cache/prune', 'cache_prune')]:
        resp = member.request(method, path)
        assert resp.status_code == 403, (method, path)
        assert 'You are not authorized to complete %s action.' % rule \
            in resp.text


def test_no_cache_versions_without_a_cache(client):
    ids = [v['id'] for v in client.get('/versions').json()['versions']]
    assert 'v2.14' not in ids and 'v2.18' not in ids


# State, queue, delete ----------------------------------------------------

def test_empty_cache_state(caching):
    svc, client = caching()
    resp = client.get('/v2/cache')
    assert resp.status_code == 200
    assert resp.headers['Content-Type'] == 'application/json'
    assert resp.json() == {'cached_images': [], 'queued_images': []}


def test_queued_image_is_cached_by_the_worker(caching):
    # The worker's period is long: only PUT waking it caches the image.
    svc, client = caching(cache_prefetcher_interval=3600)
    image = imageutil.active_image(client, DATA)
    resp = client.put('/v2/cache/%s' % image['id'])
    _assert_empty(resp, 202)
    _wait_cached(client, image['id'])
    state = _state(client)
    assert state['queued_images'] == []
    [entry] = state['cached_images']
    assert set(entry) == ENTRY_KEYS
    assert entry['image_id'] == image['id']
    assert entry['size'] == len(DATA)
    assert entry['hits'] == 0
    assert isinstance(entry['last_accessed'], float)
    with open(caching.cache_dir / image['id'], 'rb') as f:
        assert f.read() == DATA
    # Queueing a cached image again is accepted and changes nothing.
    _assert_empty(client.put('/v2/cache/%s' % image['id']), 202)
    assert _state(client)['queued_images'] == []


def test_queue_refusals(caching):
    svc, client = caching()
    unknown = str(uuid.uuid4())
    for image_id in (unknown, 'not-a-uuid', 'nodes'):
        resp = client.put('/v2/cache/%s' % image_id)
        assert resp.status_code == 404
        assert 'Image %s not found.' % image_id in resp.text
    queued = imageutil.create(client, disk_format='raw',
                              container_format='bare')
    resp = client.put('/v2/cache/%s' % queued['id'])
    assert resp.status_code == 400
    assert 'Only images with status active can be targeted for queueing' \
        in resp.text
    assert _state(client)['queued_images'] == []


def test_an_invisible_image_is_404_before_policy(caching):
    svc, client = caching()
    owner = client.as_caller(imageutil.project())
    image = imageutil.active_image(owner)
    other = client.as_caller(imageutil.project())
    resp = other.put('/v2/cache/%s' % image['id'])
    assert resp.status_code == 404
    assert 'Image %s not found.' % image['id'] in resp.text
    resp = owner.put('/v2/cache/%s' % image['id'])
    assert resp.status_code == 403
    assert 'You are not authorized to complete cache_image action.' \
        in resp.text


def test_delete_one_image_from_cache_and_queue(caching):
    svc, client = caching()
    image = imageutil.active_image(client, DATA)
    _fill_by_download(client, image['id'])
    _assert_empty(client.delete('/v2/cache/%s' % image['id']), 204)
    assert _cached_ids(client) == []
    assert not (caching.cache_dir / image['id']).exists()
    # Held only in the queue (no image behind it): still deleted.
    ghost = str(uuid.uuid4())
    image_cache.current().queue(ghost)
    assert _state(client)['queued_images'] == [ghost]
    _assert_empty(client.delete('/v2/cache/%s' % ghost), 204)
    assert _state(client)['queued_images'] == []
    # Neither an image nor held: 404. An image that is not held: 204.
    resp = client.delete('/v2/cache/%s' % ghost)
    assert resp.status_code == 404
    assert 'Image %s not found.' % ghost in resp.text
    _assert_empty(client.delete('/v2/cache/%s' % image['id']), 204)


def test_a_held_image_the_caller_cannot_see_is_403_not_404(caching):
    svc, client = caching()
    image = imageutil.active_image(client.as_caller(imageutil.project()))
    _fill_by_download(client, image['id'])
    other = client.as_caller(imageutil.project(), roles='member')
    resp = other.delete('/v2/cache/%s' % image['id'])
    assert resp.status_code == 403
    assert 'cache_delete' in resp.text
    assert _cached_ids(client) == [image['id']]


def test_clear_targets(caching):
    svc, client = caching()
    cache = image_cache.current()

    def fill():
        image = imageutil.active_image(client, DATA)
        _fill_by_download(client, image['id'])
        queued = str(uuid.uuid4())
        cache.queue(queued)
        return image['id'], queued

    cached, queued = fill()
    for value in ('bogus', 'both', 'all'):
        resp = client.delete('/v2/cache',
                             headers={'x-image-cache-clear-target': value})
        assert resp.status_code == 400, value
        assert CLEAR_400 in imageutil.message(resp)
    assert _state(client) != {'cached_images': [], 'queued_images': []}

    _assert_empty(client.delete(
        '/v2/cache', headers={'x-image-cache-clear-target': 'CACHE'}), 204)
    assert _state(client) == {'cached_images': [], 'queued_images': [queued]}
    _fill_by_download(client, cached)
    _assert_empty(client.delete(
        '/v2/cache', headers={'x-image-cache-clear-target': 'queue'}), 204)
    assert _state(client)['queued_images'] == []
    assert _cached_ids(client) == [cached]

    cache.queue(str(uuid.uuid4()))
    _assert_empty(client.delete('/v2/cache'), 204)
    assert _state(client) == {'cached_images': [], 'queued_images': []}
    assert os.listdir(caching.cache_dir / 'queue') == []


# Nodes ---------------------------------------------------------------------

def test_nodes_caching_an_image(caching):
    svc, client = caching()
    image = imageutil.active_image(client, DATA)
    resp = client.get('/v2/cache/nodes/%s' % image['id'])
    assert resp.status_code == 200
    assert resp.json() == []
    _fill_by_download(client, image['id'])
    resp = client.get('/v2/cache/nodes/%s' % image['id'])
    assert resp.headers['Content-Type'] == 'application/json'
    assert resp.json() == [NODE]
    unknown = str(uuid.uuid4())
    resp = client.get('/v2/cache/nodes/%s' % unknown)
    assert resp.status_code == 404
    assert 'Image %s not found.' % unknown in resp.text


def test_nodes_need_the_centralized_driver(caching):
    svc, client = caching(image_cache_driver='sqlite')
    # 409 before the image is looked up, as in Glance.
    for image_id in (imageutil.active_image(client)['id'],
                     str(uuid.uuid4())):
        resp = client.get('/v2/cache/nodes/%s' % image_id)
        assert resp.status_code == 409
        assert 'Centralized caching is not enabled' in resp.text


# Upkeep ------------------------------------------------------------------

def test_prune_reports_what_it_removed(caching):
    svc, client = caching(image_cache_max_size=len(DATA) + 10)
    resp = client.post('/v2/cache/prune')
    assert resp.status_code == 200
    assert resp.headers['Content-Type'] == 'application/json'
    assert resp.json() == {'total_files_pruned': 0, 'total_bytes_pruned': 0}
    first = imageutil.active_image(client, DATA)
    second = imageutil.active_image(client, DATA)
    _fill_by_download(client, first['id'])
    _fill_by_download(client, second['id'])
    resp = client.post('/v2/cache/prune')
    assert resp.json() == {'total_files_pruned': 1,
                           'total_bytes_pruned': len(DATA)}
    # The least recently used one went.
    assert _cached_ids(client) == [second['id']]


def test_clean_removes_invalid_files(caching):
    svc, client = caching()
    invalid = caching.cache_dir / 'invalid' / str(uuid.uuid4())
    invalid.write_bytes(b'bad')
    _assert_empty(client.post('/v2/cache/clean'), 200)
    assert not invalid.exists()


# Routing -------------------------------------------------------------------

@pytest.mark.parametrize('method, path, allow', [
    ('GET', '/v2/cache/clean', 'POST'),
    ('DELETE', '/v2/cache/clean', 'POST'),
    ('PUT', '/v2/cache/prune', 'POST'),
    ('POST', '/v2/cache', 'DELETE, GET'),
    ('PATCH', '/v2/cache', 'DELETE, GET'),
    ('GET', '/v2/cache/%s' % uuid.uuid4(), 'DELETE, PUT'),
    ('POST', '/v2/cache/%s' % uuid.uuid4(), 'DELETE, PUT'),
    ('POST', '/v2/cache/nodes/%s' % uuid.uuid4(), 'GET'),
    # "nodes" alone is an image id to Glance's router too.
    ('GET', '/v2/cache/nodes', 'DELETE, PUT'),
])
def test_wrong_methods_are_405(caching, method, path, allow):
    svc, client = caching()
    resp = client.request(method, path)
    assert resp.status_code == 405
    assert resp.headers['Allow'] == allow


def test_bodies_are_refused(caching):
    svc, client = caching()
    image = imageutil.active_image(client)
    for method, path in [('GET', '/v2/cache'), ('DELETE', '/v2/cache'),
                         ('PUT', '/v2/cache/%s' % image['id']),
                         ('GET', '/v2/cache/nodes/%s' % image['id']),
                         ('POST', '/v2/cache/prune')]:
        resp = client.request(method, path, json={})
        assert resp.status_code == 400, (method, path)
        assert 'A body is not expected with this request.' in resp.text


def test_versions_and_version_prefixes(caching):
    svc, client = caching()
    versions = client.get('/versions').json()['versions']
    assert versions[0] == {'id': 'v2.18', 'status': 'CURRENT',
                           'links': versions[0]['links']}
    ids = [v['id'] for v in versions]
    assert {'v2.14', 'v2.16'} <= set(ids)
    assert 'v2.17' in ids and 'v2.13' not in ids
    for prefix in ('/v2.14', '/v2.16', '/v2.18'):
        assert client.get(prefix + '/cache').status_code == 200


def test_legacy_calls_need_the_cachemanagement_flavor(caching):
    svc, client = caching()
    for method, path in [('GET', '/v2/cached_images'),
                         ('PUT', '/v2/queued_images/%s' % uuid.uuid4())]:
        resp = client.request(method, path)
        assert resp.status_code == 404
        assert 'The resource could not be found.' in resp.text


# Legacy calls (cachemanagement flavor) -----------------------------------

def _null(resp):
    assert resp.status_code == 200, resp.text
    assert resp.headers['Content-Type'] == 'application/json'
    assert resp.content == b'null'


def test_legacy_queue_calls(caching):
    svc, client = caching(**{'paste_deploy.flavor': 'cachemanagement'})
    resp = client.get('/v2/queued_images')
    assert resp.status_code == 200
    assert resp.json() == {'queued_images': []}
    # No image lookup: unknown ids are queued (the worker drops them on
    # its next periodic run, not now).
    ghosts = sorted(str(uuid.uuid4()) for _ in range(2))
    for ghost in ghosts + ghosts:
        _null(client.put('/v2/queued_images/%s' % ghost))
    assert sorted(client.get('/v2/queued_images').json()[
        'queued_images']) == ghosts
    assert sorted(_state(client)['queued_images']) == ghosts
    _null(client.delete('/v2/queued_images/%s' % ghosts[0]))
    _null(client.delete('/v2/queued_images/%s' % ghosts[0]))
    assert client.get('/v2/queued_images').json() == {
        'queued_images': ghosts[1:]}
    resp = client.delete('/v2/queued_images')
    assert resp.status_code == 200
    assert resp.json() == {'num_deleted': 1}
    assert client.delete('/v2/queued_images').json() == {'num_deleted': 0}
    # An id no image can have is accepted and ignored (Glance queues it).
    _null(client.put('/v2/queued_images/not-a-uuid'))
    _null(client.delete('/v2/queued_images/not-a-uuid'))
    assert client.get('/v2/queued_images').json() == {'queued_images': []}


def test_legacy_queue_gets_the_image_cached(caching):
    # Not woken: the periodic run caches it.
    svc, client = caching(**{'paste_deploy.flavor': 'cachemanagement',
                             'cache_prefetcher_interval': 1})
    image = imageutil.active_image(client, DATA)
    _null(client.put('/v2/queued_images/%s' % image['id']))
    _wait_cached(client, image['id'])


def test_legacy_cached_calls(caching):
    svc, client = caching(**{'paste_deploy.flavor': 'cachemanagement'})
    assert client.get('/v2/cached_images').json() == {'cached_images': []}
    first = imageutil.active_image(client, DATA)
    second = imageutil.active_image(client, DATA)
    _fill_by_download(client, first['id'])
    _fill_by_download(client, second['id'])
    resp = client.get('/v2/cached_images')
    assert resp.status_code == 200
    entries = resp.json()['cached_images']
    assert [e['image_id'] for e in entries] == [first['id'], second['id']]
    assert all(set(e) == ENTRY_KEYS for e in entries)
    _null(client.delete('/v2/cached_images/%s' % first['id']))
    _null(client.delete('/v2/cached_images/%s' % first['id']))
    assert _cached_ids(client) == [second['id']]
    resp = client.delete('/v2/cached_images')
    assert resp.status_code == 200
    assert resp.json() == {'num_deleted': 1}
    assert _cached_ids(client) == []


@pytest.mark.parametrize('method, path', [
    ('POST', '/v2/cached_images'),
    ('PUT', '/v2/cached_images/%s' % uuid.uuid4()),
    ('GET', '/v2/cached_images/%s' % uuid.uuid4()),
    ('PATCH', '/v2/queued_images'),
    ('GET', '/v2/cached_images/'),
])
def test_legacy_other_methods_are_404(caching, method, path):
    svc, client = caching(**{'paste_deploy.flavor': 'cachemanagement'})
    resp = client.request(method, path)
    assert resp.status_code == 404
    assert 'The resource could not be found.' in resp.text


def test_legacy_calls_need_manage_image_cache(caching):
    svc, client = caching(**{'paste_deploy.flavor': 'cachemanagement'})
    member = client.as_caller(imageutil.project(), roles='member')
    for method, path in [('GET', '/v2/cached_images'),
                         ('DELETE', '/v2/cached_images'),
                         ('DELETE', '/v2/queued_images/%s' % uuid.uuid4()),
                         ('PUT', '/v2/queued_images/%s' % uuid.uuid4())]:
        resp = member.request(method, path)
        assert resp.status_code == 403
        assert ('You are not authorized to complete manage_image_cache '
                'action.') in resp.text

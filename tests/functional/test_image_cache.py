"""Downloads through the image cache: miss, fill, hit, ranges, and what
the cache must never serve."""

import concurrent.futures
import os

import pytest

from glance_import.cache import image_cache
from tests import fixtures
from tests.functional import imageutil

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def caching(service_factory, tmp_path):
    """An in-process service of the caching flavor, and its cache dir."""
    cache_dir = tmp_path / 'cache'

    def start(**overrides):
        overrides.setdefault('image_cache_dir', str(cache_dir))
        overrides.setdefault('paste_deploy.flavor', 'caching')
        svc = service_factory(overrides)
        return svc, fixtures.Client(svc.url)
    start.cache_dir = cache_dir
    return start


def _download(client, image_id, **headers):
    return client.get('/v2/images/%s/file' % image_id, headers=headers)


def _cached_file(cache_dir, image_id):
    return cache_dir / image_id


def _wait_cached(cache_dir, image_id):
    fixtures.wait_until(lambda: _cached_file(cache_dir, image_id).exists(),
                        message='image %s in the cache' % image_id)


def _store_file(svc, image_id):
    return os.path.join(svc.directory, 'images', image_id)


def _entry(image_id):
    for entry in image_cache.current().cached_entries():
        if entry['image_id'] == image_id:
            return entry
    return None


def test_miss_fills_then_hits_serve_from_the_cache(caching):
    svc, client = caching()
    image = imageutil.active_image(client, DATA)
    assert not _cached_file(caching.cache_dir, image['id']).exists()

    resp = _download(client, image['id'])
    assert resp.status_code == 200
    assert resp.content == DATA
    assert resp.headers['Content-MD5'] == image['checksum']
    _wait_cached(caching.cache_dir, image['id'])
    assert _cached_file(caching.cache_dir, image['id']).read_bytes() == DATA
    assert _entry(image['id'])['hits'] == 0

    # Served from the cache: the store's copy is no longer needed.
    os.unlink(_store_file(svc, image['id']))
    for _ in range(2):
        resp = _download(client, image['id'])
        assert resp.status_code == 200
        assert resp.content == DATA
        assert resp.headers['Content-Length'] == str(len(DATA))
    entry = _entry(image['id'])
    assert entry['hits'] == 2
    assert entry['size'] == len(DATA)
    assert entry['checksum'] == image['checksum']
    assert entry['last_accessed'] >= entry['last_modified']


@pytest.mark.parametrize('header, start, stop', [
    ('bytes=0-99', 0, 100),
    ('bytes=1000-', 1000, len(DATA)),
    ('bytes=-4096', len(DATA) - 4096, len(DATA)),
    ('bytes=5-5', 5, 6),
    ('bytes=1048576-2097151', 1048576, 2097152),
])
def test_ranges_are_served_from_the_cache(caching, header, start, stop):
    svc, client = caching()
    image = imageutil.active_image(client, DATA)
    assert _download(client, image['id']).status_code == 200
    _wait_cached(caching.cache_dir, image['id'])
    os.unlink(_store_file(svc, image['id']))

    resp = _download(client, image['id'], Range=header)
    assert resp.status_code == 206
    assert resp.content == DATA[start:stop]
    assert resp.headers['Content-Range'] == 'bytes %d-%d/%d' % (
        start, stop - 1, len(DATA))
    assert _entry(image['id'])['hits'] == 1


def test_a_range_outside_the_cached_data_is_416(caching):
    _, client = caching()
    image = imageutil.active_image(client, DATA)
    _download(client, image['id'])
    _wait_cached(caching.cache_dir, image['id'])
    resp = _download(client, image['id'], Range='bytes=%d-' % len(DATA))
    assert resp.status_code == 416
    assert resp.headers['Content-Range'] == 'bytes */%d' % len(DATA)


def test_a_range_request_does_not_fill_the_cache(caching):
    _, client = caching()
    image = imageutil.active_image(client, DATA)
    resp = _download(client, image['id'], Range='bytes=0-1023')
    assert resp.status_code == 206
    assert resp.content == DATA[:1024]
    assert not _cached_file(caching.cache_dir, image['id']).exists()
    assert os.listdir(caching.cache_dir / 'incomplete') == []


def test_concurrent_first_downloads_fill_once(caching, monkeypatch):
    _, client = caching()
    image = imageutil.active_image(client, DATA)
    completed = []
    complete = image_cache._Fill.complete

    def counting_complete(fill):
        completed.append(fill.image.id)
        return complete(fill)
    monkeypatch.setattr(image_cache._Fill, 'complete', counting_complete)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(
            lambda _: fixtures.Client(client.url).get(
                '/v2/images/%s/file' % image['id']).content, range(8)))
    assert all(body == DATA for body in bodies)
    _wait_cached(caching.cache_dir, image['id'])
    fixtures.wait_until(
        lambda: not os.listdir(caching.cache_dir / 'incomplete'),
        message='no fill in progress')
    assert completed == [image['id']]


def test_a_partial_file_is_never_served_and_is_refilled(caching):
    svc, client = caching()
    image = imageutil.active_image(client, DATA)
    # A writer that died half-way leaves its file in incomplete/.
    partial = caching.cache_dir / 'incomplete' / image['id']
    partial.write_bytes(DATA[:1000])
    resp = _download(client, image['id'])
    assert resp.content == DATA
    _wait_cached(caching.cache_dir, image['id'])
    assert _cached_file(caching.cache_dir, image['id']).read_bytes() == DATA
    assert not partial.exists()


def test_a_cached_file_of_the_wrong_size_is_never_served(caching):
    _, client = caching()
    image = imageutil.active_image(client, DATA)
    # Truncated behind the service's back (a disk problem, a bad copy).
    _cached_file(caching.cache_dir, image['id']).write_bytes(DATA[:-1])
    resp = _download(client, image['id'])
    assert resp.status_code == 200
    assert resp.content == DATA


def test_data_that_does_not_match_the_checksum_is_not_cached(caching):
    svc, client = caching()
    image = imageutil.active_image(client, DATA)
    # The store's copy went bad: same size, other bytes.
    with open(_store_file(svc, image['id']), 'r+b') as f:
        f.seek(123)
        f.write(b'\0' if DATA[123] else b'\1')
    assert _download(client, image['id']).status_code == 200
    fixtures.wait_until(
        lambda: not os.listdir(caching.cache_dir / 'incomplete'),
        message='the fill to end')
    assert not _cached_file(caching.cache_dir, image['id']).exists()
    assert _entry(image['id']) is None


def test_policy_and_status_are_checked_before_the_cache(caching):
    _, admin = caching()
    owner = admin.as_caller(imageutil.project())
    image = imageutil.active_image(owner, DATA)
    assert _download(owner, image['id']).content == DATA
    _wait_cached(caching.cache_dir, image['id'])

    stranger = admin.as_caller(imageutil.project())
    assert _download(stranger, image['id']).status_code == 404
    assert _entry(image['id'])['hits'] == 0

    resp = admin.post('/v2/images/%s/actions/deactivate' % image['id'])
    assert resp.status_code == 204
    assert _download(owner, image['id']).status_code == 403
    # Admins may still read a deactivated image, from the cache too.
    resp = _download(admin, image['id'])
    assert resp.status_code == 200 and resp.content == DATA
    assert _entry(image['id'])['hits'] == 1


def test_deleting_an_image_removes_it_from_the_cache(caching):
    _, client = caching()
    image = imageutil.active_image(client, DATA)
    _download(client, image['id'])
    _wait_cached(caching.cache_dir, image['id'])
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert not _cached_file(caching.cache_dir, image['id']).exists()
    assert _entry(image['id']) is None
    assert _download(client, image['id']).status_code == 404


def test_without_a_caching_flavor_downloads_do_not_fill(caching):
    _, client = caching(**{'paste_deploy.flavor': ''})
    image = imageutil.active_image(client, DATA)
    assert _download(client, image['id']).content == DATA
    assert image_cache.current() is not None
    assert os.listdir(caching.cache_dir / 'incomplete') == []
    assert not _cached_file(caching.cache_dir, image['id']).exists()


def test_an_image_without_data_is_still_204(caching):
    _, client = caching()
    image = imageutil.create(client, disk_format='raw',
                             container_format='bare')
    assert _download(client, image['id']).status_code == 204


def test_a_caching_flavor_needs_image_cache_dir(tmp_path):
    from glance_import import exception
    from glance_import import startup
    from glance_import.api import app
    path = fixtures.write_config(str(tmp_path), None,
                                 {'paste_deploy.flavor': 'keystone+caching'})
    conf = startup.load_config(['--config-file', path], 'glance-api')
    with pytest.raises(exception.InvalidConfiguration) as raised:
        app.init_service(conf, auto_migrate=True, recover=False)
    assert str(raised.value) == ("The [paste_deploy] flavor "
                                 "'keystone+caching' caches images: set "
                                 "image_cache_dir")

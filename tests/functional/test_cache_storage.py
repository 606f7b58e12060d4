"""The image cache in front of real Ceph RBD, S3 (radosgw) and Swift.

The daemons are the storage tests' (tools/ci/storage-up.sh, started once
per run, see storageutil). A first whole download reads the store and
fills the cache; later downloads and ranges come from the cache. Two
facts prove it: glance_store's rbd, s3 and swift drivers read no ranges
(a 206 can only come from the cache), and the cache still serves once
the data is removed from the store behind the service's back. A cache
file whose size is not the image's is never served.
"""

import os

import pytest

from glance_import.cache import image_cache
from tests import fixtures
from tests.functional import importutil as iu
from tests.functional import storageutil as su
from tests.functional import test_storage_backends as backends

OCTET = {'Content-Type': 'application/octet-stream'}
# Crosses the 4 MiB rbd chunk and several S3/Swift reads.
DATA = os.urandom(5 * 1024 * 1024 + 123)
# A range across the first rbd chunk boundary.
RANGE = (4 * 1024 * 1024 - 1000, 4 * 1024 * 1024 + 999)

# The storage tests' fixtures: their daemons (session), and the lock that
# keeps these tests apart from theirs that stop a daemon (autouse).
storage = backends.storage
storage_in_use = backends.storage_in_use


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / 'cache')


@pytest.fixture
def admin(service_factory, storage, tmp_path, cache_dir):
    stores = tmp_path / 'stores'
    stores.mkdir()
    svc = service_factory(su.store_overrides(
        storage, str(stores),
        **{'image_cache_dir': cache_dir,
           'image_cache_driver': 'centralized_db',
           'paste_deploy.flavor': 'caching'}))
    return fixtures.Client(svc.url)


def _active_in(client, store):
    image = iu.create(client, name='cached-%s' % store)
    resp = client.put('/v2/images/%s/file' % image['id'], data=DATA,
                      headers=dict(OCTET, **{'X-Image-Meta-Store': store}))
    assert resp.status_code == 204, resp.text
    return image['id']


def _download(client, image_id, byte_range=None):
    headers = {'Range': 'bytes=%d-%d' % byte_range} if byte_range else {}
    resp = client.get('/v2/images/%s/file' % image_id, headers=headers)
    if byte_range:
        assert resp.status_code == 206, resp.text
        assert resp.headers['Content-Range'] == 'bytes %d-%d/%d' % (
            byte_range + (len(DATA),))
        assert resp.content == DATA[byte_range[0]:byte_range[1] + 1]
    else:
        assert resp.status_code == 200, resp.text
        assert resp.content == DATA
    return resp


def _refused_range(client, image_id):
    """A Range request the store itself has to answer: refused, as the
    remote stores read no ranges."""
    resp = client.get('/v2/images/%s/file' % image_id,
                      headers={'Range': 'bytes=%d-%d' % RANGE})
    assert resp.status_code == 400, resp.text  # as Glance 33
    assert 'randomly from this store is not supported' in \
        iu.message(resp)


def _listed(client):
    """GET /v2/cache: {image_id: entry} of the cached images."""
    resp = client.get('/v2/cache')
    assert resp.status_code == 200, resp.text
    return {e['image_id']: e for e in resp.json()['cached_images']}


def _cache_file(cache_dir, image_id):
    return os.path.join(cache_dir, image_id)


def _wait_cached(client, cache_dir, image_id):
    """Until the verified file is in place and listed; its entry."""
    fixtures.wait_until(
        lambda: os.path.exists(_cache_file(cache_dir, image_id)), 60,
        message='image %s in the cache' % image_id)
    entry = fixtures.wait_until(
        lambda: _listed(client).get(image_id), 30,
        message='image %s listed by GET /v2/cache' % image_id)
    in_process = {e['image_id']: e
                  for e in image_cache.current().cached_entries()}
    assert in_process[image_id]['size'] == len(DATA)
    return entry


def _hits(client, image_id):
    return _listed(client)[image_id]['hits']


def _remove_from_store(settings, store, image_id):
    """Delete the image's data in *store* without the service knowing."""
    if store == 'ceph':
        import rados
        import rbd
        cluster = rados.Rados(conffile=settings['GI_CEPH_CONF'],
                              rados_id=settings['GI_RBD_USER'])
        cluster.connect(timeout=30)
        try:
            with cluster.open_ioctx(settings['GI_RBD_POOL']) as ioctx:
                with rbd.Image(ioctx, image_id) as image:
                    for snap in list(image.list_snaps()):
                        if image.is_protected_snap(snap['name']):
                            image.unprotect_snap(snap['name'])
                        image.remove_snap(snap['name'])
                rbd.RBD().remove(ioctx, image_id)
        finally:
            cluster.shutdown()
    elif store == 'objects':
        s3 = su.s3_client(settings)
        for key in su.objects_of(settings, store, image_id):
            s3.delete_object(Bucket=settings['GI_S3_BUCKET'], Key=key)
    else:
        conn = su.swift_connection(settings)
        for name in su.objects_of(settings, store, image_id):
            conn.delete_object(settings['GI_SWIFT_CONTAINER'], name)
    assert su.objects_of(settings, store, image_id) == []


@pytest.mark.parametrize('store', su.REMOTE)
def test_cache_fills_then_serves_without_the_store(admin, storage,
                                                   cache_dir, store):
    image_id = _active_in(admin, store)
    assert not os.path.exists(_cache_file(cache_dir, image_id))
    assert image_id not in _listed(admin)
    _refused_range(admin, image_id)

    # A miss: the store's bytes, and the cache fills behind them.
    _download(admin, image_id)
    entry = _wait_cached(admin, cache_dir, image_id)
    assert (entry['size'], entry['hits']) == (len(DATA), 0)
    with open(_cache_file(cache_dir, image_id), 'rb') as f:
        assert f.read() == DATA
    assert os.listdir(os.path.join(cache_dir, 'incomplete')) == []

    # Hits, whole and ranged (which the store could not serve), counted.
    _download(admin, image_id)
    assert _hits(admin, image_id) == 1
    _download(admin, image_id, RANGE)
    assert _hits(admin, image_id) == 2

    # With the data gone from the store, the cache alone still serves.
    _remove_from_store(storage, store, image_id)
    _download(admin, image_id)
    _download(admin, image_id, RANGE)
    _download(admin, image_id, (len(DATA) - 10, len(DATA) - 1))
    assert _hits(admin, image_id) == 5


@pytest.mark.parametrize('store', su.REMOTE)
@pytest.mark.parametrize('wrong', ['short', 'long'])
def test_cache_file_of_wrong_size_is_never_served(admin, cache_dir, store,
                                                  wrong):
    image_id = _active_in(admin, store)
    _download(admin, image_id)
    _wait_cached(admin, cache_dir, image_id)
    bad = DATA[:-1] if wrong == 'short' else DATA + b'\0'
    path = _cache_file(cache_dir, image_id)
    with open(path, 'wb') as f:
        f.write(bad)

    # The store serves (and refuses the range); no hit is counted.
    _refused_range(admin, image_id)
    _download(admin, image_id)
    assert _hits(admin, image_id) == 0
    # That whole download replaced the file with the image's data.
    fixtures.wait_until(lambda: os.path.getsize(path) == len(DATA), 60,
                        message='the cache file replaced')
    with open(path, 'rb') as f:
        assert f.read() == DATA
    _download(admin, image_id, RANGE)
    assert _hits(admin, image_id) == 1

"""Data registered by location on real Ceph RBD and S3 (radosgw), as Nova
does with a direct RBD snapshot and as tools do with objects they wrote
themselves: the image becomes active, is hashed from the store, and
downloads the same bytes.

The daemons are the storage tests' (tools/ci/storage-up.sh, see
storageutil).
"""

import contextlib
import os
import uuid

import pytest

from tests import fixtures
from tests.functional import imageutil
from tests.functional import importutil as iu
from tests.functional import storageutil as su
from tests.functional import test_storage_backends as backends

DATA = os.urandom(5 * 1024 * 1024 + 321)
OWNER = 'nova-project'

storage = backends.storage
storage_in_use = backends.storage_in_use


@pytest.fixture
def service_url(service_factory, storage, tmp_path):
    stores = tmp_path / 'stores'
    stores.mkdir()
    return service_factory(su.store_overrides(
        storage, str(stores), show_multiple_locations=True)).url


def as_service(url):
    # Nova and Cinder call with the user's token and their service role.
    return fixtures.Client(url).as_caller(OWNER, roles='member,service')


@contextlib.contextmanager
def rbd_snapshot(settings, data):
    """An RBD image holding *data* with a protected snapshot, as Nova's
    direct snapshot leaves it; yields (fsid, pool, name)."""
    import rados
    import rbd
    cluster = rados.Rados(conffile=settings['GI_CEPH_CONF'],
                          rados_id=settings['GI_RBD_USER'])
    cluster.connect(timeout=30)
    name = 'nova-snap-%s' % uuid.uuid4()
    pool = settings['GI_RBD_POOL']
    try:
        with cluster.open_ioctx(pool) as ioctx:
            rbd.RBD().create(ioctx, name, len(data),
                             features=rbd.RBD_FEATURE_LAYERING)
            with rbd.Image(ioctx, name) as image:
                image.write(data, 0)
                image.create_snap('snap')
                image.protect_snap('snap')
        yield cluster.get_fsid(), pool, name
    finally:
        cluster.shutdown()


def _registered(client, url, **validation):
    image = iu.create(client, name='registered', disk_format='raw',
                      container_format='bare')
    body = {'url': url}
    if validation:
        body['validation_data'] = validation
    resp = client.post('/v2/images/%s/locations' % image['id'], json=body)
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, image['id'], timeout=120)
    assert task['status'] == 'success', task
    return iu.image(client, image['id'])


def _check(client, image, store):
    md5, sha512 = iu.digests(DATA)
    assert (image['status'], image['size'], image['checksum'],
            image['os_hash_value']) == ('active', len(DATA), md5, sha512)
    assert image['stores'] == store
    assert [loc['metadata'].get('store')
            for loc in image['locations']] == [store]
    assert iu.download(client, image['id']) == DATA


def test_rbd_snapshot_registered_by_location(service_url, storage):
    client = as_service(service_url)
    with rbd_snapshot(storage, DATA) as (fsid, pool, name):
        url = 'rbd://%s/%s/%s/snap' % (fsid, pool, name)
        image = _registered(client, url)
        _check(client, image, 'ceph')
        resp = client.get('/v2/images/%s/locations' % image['id'])
        assert resp.json() == [{'url': url, 'metadata': {'store': 'ceph'}}]
        # The image owns the data now: deleting it removes the snapshot
        # and the RBD image, as in Glance.
        assert client.delete('/v2/images/%s' % image['id']).status_code \
            == 204
        assert name not in su.rbd_images(storage)


def test_rbd_location_with_validation_data(service_url, storage):
    client = as_service(service_url)
    _, sha512 = iu.digests(DATA)
    with rbd_snapshot(storage, DATA) as (fsid, pool, name):
        url = 'rbd://%s/%s/%s/snap' % (fsid, pool, name)
        image = _registered(client, url, os_hash_algo='sha512',
                            os_hash_value=sha512)
        _check(client, image, 'ceph')
        client.delete('/v2/images/%s' % image['id'])


def _s3_url_for(client, key):
    """The s3 location URL of *key*, in the form the s3 store writes."""
    probe = iu.create(client, name='probe', disk_format='raw',
                      container_format='bare')
    resp = client.put('/v2/images/%s/file' % probe['id'], data=b'probe',
                      headers={'Content-Type': 'application/octet-stream',
                               'X-Image-Meta-Store': 'objects'})
    assert resp.status_code == 204, resp.text
    written = iu.image(client, probe['id'])['locations'][0]['url']
    client.delete('/v2/images/%s' % probe['id'])
    return written.rsplit('/', 1)[0] + '/' + key


def test_s3_object_registered_by_location(service_url, storage):
    client = as_service(service_url)
    key = 'registered-%s' % uuid.uuid4()
    su.s3_client(storage).put_object(Bucket=storage['GI_S3_BUCKET'],
                                     Key=key, Body=DATA)
    url = _s3_url_for(client, key)
    image = _registered(client, url)
    _check(client, image, 'objects')
    # The same data by JSON-patch onto a queued image.
    other = iu.create(client, name='patched', disk_format='raw',
                      container_format='bare')
    resp = imageutil.patch(client, other['id'], [
        {'op': 'add', 'path': '/locations/-',
         'value': {'url': url, 'metadata': {}}}])
    assert resp.status_code == 200, resp.text
    assert resp.json()['status'] == 'active'
    assert resp.json()['size'] == len(DATA)
    assert iu.download(client, other['id']) == DATA

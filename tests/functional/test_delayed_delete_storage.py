"""Delayed delete on the real stores of the storage tests (Ceph RBD, S3 on
radosgw, Swift and a local file store): the data stays in every store an
image was in until the scrubber runs, then it is gone from all of them;
a restore before that serves the same bytes again; data an RBD clone
still uses keeps its image pending until the clone goes.
"""

import os

import pytest

from glance_import.housekeeping import scrubber
from tests import fixtures
from tests.functional import importutil as iu
from tests.functional import storageutil as su
from tests.functional import test_storage_backends as backends

DATA = os.urandom(3 * 1024 * 1024 + 17)
OCTET = {'Content-Type': 'application/octet-stream'}

storage = backends.storage
storage_in_use = backends.storage_in_use
stores_dir = backends.stores_dir


@pytest.fixture
def service(service_factory, storage, stores_dir):
    return service_factory(su.store_overrides(
        storage, stores_dir, delayed_delete=True, wakeup_time=3600))


@pytest.fixture
def admin(service):
    return fixtures.Client(service.url)


def _in_every_store(client, data):
    """An image with *data* in all four stores (upload, then copy-image)."""
    image = iu.create(client, disk_format='raw', container_format='bare')
    resp = client.put('/v2/images/%s/file' % image['id'], data=data,
                      headers=dict(OCTET, **{'X-Image-Meta-Store': 'ceph'}))
    assert resp.status_code == 204, resp.text
    resp = iu.start_import(client, image['id'], method='copy-image',
                           stores=['objects', 'swift', 'local'])
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, image['id'], timeout=180)
    assert task['status'] == 'success', task
    shown = iu.image(client, image['id'])
    assert sorted(shown['stores'].split(',')) == sorted(su.STORES)
    return shown


def _objects(settings, image_id, stores_dir):
    return {store: su.objects_of(settings, store, image_id, stores_dir)
            for store in su.STORES}


def test_data_kept_in_every_store_until_scrubbed(service, admin, storage,
                                                 stores_dir):
    image = _in_every_store(admin, DATA)
    before = _objects(storage, image['id'], stores_dir)
    assert all(before.values()), before
    assert admin.delete('/v2/images/%s' % image['id']).status_code == 204
    assert admin.get('/v2/images/%s' % image['id']).status_code == 404
    assert _objects(storage, image['id'], stores_dir) == before
    report = scrubber.scrub(service.conf)
    assert (report.scrubbed, report.left) == (1, 0)
    assert _objects(storage, image['id'], stores_dir) == {
        store: [] for store in su.STORES}


def test_restore_serves_the_same_bytes_from_every_store(service, admin,
                                                        storage, stores_dir):
    image = _in_every_store(admin, DATA)
    assert admin.delete('/v2/images/%s' % image['id']).status_code == 204
    scrubber.restore(image['id'])
    back = iu.image(admin, image['id'])
    assert back['status'] == 'active'
    assert back['os_hash_value'] == image['os_hash_value']
    assert iu.download(admin, image['id']) == DATA
    # Each store still holds it: drop the others one by one and read.
    for store in ('ceph', 'objects', 'swift'):
        resp = admin.delete('/v2/stores/%s/%s' % (store, image['id']))
        assert resp.status_code == 204, resp.text
        assert iu.download(admin, image['id']) == DATA
    assert iu.image(admin, image['id'])['stores'] == 'local'


def test_rbd_data_in_use_waits_for_its_clone(service, admin, storage,
                                             stores_dir):
    image = iu.create(admin, disk_format='raw', container_format='bare')
    resp = admin.put('/v2/images/%s/file' % image['id'], data=DATA,
                     headers=dict(OCTET, **{'X-Image-Meta-Store': 'ceph'}))
    assert resp.status_code == 204, resp.text
    with su.rbd_clone(storage, image['id']):
        # Glance refuses such a delete at once; delayed, it is accepted
        # and the scrubber keeps trying.
        assert admin.delete('/v2/images/%s' % image['id']).status_code \
            == 204
        report = scrubber.scrub(service.conf)
        assert (report.scrubbed, report.left) == (0, 1)
        assert image['id'] in su.rbd_images(storage)
    report = scrubber.scrub(service.conf)
    assert (report.scrubbed, report.left) == (1, 0)
    assert image['id'] not in su.rbd_images(storage)

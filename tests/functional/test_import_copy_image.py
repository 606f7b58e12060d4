"""copy-image: an active image gains copies in other stores."""

import os

import pytest

from tests import fixtures
from tests.functional import importutil as iu

DATA = os.urandom(1024 * 1024 + 3)


@pytest.fixture
def svc(service_factory, tmp_path):
    return service_factory({
        'enabled_backends': 'fast:file,slow:file,cold:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
        'cold.filesystem_store_datadir': str(tmp_path / 'cold'),
    })


def active_image(client, **kw):
    image = iu.create(client, **kw)
    iu.stage(client, image['id'], DATA)
    assert iu.start_import(client, image['id']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    return iu.image(client, image['id'])


def wait_tasks(client, image_id, count):
    def done():
        found = iu.tasks(client, image_id)
        return len(found) == count and found[0]['status'] in (
            'success', 'failure') and found[0]
    return fixtures.wait_until(done, message='copy task')


def stored_bytes(tmp_path, store, image_id):
    with open(tmp_path / store / image_id, 'rb') as f:
        return f.read()


def test_copy_to_one_store(svc, tmp_path):
    admin = fixtures.Client(svc.url)
    image = active_image(admin)
    assert image['stores'] == 'fast'
    resp = iu.start_import(admin, image['id'], 'copy-image',
                           stores=['slow'])
    assert resp.status_code == 202, resp.text
    assert iu.image(admin, image['id'])['status'] == 'active'
    task = wait_tasks(admin, image['id'], 2)
    assert task['status'] == 'success', task['message']
    assert task['input']['backend'] == ['slow']
    shown = iu.image(admin, image['id'])
    assert shown['status'] == 'active'
    assert shown['stores'] == 'fast,slow'
    assert shown['os_glance_importing_to_stores'] == ''
    assert shown['os_glance_failed_import'] == ''
    assert shown['checksum'] == image['checksum']
    assert shown['os_hash_value'] == image['os_hash_value']
    assert 'os_glance_import_task' not in shown
    assert stored_bytes(tmp_path, 'slow', image['id']) == DATA
    assert iu.files_in(os.path.join(svc.directory, 'staging')) == []
    resp = admin.get('/v2/images/%s/file' % image['id'],
                     headers={'X-Image-Meta-Store': 'slow'})
    assert resp.content == DATA


def test_copy_to_all_stores_then_nothing_left(svc, tmp_path):
    admin = fixtures.Client(svc.url)
    image = active_image(admin)
    resp = iu.start_import(admin, image['id'], 'copy-image',
                           all_stores=True)
    assert resp.status_code == 202, resp.text
    task = wait_tasks(admin, image['id'], 2)
    assert task['status'] == 'success', task['message']
    assert task['input']['backend'] == ['slow', 'cold']
    shown = iu.image(admin, image['id'])
    assert sorted(shown['stores'].split(',')) == ['cold', 'fast', 'slow']
    for store in ('slow', 'cold'):
        assert stored_bytes(tmp_path, store, image['id']) == DATA
    # Everything is copied already: accepted, and no task is created.
    resp = iu.start_import(admin, image['id'], 'copy-image',
                           all_stores=True)
    assert resp.status_code == 202
    assert len(iu.tasks(admin, image['id'])) == 2


def test_copy_needs_copy_image_policy_and_keeps_owner(service_factory,
                                                      tmp_path):
    policy = tmp_path / 'policy.yaml'
    policy.write_text('"copy_image": "role:member and '
                      '\'public\':%(visibility)s"\n')
    svc = service_factory({
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
        'oslo_policy.policy_file': str(policy),
    })
    admin = fixtures.Client(svc.url)
    public = active_image(admin, visibility='public')
    private = active_image(admin.as_caller(iu.project()))
    other = admin.as_caller(iu.project())
    resp = iu.start_import(other, public['id'], 'copy-image',
                           stores=['slow'])
    assert resp.status_code == 202, resp.text
    task = wait_tasks(admin, public['id'], 2)
    assert task['status'] == 'success', task['message']
    shown = iu.image(admin, public['id'])
    assert shown['owner'] == public['owner']
    assert shown['stores'] == 'fast,slow'
    # Not public: invisible to the other project.
    resp = iu.start_import(other, private['id'], 'copy-image',
                           stores=['slow'])
    assert resp.status_code == 404


def test_copy_failure_keeps_image_active(svc, tmp_path, monkeypatch):
    from glance_import.store import backends
    admin = fixtures.Client(svc.url)
    image = active_image(admin)
    real = backends.add_from_staged_file

    def failing(conf, image_id, path, staged=None, store_id=None, **kw):
        if store_id == 'cold':
            raise OSError('cold store offline')
        return real(conf, image_id, path, staged, store_id, **kw)
    monkeypatch.setattr(backends, 'add_from_staged_file', failing)
    resp = iu.start_import(admin, image['id'], 'copy-image',
                           stores=['slow', 'cold'],
                           all_stores_must_succeed=False)
    assert resp.status_code == 202
    task = wait_tasks(admin, image['id'], 2)
    assert task['status'] == 'success', task['message']
    shown = iu.image(admin, image['id'])
    assert shown['status'] == 'active'
    assert shown['stores'] == 'fast,slow'
    assert shown['os_glance_failed_import'] == 'cold'
    assert iu.files_in(str(tmp_path / 'cold')) == []

    # Retrying the failed store clears it from the failed list.
    monkeypatch.setattr(backends, 'add_from_staged_file', real)
    assert iu.start_import(admin, image['id'], 'copy-image',
                           stores=['cold']).status_code == 202
    assert wait_tasks(admin, image['id'], 3)['status'] == 'success'
    shown = iu.image(admin, image['id'])
    # Both stay on the image as "", as Glance leaves them.
    assert shown['os_glance_failed_import'] == ''
    assert shown['os_glance_importing_to_stores'] == ''
    assert stored_bytes(tmp_path, 'cold', image['id']) == DATA


def test_copy_needs_multi_store(service):
    admin = fixtures.Client(service.url)
    image = iu.create(admin)
    iu.stage(admin, image['id'], b'abc')
    assert iu.start_import(admin, image['id']).status_code == 202
    assert iu.wait_task(admin, image['id'])['status'] == 'success'
    resp = iu.start_import(admin, image['id'], 'copy-image')
    assert resp.status_code == 400
    assert 'copy-image needs several stores' in iu.message(resp)

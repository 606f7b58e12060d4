"""glance-direct: stage, import, and what the image and task look like."""

import os

import pytest

from tests import fixtures
from tests.functional import importutil as iu

DATA = os.urandom(3 * 1024 * 1024 + 17)


def multi_store(directory):
    return {
        'enabled_backends': 'fast:file,slow:file,web:http',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': os.path.join(directory, 'fast'),
        'slow.filesystem_store_datadir': os.path.join(directory, 'slow'),
    }


@pytest.fixture
def client(service_factory):
    svc = service_factory()
    return fixtures.Client(svc.url).as_caller(iu.project())


def test_stage_then_import_activates_with_hashes(client, service_factory):
    image = iu.create(client, name='direct')
    iu.stage(client, image['id'], DATA)
    assert iu.image(client, image['id'])['status'] == 'uploading'

    resp = iu.start_import(client, image['id'])
    assert resp.status_code == 202, resp.text
    assert resp.content == b''

    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'success', task['message']
    assert task['type'] == 'api_image_import'
    assert task['result'] == {'image_id': image['id']}
    assert task['input']['import_req'] == {'method': {'name':
                                                      'glance-direct'}}
    assert task['input']['backend'] == [None]
    assert task['progress'] == len(DATA)
    assert task['expires_at'] is not None

    shown = iu.wait_status(client, image['id'], 'active')
    md5, sha512 = iu.digests(DATA)
    assert shown['checksum'] == md5
    assert shown['os_hash_algo'] == 'sha512'
    assert shown['os_hash_value'] == sha512
    assert shown['size'] == len(DATA)
    assert shown['virtual_size'] == len(DATA)
    assert 'os_glance_import_task' not in shown
    # Glance sets both on every import, one store or several.
    assert shown['os_glance_importing_to_stores'] == ''
    assert shown['os_glance_failed_import'] == ''
    assert iu.download(client, image['id']) == DATA


def test_staged_file_removed_after_import(service_factory, tmp_path):
    svc = service_factory()
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], DATA)
    staged = os.path.join(svc.directory, 'staging', image['id'])
    assert os.path.exists(staged)
    assert iu.start_import(client, image['id']).status_code == 202
    iu.wait_status(client, image['id'], 'active')
    fixtures.wait_until(lambda: not os.path.exists(staged),
                        message='staged file removal')
    assert iu.files_in(os.path.join(svc.directory, 'images')) == \
        [image['id']]


def test_chunked_stage_then_import(client):
    image = iu.create(client)

    def chunks():
        for i in range(0, len(DATA), 100000):
            yield DATA[i:i + 100000]
    resp = client.put('/v2/images/%s/stage' % image['id'], data=chunks(),
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    assert iu.start_import(client, image['id']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    assert iu.download(client, image['id']) == DATA


def test_second_import_after_success_is_409(client):
    image = iu.create(client)
    iu.stage(client, image['id'], b'data')
    assert iu.start_import(client, image['id']).status_code == 202
    iu.wait_status(client, image['id'], 'active')
    resp = iu.start_import(client, image['id'])
    assert resp.status_code == 409
    assert 'Image with status active cannot be target for import' in \
        iu.message(resp)


def test_import_to_several_stores(service_factory, tmp_path):
    svc = service_factory(multi_store(str(tmp_path)))
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], DATA)
    resp = iu.start_import(client, image['id'], stores=['slow', 'fast'])
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'success', task['message']
    assert task['input']['backend'] == ['slow', 'fast']
    shown = iu.image(client, image['id'])
    assert shown['status'] == 'active'
    assert sorted(shown['stores'].split(',')) == ['fast', 'slow']
    assert shown['os_glance_importing_to_stores'] == ''
    assert shown['os_glance_failed_import'] == ''
    for store in ('fast', 'slow'):
        assert iu.files_in(str(tmp_path / store)) == [image['id']]


def test_store_header_picks_the_store(service_factory, tmp_path):
    svc = service_factory(multi_store(str(tmp_path)))
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], b'abc')
    resp = iu.start_import(client, image['id'],
                           headers={'X-Image-Meta-Store': 'slow'})
    assert resp.status_code == 202, resp.text
    iu.wait_status(client, image['id'], 'active')
    assert iu.image(client, image['id'])['stores'] == 'slow'


def test_all_stores_skips_read_only_stores(service_factory, tmp_path):
    svc = service_factory(multi_store(str(tmp_path)))
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    iu.stage(client, image['id'], b'abc')
    resp = iu.start_import(client, image['id'], all_stores=True)
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, image['id'])
    assert task['input']['backend'] == ['fast', 'slow']
    assert iu.wait_status(client, image['id'], 'active')['stores'] in (
        'fast,slow', 'slow,fast')


def test_partial_failure_tolerated(service_factory, tmp_path, monkeypatch):
    """all_stores_must_succeed=false: a failing store is only recorded."""
    from glance_import.store import backends
    svc = service_factory(multi_store(str(tmp_path)))
    client = fixtures.Client(svc.url).as_caller(iu.project())
    real = backends.add_from_staged_file

    def failing(conf, image_id, path, staged=None, store_id=None, **kw):
        if store_id == 'slow':
            raise OSError('disk on fire')
        return real(conf, image_id, path, staged, store_id, **kw)
    monkeypatch.setattr(backends, 'add_from_staged_file', failing)

    image = iu.create(client)
    iu.stage(client, image['id'], DATA)
    resp = iu.start_import(client, image['id'], stores=['slow', 'fast'],
                           all_stores_must_succeed=False)
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image['id'])
    assert shown['status'] == 'active'
    assert shown['stores'] == 'fast'
    assert shown['os_glance_failed_import'] == 'slow'
    assert shown['os_glance_importing_to_stores'] == ''
    assert iu.files_in(str(tmp_path / 'slow')) == []


def test_store_failure_reverts_to_queued(service_factory, tmp_path,
                                         monkeypatch):
    """Our fix: with all_stores_must_succeed the image goes back to queued,
    the staged data and any copy already written are removed."""
    from glance_import.store import backends
    svc = service_factory(multi_store(str(tmp_path)))
    client = fixtures.Client(svc.url).as_caller(iu.project())
    real = backends.add_from_staged_file

    def failing(conf, image_id, path, staged=None, store_id=None, **kw):
        if store_id == 'slow':
            raise OSError('disk on fire')
        return real(conf, image_id, path, staged, store_id, **kw)
    monkeypatch.setattr(backends, 'add_from_staged_file', failing)

    image = iu.create(client)
    iu.stage(client, image['id'], DATA)
    resp = iu.start_import(client, image['id'], stores=['fast', 'slow'])
    assert resp.status_code == 202
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'failure'
    assert 'disk on fire' in task['message']
    shown = iu.image(client, image['id'])
    assert shown['status'] == 'queued'
    assert shown['os_glance_failed_import'] == 'slow'
    assert shown['os_glance_importing_to_stores'] == ''
    assert 'os_glance_import_task' not in shown
    assert shown['size'] is None and shown['checksum'] is None
    assert iu.files_in(str(tmp_path / 'fast')) == []
    assert iu.files_in(str(tmp_path / 'slow')) == []
    assert not os.path.exists(os.path.join(svc.directory, 'staging',
                                           image['id']))

    # The client can simply stage and import again.
    monkeypatch.setattr(backends, 'add_from_staged_file', real)
    iu.stage(client, image['id'], DATA)
    assert iu.start_import(client, image['id'],
                           stores=['fast', 'slow']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    shown = iu.wait_status(client, image['id'], 'active')
    assert shown['os_glance_failed_import'] == ''
    assert iu.download(client, image['id']) == DATA

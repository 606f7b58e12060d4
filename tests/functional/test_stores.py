"""Multi-store: /v2/info/stores, uploads to a chosen store, DELETE
/v2/stores/{store_id}/{image_id}."""

import hashlib
import os
import uuid

import pytest
from oslo_config import cfg

from glance_import import context
from glance_import import exception
from glance_import.db import images as db_images
from glance_import.store import backends
from tests import fixtures

OCTET = {'Content-Type': 'application/octet-stream'}
DATA = b'multi-store data ' * 4096


def _multi_store(directory):
    return {
        'enabled_backends': 'fast:file,cheap:file,web:http',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': os.path.join(directory, 'fast'),
        'fast.store_description': 'Fast local disk',
        'fast.weight': 100,
        'cheap.filesystem_store_datadir': os.path.join(directory, 'cheap'),
        'cheap.filesystem_store_chunk_size': 131072,
    }


@pytest.fixture
def multi(service_factory, tmp_path):
    return service_factory(_multi_store(str(tmp_path / 'stores')))


@pytest.fixture
def admin(multi):
    return fixtures.Client(multi.url)


def _files(svc, store):
    path = os.path.join(os.path.dirname(svc.directory), 'stores', store)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _create(client):
    resp = client.post('/v2/images', json={'disk_format': 'raw',
                                           'container_format': 'bare'})
    assert resp.status_code == 201, resp.text
    return resp.json()['id']


def _upload(client, image_id, store=None, data=DATA):
    headers = dict(OCTET)
    if store:
        headers['X-Image-Meta-Store'] = store
    return client.put('/v2/images/%s/file' % image_id, data=data,
                      headers=headers)


def _add_copy(image_id, store_id):
    """Put the image's data in a second store (what copy-image does)."""
    conf = cfg.CONF
    stored = backends.add(conf, image_id, [DATA], store_id=store_id)
    db_images.image_add_location(context.admin_context(), image_id,
                                 stored.url, stored.metadata)


def test_info_stores(admin):
    resp = admin.get('/v2/info/stores')
    assert resp.status_code == 200
    assert resp.json() == {'stores': [
        {'id': 'fast', 'description': 'Fast local disk', 'default': 'true'},
        {'id': 'cheap'},
        {'id': 'web', 'read-only': 'true'},
    ]}


def test_info_stores_detail_is_for_admins(multi, admin, tmp_path):
    member = admin.as_caller('p-%s' % uuid.uuid4().hex[:8])
    assert member.get('/v2/info/stores').status_code == 200
    assert member.get('/v2/info/stores/detail').status_code == 403
    resp = admin.get('/v2/info/stores/detail')
    assert resp.status_code == 200
    stores = {s['id']: s for s in resp.json()['stores']}
    assert set(stores) == {'fast', 'cheap', 'web'}
    assert stores['fast']['type'] == 'file'
    assert stores['fast']['weight'] == 100
    assert stores['fast']['default'] == 'true'
    assert stores['cheap']['properties'] == {
        'data_dir': str(tmp_path / 'stores' / 'cheap'),
        'chunk_size': 131072, 'thin_provisioning': False}
    assert stores['web'] == {'id': 'web', 'read-only': 'true',
                             'type': 'http', 'weight': 0, 'properties': {}}


def test_info_stores_404_in_single_store(client):
    for path in ('/v2/info/stores', '/v2/info/stores/detail'):
        resp = client.get(path)
        assert resp.status_code == 404
        assert 'Multi backend is not supported at this site.' in resp.text


def test_upload_to_default_and_named_store(multi, admin):
    default = _create(admin)
    assert _upload(admin, default).status_code == 204
    named = _create(admin)
    assert _upload(admin, named, 'cheap').status_code == 204
    assert _files(multi, 'fast') == [default]
    assert _files(multi, 'cheap') == [named]
    image = admin.get('/v2/images/%s' % named).json()
    assert image['stores'] == 'cheap'
    assert image['os_hash_value'] == hashlib.sha512(DATA).hexdigest()
    assert admin.get('/v2/images/%s/file' % named).content == DATA


@pytest.mark.parametrize('store', ['nowhere', 'os_glance_staging_store',
                                   'web'])
def test_upload_to_unusable_store_is_400(multi, admin, store):
    image_id = _create(admin)
    resp = _upload(admin, image_id, store)
    assert resp.status_code == 400
    assert admin.get('/v2/images/%s' % image_id).json()['status'] == \
        'queued'


def test_store_header_ignored_in_single_store(client, service):
    image_id = _create(client)
    assert _upload(client, image_id, 'nowhere').status_code == 204


def test_stage_uses_the_reserved_staging_store(multi, admin):
    image_id = _create(admin)
    resp = admin.put('/v2/images/%s/stage' % image_id, data=b'abc',
                     headers=OCTET)
    assert resp.status_code == 204
    staged = os.path.join(multi.directory, 'staging', image_id)
    assert os.path.exists(staged)


def test_delete_from_store(multi, admin):
    image_id = _create(admin)
    assert _upload(admin, image_id).status_code == 204
    _add_copy(image_id, 'cheap')
    image = admin.get('/v2/images/%s' % image_id).json()
    assert sorted(image['stores'].split(',')) == ['cheap', 'fast']

    resp = admin.delete('/v2/stores/cheap/%s' % image_id)
    assert resp.status_code == 204
    assert _files(multi, 'cheap') == []
    assert admin.get('/v2/images/%s' % image_id).json()['stores'] == 'fast'
    # Not there any more, and the last copy cannot go this way.
    assert admin.delete('/v2/stores/cheap/%s' % image_id).status_code == 404
    resp = admin.delete('/v2/stores/fast/%s' % image_id)
    assert resp.status_code == 403
    assert _files(multi, 'fast') == [image_id]
    assert admin.get('/v2/images/%s/file' % image_id).content == DATA


def test_delete_from_store_errors(multi, admin):
    image_id = _create(admin)
    assert admin.delete('/v2/stores/fast/%s' % image_id).status_code == 409
    assert admin.delete('/v2/stores/nowhere/%s' % image_id).status_code \
        == 409
    assert admin.delete('/v2/stores/fast/%s' % uuid.uuid4()).status_code \
        == 404
    project = 'p-%s' % uuid.uuid4().hex[:8]
    owner = admin.as_caller(project)
    owned = _create(owner)
    assert _upload(owner, owned).status_code == 204
    _add_copy(owned, 'cheap')
    # delete_image_location is admin-only by default.
    assert owner.delete('/v2/stores/cheap/%s' % owned).status_code == 403
    assert _files(multi, 'cheap') == [owned]


def test_delete_from_store_404_in_single_store(client):
    resp = client.delete('/v2/stores/fast/%s' % uuid.uuid4())
    assert resp.status_code == 404


def test_reconfiguring_replaces_the_stores(service_factory, tmp_path):
    svc = service_factory(_multi_store(str(tmp_path / 'one')))
    assert len(fixtures.Client(svc.url).get(
        '/v2/info/stores').json()['stores']) == 3
    svc = service_factory({
        'enabled_backends': 'only:file',
        'glance_store.default_backend': 'only',
        'only.filesystem_store_datadir': str(tmp_path / 'only'),
    })
    client = fixtures.Client(svc.url)
    assert client.get('/v2/info/stores').json() == {
        'stores': [{'id': 'only', 'default': 'true'}]}
    image_id = _create(client)
    assert _upload(client, image_id, 'fast').status_code == 400
    assert _upload(client, image_id).status_code == 204
    assert os.listdir(tmp_path / 'only') == [image_id]


def test_download_prefers_the_named_stores(multi, admin, monkeypatch):
    import socket
    image_id = _create(admin)
    assert _upload(admin, image_id).status_code == 204
    _add_copy(image_id, 'cheap')
    read_from = []
    real = socket.socket.sendfile

    def sendfile(sock, f, offset=0, count=None):
        read_from.append(os.path.basename(os.path.dirname(f.name)))
        return real(sock, f, offset, count)
    monkeypatch.setattr(socket.socket, 'sendfile', sendfile)
    path = '/v2/images/%s/file' % image_id
    # The heaviest store by default, the preferred one when asked.
    assert admin.get(path).content == DATA
    assert admin.get(path, params={'prefer': 'cheap'}).content == DATA
    assert admin.get(path, params={'prefer': 'web,cheap,fast'}).content \
        == DATA
    assert read_from == ['fast', 'cheap', 'cheap']
    # The data is served from the others when the preferred copy is gone.
    os.unlink(os.path.join(os.path.dirname(multi.directory), 'stores',
                           'cheap', image_id))
    resp = admin.get(path, params={'prefer': 'cheap'})
    assert (resp.status_code, resp.content) == (200, DATA)
    assert read_from[-1] == 'fast'


def test_download_prefer_errors(multi, admin):
    image_id = _create(admin)
    assert _upload(admin, image_id).status_code == 204
    path = '/v2/images/%s/file' % image_id
    resp = admin.get(path, params={'prefer': 'nowhere'})
    assert resp.status_code == 400
    assert 'nowhere' in resp.text
    assert admin.get(path, params={'prefer': 'fast,'}).status_code == 400
    assert admin.get(path + '?prefer=%ff').status_code == 400
    owner = admin.as_caller('p-%s' % uuid.uuid4().hex[:8])
    owned = _create(owner)
    assert _upload(owner, owned).status_code == 204
    assert owner.get('/v2/images/%s/file' % owned,
                     params={'prefer': 'fast'}).content == DATA


def test_download_prefer_needs_multiple_stores(client, service):
    image_id = _create(client)
    assert _upload(client, image_id).status_code == 204
    resp = client.get('/v2/images/%s/file' % image_id,
                      params={'prefer': 'fast'})
    assert resp.status_code == 400
    assert 'enabled_backends' in resp.text


def test_download_prefer_checks_its_policy(service_factory, tmp_path):
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"download_from_store": "role:admin"\n')
    overrides = _multi_store(str(tmp_path / 'stores'))
    overrides['oslo_policy.policy_file'] = str(policy_file)
    svc = service_factory(overrides)
    owner = fixtures.Client(svc.url).as_caller('p-%s' % uuid.uuid4().hex[:8])
    image_id = _create(owner)
    assert _upload(owner, image_id).status_code == 204
    path = '/v2/images/%s/file' % image_id
    assert owner.get(path).content == DATA
    assert owner.get(path, params={'prefer': 'fast'}).status_code == 403


def test_data_in_use_by_its_store_is_kept(multi, admin, monkeypatch):
    """A store that keeps the data for someone else (RBD clones; see
    test_storage_backends for the real one) makes both deletes 409."""
    image_id = _create(admin)
    assert _upload(admin, image_id).status_code == 204
    url = 'http://127.0.0.1:9/images/%s' % image_id
    db_images.image_add_location(context.admin_context(), image_id, url,
                                 {'store': 'web'})
    real = backends.delete

    def delete(location, **kwargs):
        if location['url'] == url:
            raise exception.InUseByStore(reason='it has clones')
        return real(location, **kwargs)
    monkeypatch.setattr(backends, 'delete', delete)
    resp = admin.delete('/v2/stores/web/%s' % image_id)
    assert resp.status_code == 409
    assert 'in use: ' in resp.text and 'it has clones' in resp.text
    resp = admin.delete('/v2/images/%s' % image_id)
    assert resp.status_code == 409
    image = admin.get('/v2/images/%s' % image_id).json()
    assert (image['status'], sorted(image['stores'].split(','))) == \
        ('active', ['fast', 'web'])
    assert admin.get('/v2/images/%s/file' % image_id).content == DATA
    assert _files(multi, 'fast') == [image_id]
    monkeypatch.setattr(backends, 'delete', real)
    assert admin.delete('/v2/stores/web/%s' % image_id).status_code == 204
    assert admin.delete('/v2/images/%s' % image_id).status_code == 204
    assert _files(multi, 'fast') == []

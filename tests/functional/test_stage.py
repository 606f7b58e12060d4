"""PUT /v2/images/{id}/stage (v2.6): data staged for glance-direct."""

import hashlib
import os
import socket
import uuid

import pytest

from glance_import import context
from glance_import.db import images as db_images
from glance_import.store import staging
from tests import fixtures
from tests.functional import imageutil

OCTET = {'Content-Type': 'application/octet-stream'}
DATA = os.urandom(2 * 1024 * 1024 + 3)


def _create(client, **body):
    body.setdefault('disk_format', 'raw')
    body.setdefault('container_format', 'bare')
    return imageutil.create(client, **body)['id']


def _stage(client, image_id, data, headers=None):
    return client.put('/v2/images/%s/stage' % image_id, data=data,
                      headers=dict(OCTET, **(headers or {})))


def _image(client, image_id):
    return client.get('/v2/images/%s' % image_id).json()


def _staging_dir(svc):
    return os.path.join(svc.directory, 'staging')


def _staged_files(svc):
    return sorted(os.listdir(_staging_dir(svc)))


def _db_image(image_id):
    return db_images.image_get(context.admin_context(), image_id,
                               check_visible=False)


def test_stage_writes_file_and_records_hashes(client, service):
    image_id = _create(client)
    resp = _stage(client, image_id, DATA)
    assert resp.status_code == 204, resp.text
    image = _image(client, image_id)
    assert image['status'] == 'uploading'
    assert image['size'] == len(DATA)
    # The bookkeeping properties are hidden from clients.
    assert not [k for k in image if k.startswith('os_glance_stage')]
    with open(os.path.join(_staging_dir(service), image_id), 'rb') as f:
        assert f.read() == DATA
    staged = staging.staged_from_image(_db_image(image_id))
    assert staged == staging.Staged(
        len(DATA), hashlib.md5(DATA).hexdigest(), 'sha512',
        hashlib.sha512(DATA).hexdigest())


def test_chunked_stage(client, service):
    image_id = _create(client)
    chunks = (DATA[i:i + 8192] for i in range(0, len(DATA), 8192))
    assert _stage(client, image_id, chunks).status_code == 204
    staged = staging.staged_from_image(_db_image(image_id))
    assert staged.checksum == hashlib.md5(DATA).hexdigest()
    assert staged.size == len(DATA)


def test_stage_records_stage_host(service_factory):
    svc = service_factory(
        {'worker_self_reference_url': 'http://node-1.example:9292'})
    client = fixtures.Client(svc.url)
    image_id = _create(client)
    assert _stage(client, image_id, b'abc').status_code == 204
    props = _db_image(image_id).properties
    assert props['os_glance_stage_host'] == 'http://node-1.example:9292'
    assert 'os_glance_stage_host' not in _image(client, image_id)


def test_stage_twice_is_409(client, service):
    image_id = _create(client)
    assert _stage(client, image_id, b'first').status_code == 204
    resp = _stage(client, image_id, b'second')
    assert resp.status_code == 409
    with open(os.path.join(_staging_dir(service), image_id), 'rb') as f:
        assert f.read() == b'first'


def test_existing_staged_data_is_409_and_left_alone(client, service):
    image_id = _create(client)
    os.makedirs(_staging_dir(service), exist_ok=True)
    residue = os.path.join(_staging_dir(service), image_id)
    with open(residue, 'wb') as f:
        f.write(b'old')
    resp = _stage(client, image_id, b'new')
    assert resp.status_code == 409
    assert 'The image %s has data on staging' % image_id in resp.text
    assert _image(client, image_id)['status'] == 'queued'
    with open(residue, 'rb') as f:
        assert f.read() == b'old'


def test_stage_requires_octet_stream(client, service):
    image_id = _create(client)
    resp = client.put('/v2/images/%s/stage' % image_id, data=b'x',
                      headers={'Content-Type': 'text/plain'})
    assert resp.status_code == 415
    assert _image(client, image_id)['status'] == 'queued'


def test_stage_size_cap_is_413_and_file_removed(service_factory):
    svc = service_factory({'image_size_cap': 4096})
    client = fixtures.Client(svc.url)
    image_id = _create(client)
    assert _stage(client, image_id, b'x' * 4097).status_code == 413
    resp = _stage(client, image_id, iter([b'x' * 4000, b'x' * 4000]))
    assert resp.status_code == 413
    assert _image(client, image_id)['status'] == 'queued'
    assert _staged_files(svc) == []
    assert _stage(client, image_id, b'x' * 4096).status_code == 204


def test_declared_size_mismatch_is_400(client, service):
    image_id = _create(client)
    resp = _stage(client, image_id, b'x' * 100,
                  {'x-openstack-image-size': '99'})
    assert resp.status_code == 400
    assert _image(client, image_id)['status'] == 'queued'
    assert _staged_files(service) == []


def test_stage_404_when_glance_direct_not_enabled(service_factory):
    svc = service_factory({'enabled_import_methods': 'web-download'})
    client = fixtures.Client(svc.url)
    image_id = _create(client)
    resp = _stage(client, image_id, b'x')
    assert resp.status_code == 404
    assert "'glance-direct' method is not available at this site." \
        in resp.text.replace('&#x27;', "'").replace('&#39;', "'")
    assert _image(client, image_id)['status'] == 'queued'


def test_stage_policy(service):
    project = 'p-%s' % uuid.uuid4().hex[:12]
    owner = fixtures.Client(service.url).as_caller(project)
    image_id = _create(owner)
    reader = owner.as_caller(project, roles='reader')
    assert _stage(reader, image_id, b'x').status_code == 403
    stranger = owner.as_caller('p-other')
    assert _stage(stranger, image_id, b'x').status_code == 404
    assert _stage(owner, image_id, b'x').status_code == 204


def test_stage_unknown_image_is_404(client):
    assert _stage(client, str(uuid.uuid4()), b'x').status_code == 404
    assert _stage(client, '..%2F..%2Fetc', b'x').status_code == 404


@pytest.mark.parametrize('framing', ['chunked', 'content-length'])
def test_client_disconnect_removes_partial_file(client, service, framing):
    image_id = _create(client)
    head = ('PUT /v2/images/%s/stage HTTP/1.1\r\nHost: test\r\n'
            'Content-Type: application/octet-stream\r\n' % image_id)
    if framing == 'chunked':
        head += 'Transfer-Encoding: chunked\r\n\r\n'
    else:
        head += 'Content-Length: %d\r\n\r\n' % (100 * 65536)
    sock = socket.create_connection(('127.0.0.1', service.port))
    try:
        sock.sendall(head.encode())
        piece = b'z' * 65536
        for _ in range(8):
            if framing == 'chunked':
                sock.sendall(b'%x\r\n%s\r\n' % (len(piece), piece))
            else:
                sock.sendall(piece)
        staged = os.path.join(_staging_dir(service), image_id)
        fixtures.wait_until(lambda: os.path.exists(staged),
                            message='staging started')
        assert _image(client, image_id)['status'] == 'uploading'
    finally:
        sock.close()
    fixtures.wait_until(
        lambda: _image(client, image_id)['status'] == 'queued',
        message='image back to queued')
    assert not os.path.exists(staged)
    # The client can stage again.
    assert _stage(client, image_id, b'retry').status_code == 204


def test_deleting_a_staged_image_removes_its_staged_data(client, service):
    image_id = _create(client)
    assert _stage(client, image_id, b'abc').status_code == 204
    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    assert _staged_files(service) == []

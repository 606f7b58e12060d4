"""PUT/GET /v2/images/{id}/file: upload, download, ranges, limits, formats."""

import hashlib
import os
import threading
import uuid

import pytest
import webob
from oslo_config import cfg

from glance_import.api import app
from tests import fixtures
from tests.functional import imageutil

OCTET = {'Content-Type': 'application/octet-stream'}
DATA = bytes(range(256)) * 4000  # 1,024,000 bytes


def _project():
    return 'p-%s' % uuid.uuid4().hex[:12]


def _create(client, **body):
    body.setdefault('disk_format', 'raw')
    body.setdefault('container_format', 'bare')
    return imageutil.create(client, **body)['id']


def _upload(client, image_id, data, headers=None):
    return client.put('/v2/images/%s/file' % image_id, data=data,
                      headers=dict(OCTET, **(headers or {})))


def _image(client, image_id):
    return client.get('/v2/images/%s' % image_id).json()


def _store_files(svc):
    return os.listdir(os.path.join(svc.directory, 'images'))


@pytest.fixture
def member(service):
    return fixtures.Client(service.url).as_caller(_project())


@pytest.fixture
def uploaded(client):
    image_id = _create(client, name='uploaded')
    assert _upload(client, image_id, DATA).status_code == 204
    return image_id


# Upload ------------------------------------------------------------------

def test_upload_sets_size_and_hashes_computed_in_one_pass(client, service):
    image_id = _create(client)
    resp = _upload(client, image_id, DATA)
    assert resp.status_code == 204, resp.text
    image = _image(client, image_id)
    assert image['status'] == 'active'
    assert image['size'] == len(DATA)
    assert image['virtual_size'] == len(DATA)
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()
    assert image['os_hash_algo'] == 'sha512'
    assert image['os_hash_value'] == hashlib.sha512(DATA).hexdigest()
    assert _store_files(service) == [image_id]


def test_chunked_upload_with_other_hash_algorithm(service_factory):
    svc = service_factory({'hashing_algorithm': 'sha256'})
    client = fixtures.Client(svc.url)
    image_id = _create(client)
    data = os.urandom(3 * 1024 * 1024 + 17)
    # A generator body is sent with chunked transfer encoding.
    chunks = (data[i:i + 65536] for i in range(0, len(data), 65536))
    assert _upload(client, image_id, chunks).status_code == 204
    image = _image(client, image_id)
    assert image['os_hash_algo'] == 'sha256'
    assert image['os_hash_value'] == hashlib.sha256(data).hexdigest()
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert client.get('/v2/images/%s/file' % image_id).content == data


def test_native_file_store_fsyncs_and_bypasses_glance_store(
        client, service, monkeypatch):
    from glance_store._drivers import filesystem
    synced = []
    real_fsync = os.fsync

    def counting_fsync(fd):
        synced.append(os.readlink('/proc/self/fd/%d' % fd))
        return real_fsync(fd)

    def no_glance_store(*args, **kwargs):
        raise AssertionError('glance_store add used for a file store')

    monkeypatch.setattr(os, 'fsync', counting_fsync)
    monkeypatch.setattr(filesystem.Store, 'add', no_glance_store)
    image_id = _create(client)
    assert _upload(client, image_id, DATA).status_code == 204
    datadir = os.path.join(service.directory, 'images')
    # The data file and then its directory entry are made durable.
    assert os.path.join(datadir, image_id) in synced
    assert datadir in synced


def test_upload_requires_octet_stream(client):
    image_id = _create(client)
    resp = client.put('/v2/images/%s/file' % image_id, data=b'x',
                      headers={'Content-Type': 'application/json'})
    assert resp.status_code == 415
    assert _image(client, image_id)['status'] == 'queued'


def test_upload_to_active_image_is_409(client, uploaded):
    resp = _upload(client, uploaded, b'more')
    assert resp.status_code == 409
    assert _image(client, uploaded)['size'] == len(DATA)


def test_upload_without_formats_is_400(client, service):
    resp = client.post('/v2/images', json={'name': 'no formats'})
    image_id = resp.json()['id']
    resp = _upload(client, image_id, b'data')
    assert resp.status_code == 400
    assert 'disk_format' in resp.text
    assert _image(client, image_id)['status'] == 'queued'
    assert _store_files(service) == []


def test_upload_unknown_image_is_404(client):
    assert _upload(client, str(uuid.uuid4()), b'x').status_code == 404


def test_upload_policy(service):
    owner = fixtures.Client(service.url).as_caller(_project())
    image_id = _create(owner)
    other = fixtures.Client(service.url).as_caller(_project())
    assert _upload(other, image_id, b'x').status_code == 404
    reader = owner.as_caller(owner.headers['X-Project-Id'], roles='reader')
    resp = _upload(reader, image_id, b'x')
    assert resp.status_code == 403
    assert _image(owner, image_id)['status'] == 'queued'


def test_declared_size_mismatch_is_400_and_nothing_kept(client, service):
    image_id = _create(client)
    resp = _upload(client, image_id, DATA,
                   {'x-openstack-image-size': str(len(DATA) - 1)})
    assert resp.status_code == 400
    assert 'does not match' in resp.text
    image = _image(client, image_id)
    assert (image['status'], image['size']) == ('queued', None)
    assert _store_files(service) == []
    resp = _upload(client, image_id, DATA,
                   {'x-openstack-image-size': 'many'})
    assert resp.status_code == 400
    # The image is still usable.
    assert _upload(client, image_id, DATA).status_code == 204


def test_size_cap_is_413_and_nothing_kept(service_factory):
    svc = service_factory({'image_size_cap': 1000})
    client = fixtures.Client(svc.url)
    image_id = _create(client)
    # Declared too large: refused before reading.
    resp = _upload(client, image_id, b'x' * 1001)
    assert resp.status_code == 413
    # Chunked, so only counting can tell.
    resp = _upload(client, image_id, iter([b'x' * 600, b'x' * 600]))
    assert resp.status_code == 413
    assert _image(client, image_id)['status'] == 'queued'
    assert _store_files(svc) == []
    assert _upload(client, image_id, b'x' * 1000).status_code == 204


def test_user_storage_quota(service_factory):
    svc = service_factory({'user_storage_quota': '3KB'})
    client = fixtures.Client(svc.url).as_caller(_project())
    first = _create(client)
    assert _upload(client, first, b'a' * 2048).status_code == 204
    second = _create(client)
    resp = _upload(client, second, iter([b'b' * 512, b'b' * 1024]))
    assert resp.status_code == 413
    assert '1024 bytes remaining' in resp.text
    assert _image(client, second)['status'] == 'queued'
    assert _store_files(svc) == [first]
    # Another project has its own quota.
    other = fixtures.Client(svc.url).as_caller(_project())
    assert _upload(other, _create(other), b'c' * 3072).status_code == 204
    # Deleting frees the space.
    assert client.delete('/v2/images/%s' % first).status_code == 204
    assert _upload(client, second, b'b' * 3072).status_code == 204


def test_image_deleted_during_upload_is_410(client, service):
    image_id = _create(client)
    deleted = threading.Event()

    def body():
        yield b'x' * 65536
        other = fixtures.Client(service.url)
        fixtures.wait_until(
            lambda: _image(other, image_id)['status'] == 'saving',
            message='upload started')
        resp = other.delete('/v2/images/%s' % image_id)
        assert resp.status_code == 204
        deleted.set()
        yield b'y' * 65536

    resp = _upload(client, image_id, body())
    assert deleted.is_set()
    assert resp.status_code == 410
    assert client.get('/v2/images/%s' % image_id).status_code == 404
    assert _store_files(service) == []


# Download ----------------------------------------------------------------

def test_download(client, uploaded):
    resp = client.get('/v2/images/%s/file' % uploaded)
    assert resp.status_code == 200
    assert resp.content == DATA
    assert resp.headers['Content-Type'] == 'application/octet-stream'
    assert resp.headers['Content-Length'] == str(len(DATA))
    assert resp.headers['Content-MD5'] == hashlib.md5(DATA).hexdigest()


def test_download_uses_the_servers_file_wrapper(service, uploaded):
    application = app.load_app(cfg.CONF)
    wrapped = []

    class FileWrapper:
        """What uwsgi or mod_wsgi offer: the server sends the file."""

        def __init__(self, f, block_size):
            wrapped.append((f.name, f.tell()))
            self.f, self.block_size = f, block_size

        def __iter__(self):
            return iter(lambda: self.f.read(self.block_size), b'')

        def close(self):
            self.f.close()

    def get(headers=None):
        req = webob.Request.blank(
            '/v2/images/%s/file' % uploaded, headers=headers or {},
            environ={'wsgi.file_wrapper': FileWrapper})
        return req.get_response(application)

    path = os.path.join(service.directory, 'images', uploaded)
    resp = get()
    assert (resp.status_int, resp.body) == (200, DATA)
    assert wrapped == [(path, 0)]
    # Open-ended ranges run to EOF too; others are read chunk by chunk.
    resp = get({'Range': 'bytes=1000-'})
    assert (resp.status_int, resp.body) == (206, DATA[1000:])
    assert wrapped[-1] == (path, 1000)
    resp = get({'Range': 'bytes=0-9'})
    assert (resp.status_int, resp.body) == (206, DATA[:10])
    assert len(wrapped) == 2


def test_download_is_sent_with_sendfile(client, uploaded, monkeypatch):
    import socket
    sent = []
    real = socket.socket.sendfile

    def sendfile(sock, f, offset=0, count=None):
        sent.append((os.path.basename(f.name), offset, count))
        return real(sock, f, offset, count)
    monkeypatch.setattr(socket.socket, 'sendfile', sendfile)
    resp = client.get('/v2/images/%s/file' % uploaded)
    assert (resp.status_code, resp.content) == (200, DATA)
    assert sent == [(uploaded, 0, len(DATA))]
    resp = client.get('/v2/images/%s/file' % uploaded,
                      headers={'Range': 'bytes=1000-'})
    assert (resp.status_code, resp.content) == (206, DATA[1000:])
    assert sent[-1] == (uploaded, 1000, len(DATA) - 1000)
    # The connection stays usable after a sendfile body.
    assert client.get('/v2/images/%s' % uploaded).status_code == 200
    resp = client.get('/v2/images/%s/file' % uploaded,
                      headers={'Range': 'bytes=0-9'})
    assert (resp.status_code, resp.content) == (206, DATA[:10])
    assert len(sent) == 2


def test_download_without_data_is_204(client):
    image_id = _create(client)
    resp = client.get('/v2/images/%s/file' % image_id)
    assert resp.status_code == 204
    assert resp.content == b''


@pytest.mark.parametrize('header,start,end', [
    ('bytes=0-99', 0, 99),
    ('bytes=1000-', 1000, len(DATA) - 1),
    ('bytes=-10', len(DATA) - 10, len(DATA) - 1),
    ('bytes=100-99999999', 100, len(DATA) - 1),
    ('bytes=-99999999', 0, len(DATA) - 1),
    ('bytes=%d-%d' % (len(DATA) - 1, len(DATA) - 1), len(DATA) - 1,
     len(DATA) - 1),
])
def test_download_range(client, uploaded, header, start, end):
    resp = client.get('/v2/images/%s/file' % uploaded,
                      headers={'Range': header})
    assert resp.status_code == 206
    assert resp.content == DATA[start:end + 1]
    assert resp.headers['Content-Length'] == str(end - start + 1)
    assert resp.headers['Content-Range'] == 'bytes %d-%d/%d' % (
        start, end, len(DATA))
    assert resp.headers['Content-MD5'] == hashlib.md5(DATA).hexdigest()


def test_download_legacy_content_range_request(client, uploaded):
    resp = client.get('/v2/images/%s/file' % uploaded,
                      headers={'Content-Range': 'bytes 5-9/%d' % len(DATA)})
    assert resp.status_code == 206
    assert resp.content == DATA[5:10]


@pytest.mark.parametrize('header', [
    'bytes=%d-' % len(DATA), 'bytes=%d-%d' % (len(DATA), len(DATA) + 5),
    'bytes=10-5', 'bytes=-0', 'bytes=abc', 'items=0-5', 'bytes=-', '',
    'bytes=0x10-20',
])
def test_download_unsatisfiable_range_is_416(client, uploaded, header):
    resp = client.get('/v2/images/%s/file' % uploaded,
                      headers={'Range': header})
    assert resp.status_code == 416
    assert resp.headers['Content-Range'] == 'bytes */%d' % len(DATA)


def test_download_multiple_ranges_is_400(client, uploaded):
    resp = client.get('/v2/images/%s/file' % uploaded,
                      headers={'Range': 'bytes=0-1,5-6'})
    assert resp.status_code == 400


def test_download_with_body_is_400(client, uploaded):
    resp = client.request('GET', '/v2/images/%s/file' % uploaded,
                          data=b'body')
    assert resp.status_code == 400


def test_deactivated_image_download_is_403_for_non_admins(service):
    admin = fixtures.Client(service.url)
    owner = admin.as_caller(_project())
    image_id = _create(owner)
    assert _upload(owner, image_id, DATA).status_code == 204
    resp = admin.post('/v2/images/%s/actions/deactivate' % image_id)
    assert resp.status_code == 204
    resp = owner.get('/v2/images/%s/file' % image_id)
    assert resp.status_code == 403
    assert 'deactivated' in resp.text
    assert admin.get('/v2/images/%s/file' % image_id).content == DATA


def test_download_policy_hides_invisible_images(service, member):
    image_id = _create(member)
    assert _upload(member, image_id, b'secret').status_code == 204
    stranger = fixtures.Client(service.url).as_caller(_project())
    assert stranger.get('/v2/images/%s/file' % image_id).status_code == 404


def test_missing_data_file_is_404(client, service, uploaded):
    os.unlink(os.path.join(service.directory, 'images', uploaded))
    assert client.get('/v2/images/%s/file' % uploaded).status_code == 404


# Format inspection (bare containers only) ----------------------------------

@pytest.fixture
def qcow2_images(tmp_path):
    """A plain qcow2 and one with a backing file, made by qemu-img."""
    base, top = fixtures.qcow2_pair(tmp_path)
    return base.read_bytes(), top.read_bytes()


def test_qcow2_declared_qcow2_is_accepted(client, qcow2_images):
    plain, _ = qcow2_images
    image_id = _create(client, disk_format='qcow2')
    assert _upload(client, image_id, plain).status_code == 204
    image = _image(client, image_id)
    assert image['virtual_size'] == 2 * 1024 * 1024
    assert image['size'] == len(plain)


def test_qcow2_with_backing_file_is_415(client, service, qcow2_images):
    _, with_backing = qcow2_images
    for disk_format in ('qcow2', 'raw'):
        image_id = _create(client, disk_format=disk_format)
        resp = _upload(client, image_id, with_backing)
        assert resp.status_code == 415, disk_format
        assert 'safety' in resp.text
        assert _image(client, image_id)['status'] == 'queued'
    assert _store_files(service) == []


def test_qcow2_declared_raw_is_accepted_as_raw(client, qcow2_images):
    # Reference 7.1: richer data declared raw is accepted with a warning
    # (safety checks still run) and the virtual size is the byte count.
    plain, _ = qcow2_images
    image_id = _create(client, disk_format='raw')
    assert _upload(client, image_id, plain).status_code == 204
    assert _image(client, image_id)['virtual_size'] == len(plain)


def test_raw_declared_qcow2_is_415(client, service):
    image_id = _create(client, disk_format='qcow2')
    resp = _upload(client, image_id, DATA)
    assert resp.status_code == 415
    assert 'does not match' in resp.text
    assert _image(client, image_id)['status'] == 'queued'
    assert _store_files(service) == []


def test_non_bare_containers_are_not_inspected(client, qcow2_images):
    _, with_backing = qcow2_images
    image_id = _create(client, disk_format='qcow2', container_format='ovf')
    assert _upload(client, image_id, with_backing).status_code == 204


def test_format_mismatch_tolerated_when_match_not_required(
        service_factory):
    svc = service_factory({'image_format.require_image_format_match': False})
    client = fixtures.Client(svc.url)
    image_id = _create(client, disk_format='qcow2')
    assert _upload(client, image_id, DATA).status_code == 204
    assert _image(client, image_id)['virtual_size'] is None

"""store.staging: writing staged data; importer.residue: removing
residue."""

import hashlib
import os
import subprocess
import sys
import uuid

import pytest
from oslo_config import cfg

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import.db import images as db_images
from glance_import.importer import residue
from glance_import.store import fileio
from glance_import.store import staging
from tests import fixtures

CONF = cfg.CONF
DATA = os.urandom(3 * 1024 * 1024 + 5)


@pytest.fixture
def conf(service):
    return CONF


def _new_id():
    return str(uuid.uuid4())


def _staged_names(conf):
    return sorted(os.listdir(staging.directory(conf)))


def test_write_hashes_and_fsyncs(conf, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, 'fsync',
                        lambda fd: synced.append(fd) or real_fsync(fd))
    image_id = _new_id()
    chunks = [DATA[i:i + 65536] for i in range(0, len(DATA), 65536)]
    staged = staging.write(conf, image_id, chunks, size_cap=len(DATA))
    assert staged == staging.Staged(
        len(DATA), hashlib.md5(DATA).hexdigest(), 'sha512',
        hashlib.sha512(DATA).hexdigest())
    with open(staging.path(conf, image_id), 'rb') as f:
        assert f.read() == DATA
    assert len(synced) == 2  # the file, then its directory
    assert staging.exists(conf, image_id)


def test_existing_staged_data_is_409(conf):
    image_id = _new_id()
    staging.write(conf, image_id, [b'first'], size_cap=100)
    with pytest.raises(exception.Conflict) as err:
        staging.write(conf, image_id, [b'second'], size_cap=100)
    assert 'has data on staging' in err.value.msg
    with open(staging.path(conf, image_id), 'rb') as f:
        assert f.read() == b'first'


@pytest.mark.parametrize('chunks,cap,expected,error', [
    ([b'x' * 60, b'x' * 60], 100, None, exception.ImageSizeLimitExceeded),
    ([b'x' * 50], 100, 60, exception.BadRequest),
    ([b'x' * 50, b'x' * 50], 1000, 60, exception.BadRequest),
])
def test_limits_remove_partial_file(conf, chunks, cap, expected, error):
    image_id = _new_id()
    with pytest.raises(error):
        staging.write(conf, image_id, chunks, size_cap=cap,
                      expected_size=expected)
    assert not staging.exists(conf, image_id)


def test_client_error_mid_stream_removes_partial_file(conf):
    def disconnecting():
        yield DATA
        raise exception.BadRequest('client went away')

    image_id = _new_id()
    with pytest.raises(exception.BadRequest):
        staging.write(conf, image_id, disconnecting(), size_cap=1 << 30)
    assert not staging.exists(conf, image_id)


@pytest.mark.parametrize('bad', ['../etc', 'abc', '', None,
                                 'A' * 36, '../' + _new_id()])
def test_path_only_for_uuids(conf, bad):
    with pytest.raises(exception.ImageNotFound):
        staging.path(conf, bad)


def test_delete_removes_derived_files(conf):
    image_id = _new_id()
    staging.write(conf, image_id, [b'data'], size_cap=100)
    base = staging.directory(conf)
    for suffix in ('.qcow2', '.raw'):
        with open(os.path.join(base, image_id + suffix), 'wb') as f:
            f.write(b'derived')
    other = _new_id()
    staging.write(conf, other, [b'keep'], size_cap=100)
    assert staging.delete(conf, image_id) is True
    assert _staged_names(conf) == [other]
    assert staging.delete(conf, image_id) is False


def test_staged_from_image():
    image = images.Image(id=_new_id(), size=4, properties={
        images.STAGE_CHECKSUM: 'md5hex', images.STAGE_HASH_ALGO: 'sha512',
        images.STAGE_HASH_VALUE: 'sha512hex'})
    assert staging.staged_from_image(image) == staging.Staged(
        4, 'md5hex', 'sha512', 'sha512hex')
    image.properties.pop(images.STAGE_HASH_VALUE)
    assert staging.staged_from_image(image) is None
    assert staging.stage_properties(staging.Staged(1, 'a', 'b', 'c')) == {
        images.STAGE_CHECKSUM: 'a', images.STAGE_HASH_ALGO: 'b',
        images.STAGE_HASH_VALUE: 'c'}


def _residue(conf, name, data=b'residue'):
    path = os.path.join(staging.directory(conf), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def _image(client):
    resp = client.post('/v2/images', json={'disk_format': 'raw',
                                           'container_format': 'bare'})
    assert resp.status_code == 201
    return resp.json()['id']


def test_cleanup_removes_only_residue(conf, service):
    client = fixtures.Client(service.url)
    octet = {'Content-Type': 'application/octet-stream'}
    uploading = _image(client)
    assert client.put('/v2/images/%s/stage' % uploading, data=b'staged',
                      headers=octet).status_code == 204
    queued = _image(client)
    _residue(conf, queued)  # kept for a retry of a failed import
    deleted = _image(client)
    assert client.delete('/v2/images/%s' % deleted).status_code == 204
    _residue(conf, deleted)
    active = _image(client)
    assert client.put('/v2/images/%s/file' % active, data=b'data',
                      headers=octet).status_code == 204
    _residue(conf, active)
    copying = _image(client)
    assert client.put('/v2/images/%s/file' % copying, data=b'data',
                      headers=octet).status_code == 204
    db_images.image_update(context.admin_context(), copying,
                           set_properties={images.IMPORT_LOCK: _new_id()})
    _residue(conf, copying)
    unknown = _new_id()
    _residue(conf, unknown)
    _residue(conf, unknown + '.qcow2')
    _residue(conf, 'lost+found.txt')

    removed = residue.cleanup(conf)
    base = staging.directory(conf)
    assert sorted(removed) == sorted(
        os.path.join(base, n) for n in (deleted, active, unknown,
                                        unknown + '.qcow2'))
    assert _staged_names(conf) == sorted(
        [uploading, queued, copying, 'lost+found.txt'])
    assert residue.cleanup(conf) == []


def test_manage_staging_cleanup(conf, service):
    gone = _new_id()
    _residue(conf, gone)
    result = subprocess.run(
        [sys.executable, '-m', 'glance_import.cmd.manage', '--config-file',
         service.config_file, 'staging', 'cleanup'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'Removed 1 staging file(s)' in result.stdout
    assert _staged_names(conf) == []


def test_service_start_sweeps_residue(service_factory, tmp_path):
    staging_dir = tmp_path / 'sweep' / 'staging'
    staging_dir.mkdir(parents=True)
    leftover = staging_dir / _new_id()
    leftover.write_bytes(b'left behind')
    (staging_dir / 'README').write_bytes(b'not ours')
    service_factory(name='sweep')
    assert os.listdir(staging_dir) == ['README']


def test_multi_store_staging_directory(service_factory, tmp_path):
    custom = tmp_path / 'custom-staging'
    svc = service_factory({
        'enabled_backends': 'fast:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'os_glance_staging_store.filesystem_store_datadir': str(custom),
    })
    assert staging.directory(CONF) == str(custom)
    client = fixtures.Client(svc.url)
    image_id = _image(client)
    assert client.put('/v2/images/%s/stage' % image_id, data=b'abc',
                      headers={'Content-Type': 'application/octet-stream'}
                      ).status_code == 204
    assert os.listdir(custom) == [image_id]
    gone = _new_id()
    (custom / gone).write_bytes(b'residue')
    result = subprocess.run(
        [sys.executable, '-m', 'glance_import.cmd.manage', '--config-file',
         svc.config_file, 'staging', 'cleanup'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert os.listdir(custom) == [image_id]


def _digests(chunks, algo='sha512'):
    md5, other = hashlib.md5(), hashlib.new(algo)
    for chunk in chunks:
        md5.update(chunk)
        other.update(chunk)
    return md5.hexdigest(), other.hexdigest()


def test_streams_beyond_one_per_core_hash_inline():
    """Hash threads are for as many streams as cores; the others hash
    in their own thread, so memory does not grow with the streams."""
    chunks = [os.urandom(fileio.CHUNK_SIZE) for _ in range(3)]
    expected = _digests(chunks)
    busy = [fileio.MultiHasher('sha512')
            for _ in range(os.cpu_count() or 1)]
    try:
        for hasher in busy:
            hasher.update(chunks[0])
            assert hasher._threads is not None
        extra = fileio.MultiHasher('sha512')
        extra.update(chunks[0])
        assert extra._threads is None
        # A core frees up: the inline stream may move to threads, with
        # the same digests.
        busy.pop().finish()
        for chunk in chunks[1:]:
            extra.update(chunk)
        assert extra._threads is not None
        assert extra.finish() == expected
    finally:
        for hasher in busy:
            hasher.finish()
    # Every thread permit is back.
    again = [fileio.MultiHasher('sha512')
             for _ in range(os.cpu_count() or 1)]
    for hasher in again:
        hasher.update(chunks[0])
        assert hasher._threads is not None
        hasher.finish()

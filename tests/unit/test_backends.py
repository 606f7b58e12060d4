"""store.backends: configuration, the native file store, glance_store."""

import hashlib
import os
import stat
import uuid

import pytest
from glance_store import location as gs_location

from glance_import import exception
from glance_import import startup
from glance_import.store import backends
from glance_import.store import discovery
from glance_import.store import fileio
from glance_import.store import glance_store_driver
from glance_import.store import native_file
from glance_import.store import registry
from tests import fixtures

BIG = os.urandom(5 * 1024 * 1024 + 11)


def _configure(tmp_path, overrides=None, name='conf'):
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    path = fixtures.write_config(str(directory), None, overrides)
    conf = startup.load_config(['--config-file', path], 'test')
    backends.configure(conf)
    return conf


def _multi(tmp_path, **extra):
    overrides = {
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
    }
    overrides.update(extra)
    return overrides


def _image_id():
    return str(uuid.uuid4())


def _chunks(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.fixture
def single(tmp_path):
    return _configure(tmp_path)


def test_single_store_layout(single, tmp_path):
    assert not backends.is_multi_store(single)
    assert backends.store_ids(single) == []
    assert backends.default_store_id(single) is None
    assert backends.resolve_store(single, 'anything') is None
    assert discovery.stores_info(single) == []


@pytest.mark.parametrize('chunk', [1000, 64 * 1024, 4 * 1024 * 1024])
def test_native_add_hashes_while_writing(single, tmp_path, chunk):
    image_id = _image_id()
    stored = backends.add(single, image_id, _chunks(BIG, chunk))
    path = str(tmp_path / 'conf' / 'images' / image_id)
    assert stored.url == 'file://' + path
    assert stored.metadata == {}
    assert stored.size == len(BIG)
    assert stored.checksum == hashlib.md5(BIG).hexdigest()
    assert stored.os_hash_algo == 'sha512'
    assert stored.os_hash_value == hashlib.sha512(BIG).hexdigest()
    assert backends.local_path(stored.location) == path
    assert b''.join(backends.read(stored.location)) == BIG
    assert b''.join(backends.read(stored.location, 7, 100)) == BIG[7:107]
    assert b''.join(backends.read(stored.location, len(BIG) - 3)) == \
        BIG[-3:]


def test_native_add_accepts_file_objects(single, tmp_path):
    source = tmp_path / 'source'
    source.write_bytes(BIG)
    with open(source, 'rb') as f:
        stored = backends.add(single, _image_id(), f)
    assert stored.os_hash_value == hashlib.sha512(BIG).hexdigest()


def test_md5_as_multihash(tmp_path):
    conf = _configure(tmp_path, {'hashing_algorithm': 'md5'})
    stored = backends.add(conf, _image_id(), [BIG])
    assert stored.os_hash_value == stored.checksum == \
        hashlib.md5(BIG).hexdigest()


def test_failed_stream_leaves_no_file(single, tmp_path):
    def broken():
        yield BIG
        raise exception.ImageSizeLimitExceeded()

    image_id = _image_id()
    with pytest.raises(exception.ImageSizeLimitExceeded):
        backends.add(single, image_id, broken())
    assert os.listdir(tmp_path / 'conf' / 'images') == []


def test_existing_data_is_a_conflict(single):
    image_id = _image_id()
    first = backends.add(single, image_id, [b'one'])
    with pytest.raises(exception.Conflict):
        backends.add(single, image_id, [b'two'])
    assert b''.join(backends.read(first.location)) == b'one'


def test_delete_is_idempotent_and_scoped(single, tmp_path):
    stored = backends.add(single, _image_id(), [b'data'])
    backends.delete(stored.location)
    backends.delete(stored.location)
    assert not os.path.exists(backends.local_path(stored.location))
    # A file:// URL outside the store's directory is not ours to touch.
    outside = tmp_path / 'precious'
    outside.write_bytes(b'keep')
    assert backends.local_path({'url': 'file://%s' % outside,
                                'metadata': {}}) is None
    backends.delete_all([{'url': 'file://%s' % outside, 'metadata': {}}])
    assert outside.read_bytes() == b'keep'


def test_file_permissions_read_as_octal(tmp_path):
    conf = _configure(tmp_path,
                      {'glance_store.filesystem_store_file_perm': 640})
    stored = backends.add(conf, _image_id(), [b'data'])
    mode = os.stat(backends.local_path(stored.location)).st_mode
    assert stat.S_IMODE(mode) == 0o640


def test_add_from_staged_file_links_and_reuses_hashes(
        single, tmp_path, monkeypatch):
    staged_path = tmp_path / 'conf' / 'staging-file'
    staged_path.write_bytes(BIG)
    staged = fileio.Written(len(BIG), hashlib.md5(BIG).hexdigest(),
                            'sha512', hashlib.sha512(BIG).hexdigest())

    def no_rehash(*args):
        raise AssertionError('staged data hashed again')

    monkeypatch.setattr(fileio, 'hash_file', no_rehash)
    monkeypatch.setattr(fileio, 'write_new', no_rehash)
    stored = backends.add_from_staged_file(single, _image_id(),
                                           str(staged_path), staged)
    dest = backends.local_path(stored.location)
    assert os.stat(dest).st_ino == os.stat(staged_path).st_ino
    assert (stored.size, stored.checksum, stored.os_hash_value) == (
        staged.size, staged.checksum, staged.os_hash_value)


def test_add_from_staged_file_hashes_unknown_data_once(single, tmp_path):
    staged_path = tmp_path / 'conf' / 'converted'
    staged_path.write_bytes(BIG)
    stored = backends.add_from_staged_file(single, _image_id(),
                                           str(staged_path), None)
    assert stored.os_hash_value == hashlib.sha512(BIG).hexdigest()
    assert os.stat(backends.local_path(stored.location)).st_ino == \
        os.stat(staged_path).st_ino


def test_add_from_staged_file_copies_across_filesystems(
        single, tmp_path, monkeypatch):
    monkeypatch.setattr(native_file, '_same_filesystem', lambda a, b: False)
    staged_path = tmp_path / 'conf' / 'elsewhere'
    staged_path.write_bytes(BIG)
    stored = backends.add_from_staged_file(single, _image_id(),
                                           str(staged_path), None)
    dest = backends.local_path(stored.location)
    assert os.stat(dest).st_ino != os.stat(staged_path).st_ino
    assert stored.checksum == hashlib.md5(BIG).hexdigest()
    with open(dest, 'rb') as f:
        assert f.read() == BIG


def test_multi_store_layout(tmp_path):
    conf = _configure(tmp_path, _multi(tmp_path, **{
        'enabled_backends': 'fast:file,slow:file,web:http'}))
    assert backends.is_multi_store(conf)
    assert backends.store_ids(conf) == ['fast', 'slow', 'web']
    assert [s for s in backends.store_ids(conf)
            if registry.unwritable(conf, s) is None] == ['fast', 'slow']
    assert backends.default_store_id(conf) == 'fast'
    assert backends.store_type(conf, 'web') == 'http'
    assert backends.resolve_store(conf, None) == 'fast'
    assert backends.resolve_store(conf, 'slow') == 'slow'
    for bad in ('nowhere', 'os_glance_tasks_store', 'web'):
        with pytest.raises(exception.BadRequest):
            backends.resolve_store(conf, bad)
    stored = backends.add(conf, _image_id(), [b'abc'], store_id='slow')
    assert stored.metadata == {'store': 'slow'}
    assert stored.url.startswith('file://%s/' % (tmp_path / 'slow'))
    # The reserved stores get their directories.
    assert os.path.isdir(tmp_path / 'conf' / 'staging')
    assert os.path.isdir(tmp_path / 'conf' / backends.TASKS_STORE)


def test_file_store_through_glance_store(tmp_path):
    # Thin provisioning is glance_store's feature: no native path then.
    conf = _configure(tmp_path, _multi(
        tmp_path, **{'slow.filesystem_thin_provisioning': True}))
    image_id = _image_id()
    stored = backends.add(conf, image_id, _chunks(BIG, 100000),
                          store_id='slow', size=len(BIG))
    assert backends.local_path(stored.location) is None
    assert stored.metadata['store'] == 'slow'
    assert stored.checksum == hashlib.md5(BIG).hexdigest()
    assert stored.os_hash_value == hashlib.sha512(BIG).hexdigest()
    assert b''.join(backends.read(stored.location)) == BIG
    assert b''.join(backends.read(stored.location, 10, 20)) == BIG[10:30]
    backends.delete(stored.location)
    assert os.listdir(tmp_path / 'slow') == []
    with pytest.raises(exception.NotFound):
        list(backends.read(stored.location))


def test_reconfigure_drops_previous_stores(tmp_path):
    _configure(tmp_path, _multi(tmp_path), name='one')
    assert gs_location.SCHEME_TO_CLS_BACKEND_MAP
    conf = _configure(tmp_path, name='two')
    assert not gs_location.SCHEME_TO_CLS_BACKEND_MAP
    assert backends.store_ids(conf) == []


@pytest.mark.parametrize('overrides,message', [
    ({'enabled_backends': 'a:file'}, 'default_backend must be set'),
    ({'enabled_backends': 'a:file', 'glance_store.default_backend': 'b'},
     "default_backend 'b' is not one of enabled_backends"),
    ({'enabled_backends': 'a:floppy', 'glance_store.default_backend': 'a'},
     "unknown type 'floppy'"),
    ({'enabled_backends': 'os_glance_mine:file',
      'glance_store.default_backend': 'os_glance_mine'}, 'reserved'),
    ({'glance_store.default_store': 'rbd'},
     "default_store 'rbd' is not one of the enabled stores"),
    ({'hashing_algorithm': 'nohash'}, 'not a hashlib algorithm'),
    ({'glance_store.filesystem_store_file_perm': 9},
     'must be octal digits'),
])
def test_misconfiguration_is_one_clear_error(tmp_path, overrides, message):
    with pytest.raises(exception.InvalidConfiguration) as err:
        _configure(tmp_path, overrides)
    assert message in err.value.msg


def test_chunk_reader_serves_glance_store_reads():
    reader = glance_store_driver.ChunkReader(iter([b'abc', b'defg', b'h']))
    assert reader.read(2) == b'ab'
    assert reader.read(4) == b'cdef'
    assert reader.read(10) == b'gh'
    assert reader.read(10) == b''


def test_native_location(tmp_path):
    conf = _configure(tmp_path, _multi(tmp_path, **{
        'enabled_backends': 'fast:file,slow:file,web:http'}))
    image_id = _image_id()
    assert backends.native_location(conf, image_id, 'slow') == {
        'url': 'file://%s/%s' % (tmp_path / 'slow', image_id),
        'metadata': {'store': 'slow'}}
    assert backends.native_location(conf, image_id)['metadata'] == {
        'store': 'fast'}
    stored = backends.add(conf, image_id, [b'x'], store_id='slow')
    assert stored.location == backends.native_location(conf, image_id,
                                                       'slow')


def test_store_errors_map_to_statuses():
    from glance_store import exceptions as gs_exc
    store_error = glance_store_driver.store_error
    in_use = store_error(gs_exc.InUseByStore())
    assert isinstance(in_use, exception.InUseByStore)
    assert in_use.status == 409
    assert store_error(gs_exc.NotFound()).status == 404
    assert store_error(gs_exc.StorageFull()).status == 413
    assert store_error(gs_exc.BackendException()).status == 503

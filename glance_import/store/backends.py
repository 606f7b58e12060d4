"""Image data stores: glance_store configured from our options, plus a
native fast path for local file stores.

Every store type goes through glance_store, except file stores with a
single data directory: those are written here directly (large writes,
md5 and the multihash computed on helper threads in the same pass, fsync
of the file and its directory before returning) and read with large
chunks. The data layout is glance_store's (``<datadir>/<image id>``,
``file://`` URLs), so either side can read or delete what the other wrote.

Interface (all take the global configuration object; glance_store needs
it):

* ``configure(conf)`` - set up the stores; safe to call again with a new
  configuration (tests run several services in one process).
* ``is_multi_store(conf)``, ``store_ids(conf)``, ``writable_store_ids``,
  ``default_store_id(conf)``, ``store_type(conf, id)``,
  ``resolve_store(conf, id)`` - what is configured; ids exclude the
  reserved ``os_glance_*`` stores.
* ``add(conf, image_id, data, *, size=None, store_id=None, context=None)
  -> Stored`` - write an iterable of byte chunks (or a file object).
* ``add_from_staged_file(conf, image_id, path, staged=None,
  store_id=None, *, context=None) -> Stored`` - zero-copy when possible.
* ``read(location, offset=0, length=None, *, context=None)`` -> iterator
  of chunks; ``local_path(location)`` -> path of a native file or None;
  ``native_location(conf, image_id, store_id=None)`` -> the location a
  native file store uses for an image, or None.
* ``delete(location, *, context=None)``, ``delete_all(locations)``.
* ``stores_info(conf, detail=False)`` - /v2/info/stores entries.

A location is a dict as in ``Image.locations``: ``{'url': ...,
'metadata': {'store': id}}`` (no store key in single-store mode).
"""

import dataclasses
import errno
import logging
import os
from collections.abc import Iterable

import glance_store
from glance_store import exceptions as gs_exc
from glance_store import location as gs_location
from glance_store import multi_backend
from oslo_config import cfg

from glance_import import config
from glance_import import exception
from glance_import.store import fileio
from glance_import.store import swift_fix

LOG = logging.getLogger(__name__)

STAGING_STORE = 'os_glance_staging_store'
TASKS_STORE = 'os_glance_tasks_store'
RESERVED_STORES = {STAGING_STORE: 'file', TASKS_STORE: 'file'}
RESERVED_PREFIX = 'os_glance_'
STORE_TYPES = ('file', 'http', 'rbd', 'swift', 'cinder', 's3', 'vmware')
READ_ONLY_TYPES = ('http',)


@dataclasses.dataclass(frozen=True)
class Stored:
    """Where data landed, and what the single pass over it measured."""

    url: str
    metadata: dict
    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str

    @property
    def location(self) -> dict:
        return {'url': self.url, 'metadata': dict(self.metadata)}


@dataclasses.dataclass(frozen=True)
class _NativeFileStore:
    datadir: str
    file_perm: int

    def path(self, image_id):
        return os.path.join(self.datadir, image_id)


@dataclasses.dataclass
class _Layout:
    multi: bool
    stores: dict          # client-visible store id -> type (multi only)
    default: str | None   # default store id (multi) or None
    native: dict          # store id (None in single-store) -> native store


_LAYOUT: _Layout | None = None


# Configuration ---------------------------------------------------------

def configure(conf) -> None:
    """Configure glance_store (and our native file stores) from *conf*.

    glance_store keeps its registered stores in module globals; they are
    cleared first so a second call reflects only the new configuration.
    Raises InvalidConfiguration with one readable message.
    """
    global _LAYOUT
    _LAYOUT = None
    _reset_glance_store()
    fileio.check_hash_algo(conf.hashing_algorithm)
    if conf.enabled_backends:
        layout = _configure_multi(conf)
    else:
        layout = _configure_single(conf)
    _LAYOUT = layout


def _reset_glance_store():
    gs_location.SCHEME_TO_CLS_MAP.clear()
    gs_location.SCHEME_TO_CLS_BACKEND_MAP.clear()
    multi_backend._RESERVED_STORES.clear()


def _configure_single(conf):
    group = conf.glance_store
    stores = list(group.stores or [])
    if group.default_store not in stores:
        raise exception.InvalidConfiguration(
            '[glance_store] default_store %r is not one of the enabled '
            'stores (%s)' % (group.default_store, ', '.join(stores)))
    native = {}
    if 'file' in stores:
        store = _native_file_store(conf, 'glance_store')
        if store is not None:
            native[None] = store
    try:
        glance_store.create_stores(conf)
        glance_store.verify_default_store()
    except (gs_exc.GlanceStoreException, RuntimeError, ValueError) as e:
        raise exception.InvalidConfiguration(
            'Cannot configure the image stores: %s' % e)
    return _Layout(multi=False, stores={}, default=None, native=native)


def _configure_multi(conf):
    backends = dict(conf.enabled_backends)
    for store_id, store_type in backends.items():
        if store_id.startswith(RESERVED_PREFIX):
            raise exception.InvalidConfiguration(
                'Store identifier %r is reserved (os_glance_ prefix)'
                % store_id)
        if store_type not in STORE_TYPES:
            raise exception.InvalidConfiguration(
                'Store %r has unknown type %r; enabled_backends types are '
                '%s' % (store_id, store_type, ', '.join(STORE_TYPES)))
    try:
        multi_backend.register_store_opts(
            conf, reserved_stores=dict(RESERVED_STORES))
    except Exception as e:
        raise exception.InvalidConfiguration(
            'Cannot register store options: %s' % e)
    _set_reserved_defaults(conf)
    # The per-store sections exist from here on: read them all once.
    config.check_values(conf)
    default = conf.glance_store.default_backend
    if not default:
        raise exception.InvalidConfiguration(
            '[glance_store] default_backend must be set when '
            'enabled_backends is used')
    if default not in backends:
        raise exception.InvalidConfiguration(
            '[glance_store] default_backend %r is not one of '
            'enabled_backends (%s)' % (default, ', '.join(backends)))
    native = {}
    for store_id, store_type in list(backends.items()) + list(
            RESERVED_STORES.items()):
        if store_type == 'file':
            store = _native_file_store(conf, store_id)
            if store is not None:
                native[store_id] = store
    try:
        multi_backend.create_multi_stores(
            conf, reserved_stores=dict(RESERVED_STORES))
        multi_backend.verify_store()
    except (gs_exc.GlanceStoreException, RuntimeError, ValueError) as e:
        raise exception.InvalidConfiguration(
            'Cannot configure the image stores: %s' % e)
    for store_id, store_type in backends.items():
        try:
            multi_backend.get_store_from_store_identifier(store_id)
        except Exception as e:
            raise exception.InvalidConfiguration(
                'Store %r (type %s) could not be loaded: %s'
                % (store_id, store_type, e))
    return _Layout(multi=True, stores=backends, default=default,
                   native=native)


def _set_reserved_defaults(conf):
    """Reserved stores default to our staging dir and state path.

    glance_store resets every backend group's defaults to None when it
    creates the stores (falling back to [backend_defaults]), so the
    effective value is pinned with an override; the operator's own value,
    when set, is what gets pinned.
    """
    defaults = {
        STAGING_STORE: config.staging_dir(conf),
        TASKS_STORE: os.path.join(config.state_path(conf), TASKS_STORE),
    }
    for group, default in defaults.items():
        conf.clear_override('filesystem_store_datadir', group=group)
        conf.set_default('filesystem_store_datadir', default, group=group)
        value = getattr(conf, group).filesystem_store_datadir or default
        conf.set_override('filesystem_store_datadir', value, group=group)


def _native_file_store(conf, group_name):
    """The native writer for a file store, or None to use glance_store.

    Several data directories (priorities) and thin provisioning stay with
    glance_store; the common single-directory store is ours.
    """
    datadir = store_option(conf, group_name, 'filesystem_store_datadir')
    if store_option(conf, group_name, 'filesystem_store_datadirs') or \
            store_option(conf, group_name, 'filesystem_thin_provisioning') \
            or not datadir:
        return None
    datadir = os.path.abspath(os.path.expanduser(datadir))
    try:
        os.makedirs(datadir, exist_ok=True)
    except OSError as e:
        raise exception.InvalidConfiguration(
            'Cannot create the image directory %s of store %s: %s'
            % (datadir, group_name, e.strerror))
    if not os.access(datadir, os.W_OK | os.X_OK):
        raise exception.InvalidConfiguration(
            'The image directory %s of store %s is not writable'
            % (datadir, group_name))
    # Like glance_store, read the permission's digits as octal (644).
    perm = store_option(conf, group_name, 'filesystem_store_file_perm')
    try:
        mode = int(str(perm or 0), 8)
    except ValueError:
        raise exception.InvalidConfiguration(
            'filesystem_store_file_perm of store %s must be octal digits, '
            'not %r' % (group_name, perm))
    if mode and not mode & 0o400:
        raise exception.InvalidConfiguration(
            'filesystem_store_file_perm of store %s would make image files '
            'unreadable by the service' % group_name)
    return _NativeFileStore(datadir, mode)


def _layout(conf=None) -> _Layout:
    if _LAYOUT is None:
        configure(conf or cfg.CONF)
    return _LAYOUT


def staging_datadir(conf) -> str | None:
    """Directory of the reserved staging store (multi-store only).

    Configures the stores first when needed (command-line tools), since
    the reserved store's options exist only from then on.
    """
    if not conf.enabled_backends:
        return None
    _layout(conf)
    return store_option(conf, STAGING_STORE, 'filesystem_store_datadir')


def is_multi_store(conf) -> bool:
    return bool(conf.enabled_backends)


def store_ids(conf) -> list[str]:
    """Client-visible store ids in configuration order ([] single-store)."""
    return list(_layout(conf).stores)


def writable_store_ids(conf) -> list[str]:
    """Stores an ``all_stores`` import writes to (no read-only ones)."""
    return [s for s, t in _layout(conf).stores.items()
            if t not in READ_ONLY_TYPES]


def default_store_id(conf) -> str | None:
    return _layout(conf).default


def store_type(conf, store_id: str) -> str | None:
    return _layout(conf).stores.get(store_id)


def resolve_store(conf, store_id: str | None) -> str | None:
    """The store to write to: *store_id* or the default (400 if unknown).

    Single-store deployments ignore *store_id* (Glance ignores the
    X-Image-Meta-Store header there) and return None.
    """
    layout = _layout(conf)
    if not layout.multi:
        return None
    if not store_id:
        return layout.default
    if store_id.startswith(RESERVED_PREFIX):
        raise exception.BadRequest(
            'Store %s is reserved for the service and cannot be used.'
            % store_id)
    if store_id not in layout.stores:
        raise exception.BadRequest('Store for identifier %s not found'
                                   % store_id)
    if layout.stores[store_id] in READ_ONLY_TYPES:
        raise exception.BadRequest('Store %s is read-only.' % store_id)
    return store_id


# Writing ---------------------------------------------------------------

def _metadata(store_id):
    return {'store': store_id} if store_id else {}


def _chunks(data):
    if hasattr(data, 'read'):
        return iter(lambda: data.read(fileio.CHUNK_SIZE), b'')
    return data


class _ChunkReader:
    """File-like view of a chunk iterator, for glance_store drivers."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b''
        # What the data source raised (size cap, client gone): drivers
        # wrap or swallow it, the caller must see it as it was.
        self.error = None

    def read(self, size=-1):
        try:
            return self._read(size)
        except Exception as e:
            self.error = e
            raise

    def _read(self, size):
        if size is None or size < 0:
            return self._buffer + b''.join(self._chunks)
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def add(conf, image_id: str, data, *, size: int | None = None,
        store_id: str | None = None, context=None) -> Stored:
    """Write *data* (iterable of chunks or file object) as *image_id*.

    md5 and ``hashing_algorithm`` are computed in the same pass; the data
    is durable (fsynced) when this returns. Errors raised by *data* (size
    limits, client disconnects) propagate after the partial object is
    removed.
    """
    store_id = resolve_store(conf, store_id)
    algo = conf.hashing_algorithm
    native = _layout(conf).native.get(store_id)
    if native is not None:
        path = native.path(image_id)
        written = fileio.write_new(
            path, _chunks(data), algo, file_mode=native.file_perm,
            exists_error=exception.Conflict(
                'Image storage media already exists'))
        return Stored('file://' + path, _metadata(store_id), written.size,
                      written.checksum, algo, written.os_hash_value)
    reader = _ChunkReader(_chunks(data))
    expected = size or 0
    announced = swift_fix.store_size(store_id, expected)
    try:
        if store_id:
            url, size, checksum, hash_value, meta = \
                multi_backend.add_with_multihash(
                    conf, image_id, reader, announced, store_id, algo,
                    context=context)
        else:
            url, size, checksum, hash_value, meta = \
                glance_store.add_to_backend_with_multihash(
                    conf, image_id, reader, announced, algo,
                    context=context)
    except Exception as e:
        if reader.error is not None:
            raise reader.error
        if isinstance(e, gs_exc.GlanceStoreException):
            raise _store_error(e)
        # Drivers let their clients' errors through (botocore's
        # connection errors, librados timeouts): still a store failure.
        LOG.exception('Store %s failed writing image %s', store_id, image_id)
        raise exception.StoreError(reason='%s: %s' % (type(e).__name__, e))
    if announced != expected:
        try:
            swift_fix.check_written(expected, size)
        except exception.StoreError:
            delete({'url': url, 'metadata': _metadata(store_id)},
                   context=context)
            raise
    metadata = dict(meta or {})
    metadata.update(_metadata(store_id))
    return Stored(url, metadata, size, checksum, algo, hash_value)


def add_from_staged_file(conf, image_id: str, path: str, staged=None,
                         store_id: str | None = None, *,
                         context=None) -> Stored:
    """Store the staged file at *path* as *image_id*, copying if needed.

    When the target is a native file store on the same filesystem as
    *path*, the file is hard-linked into the store (and fsynced) instead
    of copied, and *staged* (a ``staging.Staged`` from the same file) is
    reused instead of rehashing. Pass ``staged=None`` when the file is
    not the data that was staged (e.g. a plugin converted it): it is then
    hashed once. The staged file stays in place; the caller removes it.
    Size caps, quotas and format checks are the caller's business.
    """
    store_id = resolve_store(conf, store_id)
    native = _layout(conf).native.get(store_id)
    algo = conf.hashing_algorithm
    if native is not None and _same_filesystem(path, native.datadir):
        dest = native.path(image_id)
        size = os.path.getsize(path)
        if staged is None or staged.os_hash_algo != algo or \
                staged.size != size:
            staged = fileio.hash_file(path, algo)
        try:
            os.link(path, dest)
        except FileExistsError:
            raise exception.Conflict('Image storage media already exists')
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK,
                               errno.ENOTSUP):
                raise fileio.os_error(e, dest)
            LOG.debug('Cannot link %s into the store (%s); copying',
                      path, e.strerror)
        else:
            _finish_link(dest, native)
            return Stored('file://' + dest, _metadata(store_id), staged.size,
                          staged.checksum, algo, staged.os_hash_value)
    return add(conf, image_id, fileio.read_chunks(path),
               size=os.path.getsize(path), store_id=store_id,
               context=context)


def _finish_link(dest, native):
    try:
        if native.file_perm:
            os.chmod(dest, native.file_perm)
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fileio.fsync_dir(native.datadir)
    except OSError as e:
        fileio.unlink_quietly(dest)
        raise fileio.os_error(e, dest)


def _same_filesystem(path, directory):
    try:
        return os.stat(path).st_dev == os.stat(directory).st_dev
    except OSError:
        return False


def _store_error(e):
    if isinstance(e, gs_exc.Duplicate):
        return exception.Conflict('Image storage media already exists')
    if isinstance(e, gs_exc.StorageFull):
        return exception.RequestEntityTooLarge(
            'There is not enough space in the store for the image data.')
    if isinstance(e, gs_exc.StorageWriteDenied):
        return exception.ServiceUnavailable(
            'Permission to write image data to the store denied.')
    if isinstance(e, gs_exc.NotFound):
        return exception.NotFound('Image data not found in the store.')
    if isinstance(e, gs_exc.UnknownScheme):
        return exception.BadRequest(str(e))
    if isinstance(e, gs_exc.InUseByStore):
        return exception.InUseByStore(reason=str(e))
    return exception.StoreError(reason=str(e))


# Reading and deleting --------------------------------------------------

def _native_store(location):
    """The native file store *location* claims to be in, if any."""
    if _LAYOUT is None or not location['url'].startswith('file://'):
        return None
    store_id = (location.get('metadata') or {}).get('store')
    return _LAYOUT.native.get(store_id if _LAYOUT.multi else None)


def _native_for(location):
    """(native store, path) when *location* is a file we manage."""
    native = _native_store(location)
    if native is None:
        return None, None
    path = os.path.normpath(location['url'][len('file://'):])
    if os.path.dirname(path) != native.datadir:
        return None, None
    return native, path


def native_location(conf, image_id: str,
                    store_id: str | None = None) -> dict | None:
    """Where a native file store keeps (or would keep) *image_id*'s data.

    None when the store is not a native file store. Crash recovery uses
    it to find partial files that no location records.
    """
    store_id = resolve_store(conf, store_id)
    native = _layout(conf).native.get(store_id)
    if native is None:
        return None
    return {'url': 'file://' + native.path(image_id),
            'metadata': _metadata(store_id)}


def local_path(location: dict) -> str | None:
    """Path of a native file store location, else None."""
    return _native_for(location)[1]


def read(location: dict, offset: int = 0, length: int | None = None, *,
         context=None):
    """Iterator over the data of *location* from *offset*.

    Raises NotFound (404) when the data is gone and StoreError (503) when
    the store cannot serve it.
    """
    _native, path = _native_for(location)
    if path is not None:
        try:
            return fileio.read_chunks(path, offset, length)
        except FileNotFoundError:
            raise exception.NotFound('Image data not found in the store.')
        except OSError as e:
            raise exception.StoreError(reason=e.strerror)
    store_id = (location.get('metadata') or {}).get('store')
    try:
        if _layout().multi:
            # glance_store's chunk_size is the length to read.
            data, _size = multi_backend.get(
                location['url'], store_id, offset=offset,
                chunk_size=length, context=context)
        else:
            data, _size = glance_store.get_from_backend(
                location['url'], offset=offset, chunk_size=length,
                context=context)
    except gs_exc.GlanceStoreException as e:
        raise _store_error(e)
    except Exception as e:
        raise _client_error('reading', location, e)
    return _truncate(data, length)


def _truncate(chunks, length):
    if length is None:
        yield from chunks
        return
    remaining = length
    for chunk in chunks:
        if remaining <= 0:
            break
        if len(chunk) > remaining:
            chunk = chunk[:remaining]
        remaining -= len(chunk)
        yield chunk
    close = getattr(chunks, 'close', None)
    if close:
        close()


def delete(location: dict, *, context=None) -> None:
    """Remove the data of *location*; already missing data is fine, and
    so is data a read-only store only points at.

    Raises InUseByStore (409) when the store keeps the data for someone
    else, StoreError (503) when it cannot be reached.
    """
    _native, path = _native_for(location)
    if path is not None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise exception.StoreError(reason='%s: %s' % (path, e.strerror))
        return
    if _native_store(location) is not None:
        # A file:// URL outside its store's directory was not written
        # here; never let a location name arbitrary files to delete.
        LOG.warning('Not deleting %s: outside the directory of its store',
                    location['url'])
        return
    store_id = (location.get('metadata') or {}).get('store')
    try:
        if _layout().multi:
            multi_backend.delete(location['url'], store_id, context=context)
        else:
            glance_store.delete_from_backend(location['url'],
                                             context=context)
    except gs_exc.NotFound:
        pass
    except gs_exc.StoreDeleteNotSupported:
        # Read-only stores (http) only point at data that lives on:
        # dropping the location is all there is to do, as in Glance.
        LOG.debug('Not deleting %s: its store cannot delete',
                  location['url'])
    except gs_exc.GlanceStoreException as e:
        raise _store_error(e)
    except Exception as e:
        raise _client_error('deleting', location, e)


def _client_error(doing, location, e):
    """A driver's client library error (not wrapped by glance_store)."""
    LOG.error('Store error %s %s: %s: %s', doing, location.get('url'),
              type(e).__name__, e)
    return exception.StoreError(reason='%s: %s' % (type(e).__name__, e))


def delete_all(locations: Iterable[dict], *, context=None) -> None:
    """Best-effort delete of several locations; failures are logged."""
    for location in locations:
        try:
            delete(location, context=context)
        except Exception:
            LOG.exception('Could not delete image data at %s',
                          location.get('url'))


# Discovery -------------------------------------------------------------

_DETAIL_PROPERTIES = {
    'file': {'data_dir': 'filesystem_store_datadir',
             'chunk_size': 'filesystem_store_chunk_size',
             'thin_provisioning': 'filesystem_thin_provisioning'},
    'rbd': {'chunk_size': 'rbd_store_chunk_size',
            'pool': 'rbd_store_pool',
            'thin_provisioning': 'rbd_thin_provisioning'},
    'cinder': {'volume_type': 'cinder_volume_type',
               'use_multipath': 'cinder_use_multipath'},
    'swift': {'container': 'swift_store_container',
              'large_object_size': 'swift_store_large_object_size',
              'large_object_chunk_size':
                  'swift_store_large_object_chunk_size'},
    's3': {name: name for name in (
        's3_store_large_object_size', 's3_store_large_object_chunk_size',
        's3_store_thread_pools')},
    'http': {},
}


def stores_info(conf, detail: bool = False) -> list[dict]:
    """Entries of GET /v2/info/stores (and /detail with *detail*)."""
    layout = _layout(conf)
    entries = []
    for store_id, kind in layout.stores.items():
        if kind == 'swift' and all(store_option(conf, store_id, name) for
                                   name in ('swift_store_multi_tenant',
                                            'swift_store_config_file')):
            continue
        entry = {'id': store_id}
        description = store_option(conf, store_id, 'store_description')
        if description:
            entry['description'] = description
        if store_id == layout.default:
            entry['default'] = 'true'
        if kind in READ_ONLY_TYPES:
            entry['read-only'] = 'true'
        if detail:
            entry['type'] = kind
            entry['weight'] = store_weight(conf, store_id)
            entry['properties'] = {
                key: store_option(conf, store_id, opt)
                for key, opt in _DETAIL_PROPERTIES.get(kind, {}).items()}
            if kind == 'rbd':
                entry['properties']['fsid'] = _rbd_fsid(store_id)
        entries.append(entry)
    return entries


def store_weight(conf, store_id: str | None) -> int:
    """Configured weight of a store (locations are read heaviest first)."""
    if not store_id or store_id not in _layout(conf).stores:
        return 0
    return store_option(conf, store_id, 'weight') or 0


def store_option(conf, group_name: str, name: str):
    """A store option as glance_store sees it: the store's own group,
    else ``[backend_defaults]``; None when not registered."""
    for group in (group_name, 'backend_defaults'):
        try:
            value = getattr(getattr(conf, group), name)
        except (AttributeError, cfg.NoSuchOptError, cfg.NoSuchGroupError):
            continue
        if value is not None:
            return value
    return None


def _rbd_fsid(store_id):
    """The cluster fsid from the rbd driver's ``rbd://<fsid>/<pool>/``
    URL prefix (set when it reached the cluster at start), as Glance."""
    try:
        store = multi_backend.get_store_from_store_identifier(store_id)
    except Exception:
        return None
    prefix = getattr(store, 'url_prefix', None) or ''
    pieces = prefix[len('rbd://'):].rstrip('/').split('/')
    if prefix.startswith('rbd://') and len(pieces) == 2 and pieces[0]:
        return pieces[0]
    return None

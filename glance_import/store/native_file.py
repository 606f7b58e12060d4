"""File stores with a single data directory, written and read here
directly instead of through glance_store.

Writes are large, hash md5 and the multihash on helper threads in the
same pass and fsync the file and its directory before returning; staged
files on the same filesystem are hard-linked in. The layout is
glance_store's (``<datadir>/<image id>``, ``file://`` URLs), so either
side can read or delete what the other wrote; locations this store does
not hold go to its glance_store fallback.
"""

import errno
import logging
import os

from glance_import import exception
from glance_import.store import base
from glance_import.store import fileio

LOG = logging.getLogger(__name__)

_EXISTS = 'Image storage media already exists'


def open_store(store_id, group_name, option, fallback):
    """The native store for the file store in *group_name*, or None when
    glance_store must serve it.

    *option* reads one of the store's options by name; *fallback* is the
    glance_store driver of the same store. Several data directories
    (priorities) and thin provisioning stay with glance_store.
    """
    datadir = option('filesystem_store_datadir')
    if option('filesystem_store_datadirs') or \
            option('filesystem_thin_provisioning') or not datadir:
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
    perm = option('filesystem_store_file_perm')
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
    return NativeFileStore(store_id, datadir, mode, fallback)


class NativeFileStore:
    """A ``base.Store`` over one local data directory."""

    def __init__(self, store_id, datadir, file_perm, fallback):
        self.store_id = store_id
        self.datadir = datadir
        self.file_perm = file_perm
        self._fallback = fallback

    def _path(self, image_id):
        return os.path.join(self.datadir, image_id)

    def _stored(self, path, algo, written):
        return base.Stored('file://' + path,
                           base.location_metadata(self.store_id),
                           written.size, written.checksum, algo,
                           written.os_hash_value)

    def add(self, conf, image_id, chunks, size, context):
        algo = conf.hashing_algorithm
        path = self._path(image_id)
        written = fileio.write_new(
            path, chunks, algo, file_mode=self.file_perm,
            exists_error=exception.Conflict(_EXISTS))
        return self._stored(path, algo, written)

    def link_file(self, conf, image_id, path, staged):
        """Hard-link *path* in when it is on this store's filesystem.

        *staged* (a ``staging.Staged`` of the same file) saves rehashing;
        None means the file is not the staged data and is hashed once.
        """
        if not _same_filesystem(path, self.datadir):
            return None
        algo = conf.hashing_algorithm
        dest = self._path(image_id)
        size = os.path.getsize(path)
        if staged is None or staged.os_hash_algo != algo or \
                staged.size != size:
            staged = fileio.hash_file(path, algo)
        try:
            os.link(path, dest)
        except FileExistsError:
            raise exception.Conflict(_EXISTS)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK,
                               errno.ENOTSUP):
                raise fileio.os_error(e, dest)
            LOG.debug('Cannot link %s into the store (%s); copying',
                      path, e.strerror)
            return None
        self._finish_link(dest)
        return self._stored(dest, algo, staged)

    def _finish_link(self, dest):
        try:
            if self.file_perm:
                os.chmod(dest, self.file_perm)
            fd = os.open(dest, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            fileio.fsync_dir(self.datadir)
        except OSError as e:
            fileio.unlink_quietly(dest)
            raise fileio.os_error(e, dest)

    def local_path(self, location):
        url = location['url']
        if not url.startswith('file://'):
            return None
        path = os.path.normpath(url[len('file://'):])
        if os.path.dirname(path) != self.datadir:
            return None
        return path

    def read(self, location, offset, length, context):
        path = self.local_path(location)
        if path is None:
            return self._fallback.read(location, offset, length, context)
        try:
            return fileio.read_chunks(path, offset, length)
        except FileNotFoundError:
            raise exception.NotFound('Image data not found in the store.')
        except OSError as e:
            raise exception.StoreError(reason=e.strerror)

    def delete(self, location, context):
        path = self.local_path(location)
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise exception.StoreError(
                    reason='%s: %s' % (path, e.strerror))
            return
        if location['url'].startswith('file://'):
            # A file:// URL outside the store's directory was not written
            # here; never let a location name arbitrary files to delete.
            LOG.warning('Not deleting %s: outside the directory of its '
                        'store', location['url'])
            return
        self._fallback.delete(location, context)

    def location_for(self, image_id):
        return {'url': 'file://' + self._path(image_id),
                'metadata': base.location_metadata(self.store_id)}


def _same_filesystem(path, directory):
    try:
        return os.stat(path).st_dev == os.stat(directory).st_dev
    except OSError:
        return False

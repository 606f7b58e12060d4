"""The image cache of an API node: what it holds, how it fills, and its
upkeep (prune, clean, reconcile).

An image enters the cache only whole and verified: it is written to
``incomplete/`` under a lock (one writer per image, however many first
downloads run at once), then a background thread checks its size, md5
checksum and multihash against the image record, fsyncs it and only
then moves it into place. A partial, corrupt or abandoned file is never
served; it is removed.
"""

import concurrent.futures
import datetime
import logging
import os
import socket
import time

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import.cache import directory as cache_directory
from glance_import.db import cache_records
from glance_import.db import images as db_images
from glance_import.store import fileio

LOG = logging.getLogger(__name__)

# Verification hashes whole images: one at a time per process keeps it
# from taking every core away from the requests.
_VERIFIER = concurrent.futures.ThreadPoolExecutor(
    max_workers=1, thread_name_prefix='cache-verify')
_COPY_CHUNK = 64 * 1024 * 1024

_CURRENT = None


def node_url(conf):
    """This node's identity in the cache records.

    ``worker_self_reference_url`` as in Glance; where it is unset (Glance
    refuses to start then) the host name and port, which are unique per
    node too.
    """
    if conf.worker_self_reference_url:
        return conf.worker_self_reference_url.rstrip('/')
    return 'http://%s:%d' % (socket.getfqdn(), conf.bind_port)


def configure(conf):
    """Set up the cache of ``image_cache_dir``; None when it is unset."""
    global _CURRENT
    _CURRENT = None
    if not conf.image_cache_dir:
        return None
    directory = cache_directory.CacheDirectory(conf.image_cache_dir)
    try:
        directory.ensure()
    except OSError as e:
        raise exception.InvalidConfiguration(
            'Cannot create the image cache directory %s: %s'
            % (conf.image_cache_dir, e.strerror))
    driver = conf.image_cache_driver.lower()
    if driver == 'centralized_db':
        engine = cache_records.central_engine()
    else:
        if driver == 'xattr':
            LOG.warning('image_cache_driver xattr is served by the sqlite '
                        'driver: entries are recorded in %s',
                        conf.image_cache_sqlite_db)
        engine = cache_records.local_engine(
            os.path.join(directory.base, conf.image_cache_sqlite_db))
    records = cache_records.CacheRecords(engine, node_url(conf))
    _CURRENT = ImageCache(conf, directory, records)
    return _CURRENT


def current():
    """The configured cache, or None when the cache is off."""
    return _CURRENT


def reset():
    global _CURRENT
    _CURRENT = None


def _is_active(image):
    return image.status == images.ACTIVE


class _Fill:
    """One writer of one image into ``incomplete/``, holding its lock."""

    def __init__(self, cache, image):
        self.cache = cache
        self.image = image
        self.written = 0
        self._context = cache.directory.writing(image.id)
        self.fd = self._context.__enter__()

    @property
    def started(self):
        return self.fd is not None

    def write(self, chunk):
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.fd, view):]
        self.written += len(chunk)

    def copy_file(self, path):
        with open(path, 'rb') as source:
            while True:
                sent = os.copy_file_range(source.fileno(), self.fd,
                                          _COPY_CHUNK)
                if not sent:
                    return
                self.written += sent

    def restart(self):
        """Empty the file, to write the image again from the start."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.written = 0

    def abort(self, reason):
        if self.fd is not None:
            LOG.info('Image %s not cached: %s', self.image.id, reason)
            self.cache.directory.remove(self.image.id,
                                        cache_directory.INCOMPLETE)
        self._release()

    def complete(self):
        """Verify, then move into place and record (or remove)."""
        try:
            problem = self.cache.verify(self.image, self.written)
            if problem:
                self.abort(problem)
                return False
            # Recorded first: a listing shows only entries whose file
            # exists, and the file is never there without its record.
            self.cache.records.record_cached(
                self.image.id, self.written, self.image.checksum)
            self.cache.directory.promote(self.image.id)
            self.cache.directory.remove(self.image.id,
                                        cache_directory.QUEUE)
            LOG.info('Image %s cached (%d bytes)', self.image.id,
                     self.written)
            return True
        except Exception as e:
            LOG.warning('Caching image %s failed: %s', self.image.id, e)
            self.abort(str(e))
            return False
        finally:
            self._release()

    def _release(self):
        if self._context is not None:
            context_manager, self._context = self._context, None
            context_manager.__exit__(None, None, None)
            self.fd = None


class ImageCache:

    def __init__(self, conf, directory, records):
        self.conf = conf
        self.directory = directory
        self.records = records

    # Serving ---------------------------------------------------------

    def cached_path(self, image):
        """Path of the complete cached data of *image*, or None.

        Only an active image whose file has exactly its size is served;
        anything else is left for the cleaner.
        """
        if image.size is None or image.status not in (
                images.ACTIVE, images.DEACTIVATED):
            return None
        if self.directory.complete_size(image.id) != image.size:
            return None
        return self.directory.path(image.id)

    def record_hit(self, image_id):
        try:
            self.records.record_hit(image_id)
        except Exception as e:  # a lost hit must not fail a download
            LOG.warning('Cannot count a cache hit of %s: %s', image_id, e)

    def _start_fill(self, image):
        # A complete file of another size (never served) is replaced.
        if not _is_active(image) or image.size is None \
                or self.directory.complete_size(image.id) == image.size:
            return None
        try:
            fill = _Fill(self, image)
        except exception.GlanceImportError as e:
            LOG.warning('Cannot cache image %s: %s', image.id, e.msg)
            return None
        if not fill.started:
            return None  # another request is filling it
        if self.directory.complete_size(image.id) == image.size:
            fill.abort('cached meanwhile')
            return None
        return fill

    def fill_through(self, image, chunks):
        """*chunks*, also written into the cache when *image* is not
        cached or being cached yet; verified once the stream ends."""
        fill = self._start_fill(image)
        if fill is None:
            return chunks
        return self._tee(fill, chunks)

    def _tee(self, fill, chunks):
        finished = False
        try:
            for chunk in chunks:
                if fill is not None:
                    try:
                        fill.write(chunk)
                    except OSError as e:
                        fill.abort(e.strerror)
                        fill = None
                yield chunk
            finished = True
        finally:
            close = getattr(chunks, 'close', None)
            if close is not None:
                close()
            if fill is not None:
                if finished:
                    _VERIFIER.submit(fill.complete)
                else:
                    fill.abort('the download did not finish')

    def fill_from_file_later(self, image, path):
        """Copy the local file *path* of *image* into the cache on the
        verifier thread; the caller serves *path* itself meanwhile."""
        fill = self._start_fill(image)
        if fill is None:
            return

        def copy_and_complete():
            try:
                fill.copy_file(path)
            except OSError as e:
                fill.abort(e.strerror)
                return
            fill.complete()
        _VERIFIER.submit(copy_and_complete)

    def verify(self, image, written):
        """None when the written file is *image*'s data, else why not."""
        if written != image.size:
            return 'wrote %d bytes, the image has %s' % (written, image.size)
        if not (image.checksum or image.os_hash_value):
            return None
        algo = image.os_hash_algo or 'md5'
        try:
            found = fileio.hash_file(
                self.directory.path(image.id, cache_directory.INCOMPLETE),
                algo)
        except ValueError:
            algo = 'md5'
            found = fileio.hash_file(
                self.directory.path(image.id, cache_directory.INCOMPLETE),
                algo)
        if image.checksum and found.checksum != image.checksum:
            return 'checksum mismatch'
        if image.os_hash_value and algo == image.os_hash_algo and \
                found.os_hash_value != image.os_hash_value:
            return '%s mismatch' % algo
        return None

    # Prefetching -----------------------------------------------------

    def fetch(self, image, read_location, local_path_of):
        """Cache *image* now from the first of its locations that reads.

        *read_location(location)* gives its chunks, *local_path_of* its
        local file or None. True when the image is in the cache after.
        """
        if self.directory.complete_size(image.id) == image.size:
            self.directory.remove(image.id, cache_directory.QUEUE)
            return True
        fill = self._start_fill(image)
        if fill is None:
            return False
        try:
            for location in image.locations:
                try:
                    path = local_path_of(location)
                    if path:
                        fill.copy_file(path)
                    else:
                        for chunk in read_location(location):
                            fill.write(chunk)
                    break
                except (exception.GlanceImportError, OSError) as e:
                    LOG.warning('Cannot prefetch image %s from %s: %s',
                                image.id, location.get('url'), e)
                    fill.restart()
            else:
                fill.abort('no location could be read')
                return False
        except BaseException:
            fill.abort('the prefetch failed')
            raise
        return fill.complete()

    # State -----------------------------------------------------------

    def cached_entries(self):
        """This node's cached images (Glance's fields), the least
        recently accessed first."""
        present = set(self.directory.image_ids())
        return [cache_records.entry_view(row)
                for row in self.records.entries()
                if row.image_id in present]

    def queued_ids(self):
        return self.directory.queued()

    def filling(self):
        """Images being written now, with the bytes written so far."""
        found = []
        for image_id in self.directory.image_ids(
                cache_directory.INCOMPLETE):
            if not self.directory.is_being_written(image_id):
                continue
            try:
                stat = os.stat(self.directory.path(
                    image_id, cache_directory.INCOMPLETE))
            except FileNotFoundError:
                continue
            found.append({'image_id': image_id,
                          'bytes_written': stat.st_size,
                          'last_modified': stat.st_mtime})
        return found

    def is_cached(self, image_id):
        return self.directory.complete_size(image_id) is not None

    def is_queued(self, image_id):
        return image_id in self.directory.image_ids(cache_directory.QUEUE)

    def nodes_caching(self, image_id):
        return self.records.nodes_caching(image_id)

    # Changes ---------------------------------------------------------

    def queue(self, image_id):
        """Queue for prefetching; False if cached, being cached or
        queued already."""
        if self.is_cached(image_id) or \
                self.directory.is_being_written(image_id):
            return False
        return self.directory.queue(image_id)

    def delete_cached(self, image_id):
        removed = self.directory.remove(image_id)
        self.records.forget(image_id)
        return removed

    def delete_queued(self, image_id):
        return self.directory.remove(image_id, cache_directory.QUEUE)

    def delete_all_cached(self):
        count = 0
        for image_id in self.directory.image_ids():
            count += self.directory.remove(image_id)
        self.records.forget_all()
        return count

    def delete_all_queued(self):
        count = 0
        for image_id in self.directory.image_ids(cache_directory.QUEUE):
            count += self.delete_queued(image_id)
        return count

    # Upkeep ----------------------------------------------------------

    def reconcile(self):
        """Make the records match the files: a file without a record is
        recorded (its mtime as last access), a record without a file
        forgotten."""
        present = set(self.directory.image_ids())
        recorded = set()
        for row in self.records.entries():
            recorded.add(row.image_id)
            if row.image_id not in present:
                self.records.forget(row.image_id)
        for image_id in present - recorded:
            path = self.directory.path(image_id)
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue
            self.records.record_cached(
                image_id, stat.st_size,
                last_accessed=_utc(stat.st_mtime))

    def prune(self, max_size=None):
        """Remove least recently used images until the cache fits in
        *max_size* (image_cache_max_size); (files, bytes) removed."""
        if max_size is None:
            max_size = self.conf.image_cache_max_size
        self.reconcile()
        total = self.directory.total_size()
        files = freed = 0
        if total <= max_size:
            return files, freed
        for row in self.records.entries():
            if total <= max_size:
                break
            size = self.directory.complete_size(row.image_id) or 0
            self.delete_cached(row.image_id)
            LOG.info('Pruned image %s from the cache (%d bytes)',
                     row.image_id, size)
            total -= size
            files += 1
            freed += size
        return files, freed

    def clean(self, stall_time=None):
        """Remove invalid files, incomplete files nobody has written for
        *stall_time* seconds (image_cache_stall_time), and the cached
        data of images that are no longer active or no longer exist."""
        if stall_time is None:
            stall_time = self.conf.image_cache_stall_time
        removed = 0
        for image_id in self.directory.image_ids(cache_directory.INVALID):
            removed += self.directory.remove(image_id,
                                             cache_directory.INVALID)
        for image_id in self.directory.stalled(time.time() - stall_time):
            LOG.info('Removed the stalled cache file of image %s', image_id)
            removed += self.directory.remove(image_id,
                                             cache_directory.INCOMPLETE)
        present = self.directory.image_ids()
        if present:
            statuses = db_images.image_statuses(context.admin_context(),
                                                present)
            for image_id in present:
                if statuses.get(image_id) not in (images.ACTIVE,
                                                  images.DEACTIVATED):
                    LOG.info('Removed the cached data of image %s (%s)',
                             image_id, statuses.get(image_id, 'gone'))
                    removed += self.delete_cached(image_id)
        self.reconcile()
        return removed


def _utc(timestamp):
    return datetime.datetime.fromtimestamp(
        timestamp, datetime.UTC).replace(tzinfo=None)

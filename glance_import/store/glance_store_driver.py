"""Stores served by glance_store drivers (every type, and file stores the
native writer does not take), with glance_store's errors made ours.

glance_store has one call set for a single store and another for named
stores; which one a store uses is chosen once, when it is configured.
"""

import logging
from collections.abc import Iterable

import glance_store
from glance_store import exceptions as gs_exc
from glance_store import multi_backend

from glance_import import exception
from glance_import.store import base
from glance_import.store import swift_fix

LOG = logging.getLogger(__name__)


class SingleStoreCalls:
    """glance_store's calls for ``[glance_store] default_store``."""

    @staticmethod
    def add(conf, image_id, reader, size, store_id, algo, context):
        return glance_store.add_to_backend_with_multihash(
            conf, image_id, reader, size, algo, context=context)

    @staticmethod
    def get(url, store_id, offset, length, context):
        return glance_store.get_from_backend(
            url, offset=offset, chunk_size=length, context=context)

    @staticmethod
    def delete(url, store_id, context):
        glance_store.delete_from_backend(url, context=context)


class MultiStoreCalls:
    """glance_store's calls for the stores of ``enabled_backends``."""

    @staticmethod
    def add(conf, image_id, reader, size, store_id, algo, context):
        return multi_backend.add_with_multihash(
            conf, image_id, reader, size, store_id, algo, context=context)

    @staticmethod
    def get(url, store_id, offset, length, context):
        # glance_store's chunk_size is the length to read.
        return multi_backend.get(url, store_id, offset=offset,
                                 chunk_size=length, context=context)

    @staticmethod
    def delete(url, store_id, context):
        multi_backend.delete(url, store_id, context=context)


class GlanceStoreDriver:
    """A ``base.Store`` that hands everything to glance_store."""

    def __init__(self, store_id: str | None, calls):
        self.store_id = store_id
        self._calls = calls

    def add(self, conf, image_id, chunks, size, context) -> base.Stored:
        algo = conf.hashing_algorithm
        reader = ChunkReader(chunks)
        expected = size or 0
        announced = swift_fix.store_size(self.store_id, expected)
        try:
            url, size, checksum, hash_value, meta = self._calls.add(
                conf, image_id, reader, announced, self.store_id, algo,
                context)
        except Exception as e:
            if reader.error is not None:
                raise reader.error
            if isinstance(e, gs_exc.GlanceStoreException):
                raise store_error(e)
            # Drivers let their clients' errors through (botocore's
            # connection errors, librados timeouts): still a store failure.
            LOG.exception('Store %s failed writing image %s', self.store_id,
                          image_id)
            raise exception.StoreError(
                reason='%s: %s' % (type(e).__name__, e))
        if announced != expected:
            try:
                swift_fix.check_written(expected, size)
            except exception.StoreError:
                self.delete({'url': url,
                             'metadata': base.location_metadata(
                                 self.store_id)}, context)
                raise
        metadata = dict(meta or {})
        metadata.update(base.location_metadata(self.store_id))
        return base.Stored(url, metadata, size, checksum, algo, hash_value)

    def link_file(self, conf, image_id, path, staged):
        return None

    def read(self, location, offset, length, context):
        try:
            data, _size = self._calls.get(location['url'], self.store_id,
                                          offset, length, context)
        except gs_exc.GlanceStoreException as e:
            raise store_error(e)
        except Exception as e:
            raise _client_error('reading', location, e)
        return _truncate(data, length)

    def delete(self, location, context):
        try:
            self._calls.delete(location['url'], self.store_id, context)
        except gs_exc.NotFound:
            pass
        except gs_exc.StoreDeleteNotSupported:
            # Read-only stores (http) only point at data that lives on:
            # dropping the location is all there is to do, as in Glance.
            LOG.debug('Not deleting %s: its store cannot delete',
                      location['url'])
        except gs_exc.GlanceStoreException as e:
            raise store_error(e)
        except Exception as e:
            raise _client_error('deleting', location, e)

    def local_path(self, location):
        return None

    def location_for(self, image_id):
        return None


class ChunkReader:
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


def store_error(e):
    """Our error for a glance_store exception."""
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
    if isinstance(e, (gs_exc.StoreGetNotSupported,
                      gs_exc.StoreRandomGetNotSupported)):
        # A Range request to a store that reads whole objects only.
        return exception.BadRequest(str(e))
    if isinstance(e, gs_exc.InUseByStore):
        return exception.InUseByStore(reason=str(e))
    return exception.StoreError(reason=str(e))


def _client_error(doing, location, e):
    """A driver's client library error (not wrapped by glance_store)."""
    LOG.error('Store error %s %s: %s: %s', doing, location.get('url'),
              type(e).__name__, e)
    return exception.StoreError(reason='%s: %s' % (type(e).__name__, e))

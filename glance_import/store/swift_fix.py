"""Work around glance_store's Swift segmented-upload length bug.

For an image at or above ``swift_store_large_object_size`` the Swift
driver writes segments of ``swift_store_large_object_chunk_size`` and
sends that full length as the Content-Length of every segment, the
short last one included. Swift then waits for bytes that never come and
answers 499 after its client timeout, so the upload fails (and takes a
minute doing so) unless the size is an exact multiple of the chunk size.

The driver's other path is sound: given no size, it sends every segment
with chunked transfer encoding and reports the bytes it wrote. So for
exactly the sizes that trip the bug we hand the driver size 0 and check
the written length ourselves. Sizes below the threshold (one plain PUT)
and exact multiples are passed through unchanged.
"""

import logging

from glance_store import backend as single_backend
from glance_store import multi_backend
from oslo_config import cfg

from glance_import import exception

LOG = logging.getLogger(__name__)



def _swift_store(store_id):
    """The configured glance_store Swift driver for *store_id*, or None."""
    if store_id:
        try:
            store = multi_backend.get_store_from_store_identifier(store_id)
        except Exception:
            return None
    else:
        # Single store: writes go to [glance_store] default_store.
        try:
            store = single_backend.get_store_from_scheme(
                cfg.CONF.glance_store.default_store)
        except Exception:
            return None
    module = type(store).__module__
    if not module.startswith('glance_store._drivers.swift'):
        return None
    return store


def segments(store, size):
    """(segment size, whether the Swift driver would segment *size*)."""
    chunk = getattr(store, 'large_object_chunk_size', None)
    threshold = getattr(store, 'large_object_size', None)
    if not chunk or not threshold:
        return None, False
    return chunk, bool(size) and size >= threshold


def store_size(store_id, size):
    """The size to pass to the store's ``add`` for *size* bytes of data.

    Returns 0 (unknown size: chunked segments) when the store is Swift and
    the last segment would be short; otherwise *size* unchanged. When this
    returns 0 the caller must check the written length with
    ``check_written``.
    """
    if not size:
        return size
    store = _swift_store(store_id)
    if store is None:
        return size
    chunk, segmented = segments(store, size)
    if segmented and size % chunk:
        LOG.debug('Swift store %s: %d bytes in %d-byte segments with a short '
                  'last one; sending segments without a length', store_id,
                  size, chunk)
        return 0
    return size


def check_written(expected, written):
    """Raise when the store wrote a different length than announced."""
    if expected and written != expected:
        raise exception.StoreError(
            reason='the store wrote %d bytes, expected %d'
            % (written, expected))

"""The store layer's entry point: write, read and delete image data in the
configured stores, whatever their kind.

Each call finds its ``base.Store`` in the layout ``configure(conf)`` built
(``registry``); the native file store and the glance_store drivers do the
work. What is configured (``store_ids``, ``resolve_store``, ...) is
re-exported from ``registry``; the /v2/info/stores views are in
``discovery``.
"""

import logging
import os
from collections.abc import Iterable

from glance_import.store import base
from glance_import.store import fileio
from glance_import.store import registry
from glance_import.store.registry import STAGING_STORE
from glance_import.store.registry import TASKS_STORE
from glance_import.store.registry import configure
from glance_import.store.registry import default_store_id
from glance_import.store.registry import is_multi_store
from glance_import.store.registry import resolve_store
from glance_import.store.registry import staging_datadir
from glance_import.store.registry import store_ids
from glance_import.store.registry import store_type

__all__ = [
    'STAGING_STORE', 'TASKS_STORE', 'add', 'add_from_staged_file',
    'configure', 'default_store_id', 'delete', 'delete_all',
    'is_multi_store', 'local_path', 'native_location', 'read',
    'resolve_store', 'staging_datadir', 'store_ids', 'store_type',
]

LOG = logging.getLogger(__name__)


def _chunks(data):
    if hasattr(data, 'read'):
        return iter(lambda: data.read(fileio.CHUNK_SIZE), b'')
    return data


def _target(conf, store_id):
    """The store a write to *store_id* (None: the default) goes to."""
    return registry.layout(conf).store(resolve_store(conf, store_id))


def add(conf, image_id: str, data, *, size: int | None = None,
        store_id: str | None = None, context=None) -> base.Stored:
    """Write *data* (iterable of chunks or file object) as *image_id*.

    md5 and ``hashing_algorithm`` are computed in the same pass; the data
    is durable (fsynced) when this returns. Errors raised by *data* (size
    limits, client disconnects) propagate after the partial object is
    removed.
    """
    return _target(conf, store_id).add(conf, image_id, _chunks(data), size,
                                       context)


def add_from_staged_file(conf, image_id: str, path: str, staged=None,
                         store_id: str | None = None, *,
                         context=None) -> base.Stored:
    """Store the staged file at *path* as *image_id*, copying if needed.

    When the target is a native file store on the same filesystem as
    *path*, the file is hard-linked into the store (and fsynced) instead
    of copied, and *staged* (a ``staging.Staged`` from the same file) is
    reused instead of rehashing. Pass ``staged=None`` when the file is
    not the data that was staged (e.g. a plugin converted it): it is then
    hashed once. The staged file stays in place; the caller removes it.
    Size caps, quotas and format checks are the caller's business.
    """
    store = _target(conf, store_id)
    stored = store.link_file(conf, image_id, path, staged)
    if stored is not None:
        return stored
    return store.add(conf, image_id, fileio.read_chunks(path),
                     os.path.getsize(path), context)


def native_location(conf, image_id: str,
                    store_id: str | None = None) -> dict | None:
    """Where a native file store keeps (or would keep) *image_id*'s data.

    None when the store is not a native file store. Crash recovery uses
    it to find partial files that no location records.
    """
    return _target(conf, store_id).location_for(image_id)


def local_path(location: dict) -> str | None:
    """Path of a native file store location, else None."""
    return registry.current().store_of(location).local_path(location)


def read(location: dict, offset: int = 0, length: int | None = None, *,
         context=None):
    """Iterator over the data of *location* from *offset*.

    Raises NotFound (404) when the data is gone and StoreError (503) when
    the store cannot serve it.
    """
    store = registry.current().store_of(location)
    return store.read(location, offset, length, context)


def delete(location: dict, *, context=None) -> None:
    """Remove the data of *location*; already missing data is fine, and
    so is data a read-only store only points at.

    Raises InUseByStore (409) when the store keeps the data for someone
    else, StoreError (503) when it cannot be reached.
    """
    registry.current().store_of(location).delete(location, context)


def delete_all(locations: Iterable[dict], *, context=None) -> None:
    """Best-effort delete of several locations; failures are logged."""
    for location in locations:
        try:
            delete(location, context=context)
        except Exception:
            LOG.exception('Could not delete image data at %s',
                          location.get('url'))

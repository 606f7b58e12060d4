"""What every image data store offers: the ``Store`` protocol, and
``Stored``, the record of one write.

A location is a dict as in ``Image.locations``: ``{'url': ...,
'metadata': {'store': id}}`` (no store key in single-store mode).
"""

import dataclasses
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Protocol
from typing import runtime_checkable


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


def location_metadata(store_id: str | None) -> dict:
    """The metadata a location of *store_id* carries."""
    return {'store': store_id} if store_id else {}


@runtime_checkable
class Store(Protocol):
    """One configured store; ``store_id`` is None for the single store."""

    store_id: str | None

    def add(self, conf, image_id: str, chunks: Iterable[bytes],
            size: int | None, context) -> Stored:
        """Write *chunks* as *image_id*, hashing them in the same pass."""

    def link_file(self, conf, image_id: str, path: str,
                  staged) -> Stored | None:
        """Store the file at *path* without copying it, or None when this
        store cannot (the caller then copies)."""

    def read(self, location: dict, offset: int, length: int | None,
             context) -> Iterator[bytes]:
        """The data of *location* from *offset*."""

    def delete(self, location: dict, context) -> None:
        """Remove the data of *location*; missing data is fine."""

    def local_path(self, location: dict) -> str | None:
        """The local file holding *location*'s data, if this store has
        one."""

    def location_for(self, image_id: str) -> dict | None:
        """Where this store keeps (or would keep) *image_id*, when that
        follows from the id alone."""

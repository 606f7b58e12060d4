"""Durable local file I/O with hashing in the same pass.

Used by the staging area and the native file store. Data arrives as an
iterable of byte chunks; it is written with large ``os.write`` calls while
md5 and the configured multihash are computed on helper threads (hashlib
releases the GIL for large buffers, so writing and both digests overlap on
separate cores). Files are fsynced, and so is their directory, before the
caller is told the data is safe.
"""

import dataclasses
import errno
import hashlib
import os
import queue
import threading
from collections.abc import Iterable
from collections.abc import Iterator

from glance_import import exception

# Write and read unit: big enough that per-call overhead vanishes, small
# enough to keep memory per transfer low (a few chunks are in flight:
# being read, written and hashed).
CHUNK_SIZE = 1024 * 1024
# Below this, hashing inline is cheaper than handing the chunk to a thread.
_THREAD_MIN_CHUNK = 256 * 1024
_QUEUE_DEPTH = 3
# Streams hashed on threads of their own at once: past one per core the
# threads only compete for the cores, and each holds its queued chunks,
# so further streams hash in their own thread and memory stays bounded.
_PARALLEL_HASHING = threading.BoundedSemaphore(os.cpu_count() or 1)


@dataclasses.dataclass(frozen=True)
class Written:
    """What a write produced: byte count and hex digests."""

    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str


def check_hash_algo(name: str) -> None:
    """Refuse hashing algorithms hashlib cannot compute."""
    try:
        hashlib.new(name)
    except (ValueError, TypeError):
        raise exception.InvalidConfiguration(
            'hashing_algorithm %r is not a hashlib algorithm' % name)


class _HashThread(threading.Thread):
    """Feeds chunks from a bounded queue into one hash object."""

    def __init__(self, hasher):
        super().__init__(daemon=True)
        self.hasher = hasher
        self.chunks = queue.Queue(_QUEUE_DEPTH)

    def run(self):
        update = self.hasher.update
        while True:
            chunk = self.chunks.get()
            if chunk is None:
                return
            update(chunk)


class MultiHasher:
    """md5 plus *algo* over one stream, in parallel for large chunks.

    Call ``update`` for each chunk in order and ``finish`` once (also on
    errors, so the threads end). Chunks must not be mutated afterwards.
    """

    def __init__(self, algo: str):
        self.algo = algo
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.other = None if algo == 'md5' else hashlib.new(algo)
        self._hashers = [h for h in (self.md5, self.other) if h is not None]
        self._threads = None

    def update(self, chunk: bytes) -> None:
        if self._threads is None and len(chunk) >= _THREAD_MIN_CHUNK \
                and len(self._hashers) > 1 \
                and _PARALLEL_HASHING.acquire(blocking=False):
            self._threads = [_HashThread(h) for h in self._hashers]
            for thread in self._threads:
                thread.start()
        # A stream hashed inline may move to threads later (its inline
        # updates are done by then), never back: queued chunks come first.
        if self._threads is None:
            for hasher in self._hashers:
                hasher.update(chunk)
        else:
            for thread in self._threads:
                thread.chunks.put(chunk)

    def finish(self) -> tuple[str, str]:
        """Stop the threads; return (md5 hex, multihash hex)."""
        if self._threads is not None:
            for thread in self._threads:
                thread.chunks.put(None)
            for thread in self._threads:
                thread.join()
            self._threads = None
            _PARALLEL_HASHING.release()
        md5 = self.md5.hexdigest()
        return md5, (self.other.hexdigest() if self.other else md5)


def coalesce(chunks: Iterable[bytes], size: int = CHUNK_SIZE) \
        -> Iterator[bytes]:
    """Regroup a stream of small chunks into chunks of about *size*."""
    pending, length = [], 0
    for chunk in chunks:
        if not chunk:
            continue
        if not pending and len(chunk) >= size:
            yield chunk
            continue
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b''.join(pending)
            pending, length = [], 0
    if pending:
        yield b''.join(pending)


def fsync_dir(path: str) -> None:
    """Persist the directory entry of a newly created or linked file."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def os_error(err: OSError, what: str) -> exception.GlanceImportError:
    """Our error for a failed local write (full disk is a 413)."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return exception.RequestEntityTooLarge(
            'There is not enough disk space to store the image data.')
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return exception.ServiceUnavailable(
            'Permission to write image data denied (%s).' % what)
    return exception.StoreError(reason='%s: %s' % (what, err.strerror))


def write_new(path: str, chunks: Iterable[bytes], hash_algo: str, *,
              exists_error: exception.GlanceImportError,
              file_mode: int = 0) -> Written:
    """Create *path* exclusively, stream *chunks* into it, fsync it.

    On any failure (including errors raised by *chunks* itself, such as a
    size limit or a client disconnect) the partial file is removed and the
    error propagates. An existing file raises *exists_error* untouched.
    """
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise exists_error
    except OSError as e:
        raise os_error(e, path)
    hasher = MultiHasher(hash_algo)
    size = 0
    try:
        try:
            for chunk in coalesce(chunks):
                hasher.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
                size += len(chunk)
            if file_mode:
                os.fchmod(fd, file_mode)
            os.fsync(fd)
        finally:
            checksum, hash_value = hasher.finish()
            os.close(fd)
        fsync_dir(directory)
    except BaseException as e:
        unlink_quietly(path)
        if isinstance(e, OSError):
            raise os_error(e, path)
        raise
    return Written(size, checksum, hash_algo, hash_value)


def hash_file(path: str, hash_algo: str) -> Written:
    """Hash an existing file with the same parallel machinery."""
    hasher = MultiHasher(hash_algo)
    size = 0
    try:
        for chunk in read_chunks(path):
            hasher.update(chunk)
            size += len(chunk)
    finally:
        checksum, hash_value = hasher.finish()
    return Written(size, checksum, hash_algo, hash_value)


def read_chunks(path: str, offset: int = 0, length: int | None = None,
                chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the bytes of *path* from *offset*, *length* bytes at most.

    The file is opened before the first chunk is requested, so a missing
    file fails at call time rather than mid-response.
    """
    f = open(path, 'rb', buffering=0)  # noqa: SIM115 - closed by generator
    return read_open(f, offset, length, chunk_size)


def read_open(f, offset, length, chunk_size):
    with f:
        if offset:
            f.seek(offset)
        remaining = length
        while remaining is None or remaining > 0:
            want = chunk_size if remaining is None else min(chunk_size,
                                                            remaining)
            chunk = f.read(want)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def unlink_quietly(path):
    """Remove *path*; already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

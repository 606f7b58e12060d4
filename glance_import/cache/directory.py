"""The files of an image cache directory, laid out as Glance lays them.

``<dir>/<image_id>`` is a complete, verified image; ``incomplete/`` holds
images being written, each under an exclusive ``flock`` held by its
writer for as long as it writes (so a dead writer's file is recognised
at once); ``invalid/`` holds what Glance set aside; ``queue/`` holds an
empty file per image waiting to be prefetched, oldest first. Only names
shaped like image ids count, so the lock and database files that share
the directory are never taken for images.
"""

import contextlib
import errno
import fcntl
import os
import re

from glance_import.store import fileio

INCOMPLETE = 'incomplete'
INVALID = 'invalid'
QUEUE = 'queue'
_IMAGE_ID = re.compile(r'^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}'
                       r'[0-9a-fA-F]{12}$')


def is_image_id(name):
    return bool(_IMAGE_ID.match(name))


class CacheDirectory:

    def __init__(self, base):
        self.base = os.path.abspath(base)

    def ensure(self):
        for sub in ('', INCOMPLETE, INVALID, QUEUE):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)

    def path(self, image_id, sub=''):
        if not is_image_id(image_id):
            raise ValueError('not an image id: %r' % image_id)
        return os.path.join(self.base, sub, image_id)

    def image_ids(self, sub=''):
        """Image ids with a file in *sub* (the complete ones by default)."""
        try:
            names = os.listdir(os.path.join(self.base, sub))
        except FileNotFoundError:
            return []
        return [name for name in names if is_image_id(name)
                and os.path.isfile(os.path.join(self.base, sub, name))]

    def complete_size(self, image_id):
        """Size of the complete file of *image_id*, None if absent."""
        try:
            return os.stat(self.path(image_id)).st_size
        except FileNotFoundError:
            return None

    def total_size(self):
        total = 0
        for image_id in self.image_ids():
            total += self.complete_size(image_id) or 0
        return total

    def remove(self, image_id, sub=''):
        """Remove one file; True if there was one."""
        try:
            os.unlink(self.path(image_id, sub))
            return True
        except FileNotFoundError:
            return False

    # The queue -------------------------------------------------------

    def queue(self, image_id):
        """Touch the queue file; False if it was queued already."""
        try:
            fd = os.open(self.path(image_id, QUEUE),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def queued(self):
        """Queued image ids, oldest first."""
        items = []
        for image_id in self.image_ids(QUEUE):
            try:
                items.append((os.path.getmtime(self.path(image_id, QUEUE)),
                              image_id))
            except FileNotFoundError:
                continue
        return [image_id for _, image_id in sorted(items)]

    # Writing ---------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, image_id):
        """Yield the fd of ``incomplete/<image_id>``, locked and emptied,
        or None when another writer holds it."""
        path = self.path(image_id, INCOMPLETE)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as e:
            raise fileio.os_error(e, path)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                yield None
                return
            if not _same_file(fd, path):
                # Its writer removed it between our open and our lock.
                yield None
                return
            # A dead writer leaves its partial file; start it afresh.
            os.ftruncate(fd, 0)
            yield fd
        finally:
            os.close(fd)

    def is_being_written(self, image_id):
        path = self.path(image_id, INCOMPLETE)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except OSError:
            return True
        finally:
            os.close(fd)

    def promote(self, image_id):
        """Make the verified incomplete file the complete one, durably."""
        incomplete = self.path(image_id, INCOMPLETE)
        fd = os.open(incomplete, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(incomplete, self.path(image_id))
        fileio.fsync_dir(self.base)

    def stalled(self, older_than):
        """Incomplete image ids nobody writes, last touched before
        *older_than* (a time.time() value)."""
        found = []
        for image_id in self.image_ids(INCOMPLETE):
            path = self.path(image_id, INCOMPLETE)
            try:
                if os.path.getmtime(path) >= older_than:
                    continue
            except FileNotFoundError:
                continue
            if not self.is_being_written(image_id):
                found.append(image_id)
        return found


def _same_file(fd, path):
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False

"""The cache worker of an API node: caches queued images, then prunes and
cleans the cache, every ``cache_prefetcher_interval`` seconds and at once
when an image is queued.

Several processes of one node share its cache directory; a lock file
there lets one of them work at a time (the others skip that round).
"""

import contextlib
import errno
import fcntl
import logging
import os
import threading

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import.cache import image_cache
from glance_import.db import images as db_images
from glance_import.store import backends

LOG = logging.getLogger(__name__)

LOCK_FILE = '.cache-worker.lock'

# What prefetch did with a queued image.
CACHED = 'cached'
DROPPED = 'dropped'    # gone or not active: left the queue
FAILED = 'failed'      # its data could not be read: stays queued
BUSY = 'busy'          # another process is caching it

_thread = None
_wake = threading.Event()
_stopping = threading.Event()


@contextlib.contextmanager
def node_lock(cache, blocking):
    """Yield True while holding the node's worker lock, False if another
    process holds it (and *blocking* is false).

    The API processes' workers and glance-import-manage's cache commands
    take it, so one of them at a time prefetches, prunes and cleans.
    """
    path = os.path.join(cache.directory.base, LOCK_FILE)
    with open(path, 'a') as lock:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(lock, flags)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            yield False
            return
        yield True


def prefetch(cache, report=None):
    """Cache every queued image; (cached, failed) counts.

    An image that is gone or not active leaves the queue (and counts as
    failed, as in Glance); one whose data could not be read stays queued
    for the next round. One being cached by another process counts as
    neither. *report(image_id, outcome)*, if given, hears each image's
    outcome: CACHED, DROPPED, FAILED or BUSY.
    """
    ctx = context.admin_context()
    cached = failed = 0
    for image_id in cache.queued_ids():
        outcome = _prefetch_one(cache, ctx, image_id)
        if outcome == CACHED:
            cached += 1
        elif outcome != BUSY:
            failed += 1
        if report is not None:
            report(image_id, outcome)
    return cached, failed


def _prefetch_one(cache, ctx, image_id):
    try:
        image = db_images.image_get(ctx, image_id, check_visible=False)
    except exception.ImageNotFound:
        image = None
    if image is None or image.status != images.ACTIVE:
        LOG.warning('Image %s is not active or does not exist; '
                    'removed from the cache queue', image_id)
        cache.delete_queued(image_id)
        return DROPPED
    try:
        done = cache.fetch(
            image,
            lambda location: backends.read(location, context=ctx),
            backends.local_path)
    except Exception:
        LOG.exception('Prefetching image %s failed', image_id)
        done = False
    if done:
        return CACHED
    if cache.directory.is_being_written(image_id):
        return BUSY
    return FAILED


def run_once(cache, *, blocking=False):
    """One round: prefetch, prune, clean. False if another process of
    this node was doing it."""
    with node_lock(cache, blocking) as held:
        if not held:
            return False
        prefetch(cache)
        cache.prune()
        cache.clean()
        return True


def _loop(interval):
    while not _stopping.is_set():
        _wake.wait(interval)
        _wake.clear()
        if _stopping.is_set():
            return
        cache = image_cache.current()
        if cache is None:
            continue
        try:
            run_once(cache)
        except Exception:
            LOG.exception('The image cache worker failed; it runs again '
                          'in %d seconds', interval)


def start(conf):
    """Run the worker of this process on a daemon thread."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _stopping.clear()
    _thread = threading.Thread(target=_loop, name='image-cache-worker',
                               args=(conf.cache_prefetcher_interval,),
                               daemon=True)
    _thread.start()


def wake():
    """Start a round now (an image was queued)."""
    _wake.set()


def stop():
    global _thread
    thread, _thread = _thread, None
    if thread is None or not thread.is_alive():
        return
    _stopping.set()
    _wake.set()
    thread.join(timeout=30)

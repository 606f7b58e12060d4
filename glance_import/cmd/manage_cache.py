"""``glance-import-manage cache ...``: the image cache of this node.

The commands work on the cache directory and records directly, as the
node's API processes would (no API call, no token), so they run where
the API runs, on its configuration files. Glance's glance-cache-manage,
-prefetcher, -pruner and -cleaner in one command.
"""

import contextlib
import datetime
import logging
import sys
import uuid

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import.cache import directory as cache_directory
from glance_import.cache import image_cache
from glance_import.cache import worker
from glance_import.db import images as db_images
from glance_import.db import migration
from glance_import.store import backends

PROG = 'glance-import-manage'


def open_cache(conf):
    """This node's cache, as the API opens it (without serving)."""
    if not conf.image_cache_dir:
        raise exception.InvalidConfiguration(
            'The image cache is off: image_cache_dir is not set in the '
            'configuration of this node')
    current = _quietly(migration.current_version)
    if current != migration.head_version() and \
            not migration.is_newer_than_this_release(current):
        raise exception.InvalidConfiguration(
            'The database schema is not current; run "%s db sync"' % PROG)
    backends.configure(conf)
    return image_cache.configure(conf)


def _quietly(function):
    """*function()* without alembic's INFO lines (they would bury the
    command's output on stderr)."""
    alembic_log = logging.getLogger('alembic.runtime.migration')
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        return function()
    finally:
        alembic_log.setLevel(level)


def _image_id(value):
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError):
        raise exception.BadRequest(
            'Image ID %r is not a valid UUID.' % value)


@contextlib.contextmanager
def _worker_lock(cache):
    """Hold the node's worker lock, waiting for a running round."""
    with worker.node_lock(cache, blocking=False) as held:
        if held:
            yield
            return
    print('Waiting for the cache worker of this node to finish its '
          'round...', file=sys.stderr)
    with worker.node_lock(cache, blocking=True):
        yield


# Listing -----------------------------------------------------------

def _utc(timestamp):
    if not timestamp:
        return 'N/A'
    return datetime.datetime.fromtimestamp(
        timestamp, datetime.UTC).strftime('%Y-%m-%d %H:%M:%S')


def _table(header, rows, right=()):
    """Text table: columns as wide as their widest cell; the columns
    numbered in *right* aligned right."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows])
              for i in range(len(header))]

    def line(cells):
        pairs = enumerate(zip(cells, widths, strict=True))
        return '  '.join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in pairs).rstrip()
    return [line(header), line(['-' * width for width in widths]),
            *(line(row) for row in rows)]


def _unrecorded(cache, entries):
    """Complete files the records do not list yet (the worker's next
    round records them)."""
    recorded = {entry['image_id'] for entry in entries}
    found = []
    for image_id in sorted(set(cache.directory.image_ids()) - recorded):
        size = cache.directory.complete_size(image_id)
        if size is not None:
            found.append((image_id, size))
    return found


def cache_list(conf):
    cache = open_cache(conf)
    entries = cache.cached_entries()
    unrecorded = _unrecorded(cache, entries)
    rows = [(entry['image_id'], entry['size'], entry['hits'],
             _utc(entry['last_accessed']), _utc(entry['last_modified']))
            for entry in entries]
    rows.extend((image_id, size, '-', '-', '-')
                for image_id, size in unrecorded)
    if rows:
        print('Cached images: %d, %d bytes (least recently used first)'
              % (len(rows), sum(row[1] for row in rows)))
        for line in _table(('ID', 'Size', 'Hits', 'Last accessed (UTC)',
                            'Last modified (UTC)'), rows, right=(1, 2)):
            print(line)
    else:
        print('No cached images.')
    filling = cache.filling()
    if filling:
        print()
        print('Being cached: %d' % len(filling))
        for line in _table(
                ('ID', 'Bytes written', 'Last written (UTC)'),
                [(item['image_id'], item['bytes_written'],
                  _utc(item['last_modified'])) for item in filling],
                right=(1,)):
            print(line)
    print()
    queued = cache.queued_ids()
    if queued:
        print('Queued images: %d (oldest first)' % len(queued))
        for line in _table(('ID',), [(image_id,) for image_id in queued]):
            print(line)
    else:
        print('No queued images.')


# Changes -----------------------------------------------------------

def cache_queue(conf):
    image_id = _image_id(conf.category.image_id)
    cache = open_cache(conf)
    try:
        image = db_images.image_get(context.admin_context(), image_id,
                                    check_visible=False)
    except exception.ImageNotFound:
        raise exception.NotFound('Image %s not found.' % image_id)
    if image.status != images.ACTIVE:
        raise exception.BadRequest(
            'Only images with status active can be queued for caching; '
            'image %s is %s.' % (image_id, image.status))
    if cache.queue(image_id):
        print('Queued image %s for caching. The cache worker of the API '
              'caches it within cache_prefetcher_interval (%d s); '
              '"%s cache prefetch" caches it now.'
              % (image_id, conf.cache_prefetcher_interval, PROG))
    elif cache.is_queued(image_id):
        print('Image %s is queued already.' % image_id)
    else:
        print('Image %s is cached or being cached already.' % image_id)


def cache_delete(conf):
    args = conf.category
    chosen = [bool(args.image_id), args.all, args.queued]
    if sum(chosen) != 1:
        raise exception.BadRequest(
            'Give one of IMAGE_ID, --all or --queued.')
    cache = open_cache(conf)
    if args.image_id:
        image_id = _image_id(args.image_id)
        cached = cache.delete_cached(image_id)
        queued = cache.delete_queued(image_id)
        if not (cached or queued):
            raise exception.NotFound(
                'Image %s is neither cached nor queued on this node.'
                % image_id)
        done = [what for what, removed in (('cached data', cached),
                                           ('queue entry', queued))
                if removed]
        print('Deleted the %s of image %s.' % (' and '.join(done), image_id))
        return
    cached = 0 if args.queued else cache.delete_all_cached()
    queued = cache.delete_all_queued()
    print('Deleted %d cached image(s) and %d queued image(s).'
          % (cached, queued))


# Upkeep ------------------------------------------------------------

def cache_prune(conf):
    cache = open_cache(conf)
    with _worker_lock(cache):
        files, freed = cache.prune()
    print('Pruned %d file(s), %d bytes; the cache holds %d bytes '
          '(image_cache_max_size %d).'
          % (files, freed, cache.directory.total_size(),
             conf.image_cache_max_size))


_CLEANED = (
    (cache_directory.INVALID, 'Removed the invalid file of image %s'),
    (cache_directory.INCOMPLETE,
     'Removed the stalled incomplete file of image %s'),
    ('', 'Removed the cached data of image %s: it is not active or does '
         'not exist'),
)


def cache_clean(conf):
    cache = open_cache(conf)
    with _worker_lock(cache):
        before = {sub: set(cache.directory.image_ids(sub))
                  for sub, _ in _CLEANED}
        removed = cache.clean()
        after = {sub: set(cache.directory.image_ids(sub))
                 for sub, _ in _CLEANED}
    for sub, message in _CLEANED:
        gone = before[sub] - after[sub]
        if sub == cache_directory.INCOMPLETE:
            gone -= after['']   # finished meanwhile, not removed
        for image_id in sorted(gone):
            print(message % image_id)
    print('Removed %d file(s).' % removed)


def cache_prefetch(conf):
    """Exit 1 when a queued image could not be cached."""
    cache = open_cache(conf)
    messages = {
        worker.CACHED: 'Cached image %s',
        worker.DROPPED: 'Removed image %s from the queue: it is not active '
                        'or does not exist',
        worker.FAILED: 'Could not cache image %s (see the log); it stays '
                       'queued',
        worker.BUSY: 'Image %s is being cached by another process',
    }

    def report(image_id, outcome):
        print(messages[outcome] % image_id)

    with _worker_lock(cache):
        cached, failed = worker.prefetch(cache, report)
    print('Cached %d image(s), %d failed.' % (cached, failed))
    return 1 if failed else 0


# Arguments ---------------------------------------------------------

def add_commands(subparsers):
    parser = subparsers.add_parser(
        'cache', help='The image cache of this node (image_cache_dir).')
    actions = parser.add_subparsers(dest='action')
    actions.add_parser(
        'list', help='List the cached images (size, hits, last access), '
                     'those being cached and the queued ones.')
    queue = actions.add_parser(
        'queue', help='Queue an active image for caching.')
    queue.add_argument('image_id', metavar='IMAGE_ID',
                       help='The image to cache.')
    delete = actions.add_parser(
        'delete', help='Delete an image\'s cached data and queue entry, '
                       'or all of them.')
    delete.add_argument('image_id', nargs='?', metavar='IMAGE_ID',
                        help='The image whose cached data and queue entry '
                             'to delete.')
    delete.add_argument(
        '--all', action='store_true',
        help='Every cached image and every queue entry.')
    delete.add_argument(
        '--queued', action='store_true',
        help='Every queue entry; cached images stay.')
    actions.add_parser(
        'prune', help='Delete least recently used images until the cache '
                      'fits in image_cache_max_size.')
    actions.add_parser(
        'clean', help='Delete invalid files, stalled incomplete files and '
                      'the cached data of images no longer active.')
    actions.add_parser(
        'prefetch', help='Cache every queued image now; exit 1 if one '
                         'could not be cached.')


COMMANDS = {
    ('cache', 'list'): cache_list,
    ('cache', 'queue'): cache_queue,
    ('cache', 'delete'): cache_delete,
    ('cache', 'prune'): cache_prune,
    ('cache', 'clean'): cache_clean,
    ('cache', 'prefetch'): cache_prefetch,
}

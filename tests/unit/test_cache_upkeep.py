"""The image cache's upkeep, without HTTP: prune, clean, reconcile, a
restart, and the worker's prefetch and node lock.

A real cache directory and real cache records on the test database
(SQLite unless GLANCE_IMPORT_TEST_DB says otherwise), real images with
data in a file store.
"""

import datetime
import os
import subprocess
import sys
import time
import uuid

import pytest

from glance_import import context
from glance_import import images
from glance_import.cache import directory as cache_directory
from glance_import.cache import image_cache
from glance_import.cache import worker
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.store import backends
from tests import fixtures

NODE = 'http://node-a:9292'
MAX_SIZE = 2000
STALL_TIME = 3600


def _configure(conf):
    db_engine.configure(conf)
    backends.configure(conf)
    return image_cache.configure(conf)


@pytest.fixture(params=['centralized_db'])
def driver(request):
    return request.param


@pytest.fixture
def env(tmp_path, test_db_url, driver):
    """Configuration, database, a file store and the cache of one node."""
    from glance_import import startup
    from glance_import.db import migration
    if test_db_url:
        fixtures.empty_database_if_migrated(test_db_url)
    path = fixtures.write_config(str(tmp_path), test_db_url, {
        'image_cache_dir': str(tmp_path / 'cache'),
        'image_cache_driver': driver,
        'image_cache_max_size': MAX_SIZE,
        'image_cache_stall_time': STALL_TIME,
        'worker_self_reference_url': NODE,
    })
    conf = startup.load_config(['--config-file', path], 'glance-api')
    db_engine.configure(conf)
    if migration.current_version() != migration.head_version():
        migration.upgrade()
    _configure(conf)
    yield conf
    image_cache.reset()
    db_engine.dispose()


@pytest.fixture
def cache(env):
    return image_cache.current()


@pytest.fixture
def ctx():
    return context.admin_context()


def active_image(conf, data=b'x' * 1000):
    """An active image whose data is in the file store."""
    ctx = context.admin_context()
    image = db_images.image_create(ctx, {
        'name': 'cached', 'owner': 'p1', 'visibility': 'private',
        'disk_format': 'raw', 'container_format': 'bare', 'min_disk': 0,
        'min_ram': 0, 'protected': False, 'os_hidden': False})
    stored = backends.add(conf, image.id, [data], size=len(data))
    db_images.image_add_location(
        ctx, image.id, stored.url, stored.metadata,
        values={'status': images.ACTIVE, 'size': stored.size,
                'checksum': stored.checksum,
                'os_hash_algo': stored.os_hash_algo,
                'os_hash_value': stored.os_hash_value},
        from_status=images.QUEUED)
    return db_images.image_get(ctx, image.id, check_visible=False)


def fetch(cache, image):
    """Cache *image* now (as a prefetch does)."""
    assert cache.fetch(image, backends.read, backends.local_path)
    assert cache.is_cached(image.id)


def accessed(cache, image_id, seconds_ago):
    """Set the last access of a cached image."""
    when = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) \
        - datetime.timedelta(seconds=seconds_ago)
    cache.records.record_cached(
        image_id, cache.directory.complete_size(image_id),
        last_accessed=when)


def cached_ids(cache):
    return [entry['image_id'] for entry in cache.cached_entries()]


def write_file(path, data=b'partial', age=0):
    with open(path, 'wb') as f:
        f.write(data)
    if age:
        past = time.time() - age
        os.utime(path, (past, past))


def new_id():
    return str(uuid.uuid4())


# Prune ---------------------------------------------------------------

def test_prune_removes_least_recently_used_first(env, cache):
    old, newest, middle = (active_image(env) for _ in range(3))
    for image in (old, newest, middle):
        fetch(cache, image)
    accessed(cache, old.id, 300)
    accessed(cache, middle.id, 200)
    accessed(cache, newest.id, 100)
    assert cached_ids(cache) == [old.id, middle.id, newest.id]

    # 3000 bytes, image_cache_max_size 2000: the oldest alone goes.
    assert cache.prune() == (1, 1000)
    assert cached_ids(cache) == [middle.id, newest.id]
    assert sorted(cache.directory.image_ids()) == sorted(
        [middle.id, newest.id])
    assert not os.path.exists(cache.directory.path(old.id))
    assert cache.directory.total_size() == 2000

    # Within the limit: nothing to do.
    assert cache.prune() == (0, 0)

    # A smaller limit: the next least recently used, then it stops.
    assert cache.prune(max_size=1500) == (1, 1000)
    assert cached_ids(cache) == [newest.id]

    # A hit makes an image the most recently used.
    fetch(cache, old)
    accessed(cache, old.id, 50)
    cache.record_hit(newest.id)
    assert cached_ids(cache) == [old.id, newest.id]
    assert cache.prune(max_size=1000) == (1, 1000)
    assert cached_ids(cache) == [newest.id]


def test_prune_to_zero_removes_everything(env, cache):
    for _ in range(3):
        fetch(cache, active_image(env))
    assert cache.prune(max_size=0) == (3, 3000)
    assert cache.cached_entries() == []
    assert cache.directory.image_ids() == []
    assert cache.records.entries() == []


# Clean ---------------------------------------------------------------

def test_clean_removes_invalid_and_stalled_files(env, cache):
    directory = cache.directory
    invalid = new_id()
    write_file(directory.path(invalid, cache_directory.INVALID))
    stalled = new_id()
    write_file(directory.path(stalled, cache_directory.INCOMPLETE),
               age=STALL_TIME + 60)
    recent = new_id()
    write_file(directory.path(recent, cache_directory.INCOMPLETE),
               age=STALL_TIME - 60)
    written = new_id()
    incomplete = directory.path(written, cache_directory.INCOMPLETE)
    with directory.writing(written) as fd:
        assert fd is not None
        os.write(fd, b'still coming')
        past = time.time() - STALL_TIME - 60
        os.utime(incomplete, (past, past))

        assert cache.clean() == 2
        assert directory.image_ids(cache_directory.INVALID) == []
        assert sorted(directory.image_ids(cache_directory.INCOMPLETE)) == \
            sorted([recent, written])
        # Its writer still holds its lock: kept, and still locked.
        assert directory.is_being_written(written)

    # Its writer is gone: now it is a stalled file like any other.
    assert cache.clean() == 1
    assert directory.image_ids(cache_directory.INCOMPLETE) == [recent]
    # A shorter stall time catches the recent one too.
    assert cache.clean(stall_time=0) == 1
    assert directory.image_ids(cache_directory.INCOMPLETE) == []


def test_clean_removes_data_of_images_no_longer_active(env, cache, ctx):
    kept, deactivated, deleted, killed = (
        active_image(env) for _ in range(4))
    for image in (kept, deactivated, deleted, killed):
        fetch(cache, image)
    unknown = new_id()
    write_file(cache.directory.path(unknown), b'y' * 10)
    cache.reconcile()
    assert len(cache.cached_entries()) == 5

    db_images.image_update(ctx, deactivated.id,
                           {'status': images.DEACTIVATED})
    db_images.image_delete(ctx, deleted.id)
    db_images.image_update(ctx, killed.id, {'status': images.KILLED})

    assert cache.clean() == 3
    assert sorted(cache.directory.image_ids()) == sorted(
        [kept.id, deactivated.id])
    assert sorted(cached_ids(cache)) == sorted([kept.id, deactivated.id])
    assert {row.image_id for row in cache.records.entries()} == {
        kept.id, deactivated.id}
    # Nothing left to clean.
    assert cache.clean() == 0


# Reconcile and restart -------------------------------------------------

def test_reconcile_matches_records_to_files(env, cache):
    image = active_image(env)
    fetch(cache, image)
    unrecorded = new_id()
    write_file(cache.directory.path(unrecorded), b'z' * 123, age=600)
    fileless = new_id()
    cache.records.record_cached(fileless, 55)
    assert fileless in {row.image_id for row in cache.records.entries()}
    # Listing shows files only, and only recorded ones.
    assert cached_ids(cache) == [image.id]

    cache.reconcile()

    rows = {row.image_id: row for row in cache.records.entries()}
    assert set(rows) == {image.id, unrecorded}
    assert rows[unrecorded].size == 123
    assert rows[unrecorded].hits == 0
    # Its file's mtime stands for its last access: it is pruned first.
    assert cached_ids(cache) == [unrecorded, image.id]


@pytest.mark.parametrize('driver', ['centralized_db', 'sqlite'],
                         indirect=True)
def test_cache_survives_a_restart(env, cache, driver):
    first, second, queued = (active_image(env) for _ in range(3))
    fetch(cache, first)
    fetch(cache, second)
    cache.record_hit(second.id)
    cache.record_hit(second.id)
    accessed(cache, second.id, 300)
    assert cache.queue(queued.id)
    before = cache.cached_entries()
    assert [entry['image_id'] for entry in before] == [second.id, first.id]

    # A restart: every connection and the cache object are new.
    image_cache.reset()
    db_engine.dispose()
    restarted = _configure(env)

    assert restarted is not cache
    assert restarted.cached_entries() == before
    assert restarted.records.hits(second.id) == 2
    assert restarted.queued_ids() == [queued.id]
    assert restarted.nodes_caching(first.id) == [NODE]
    assert restarted.cached_path(first) == cache.directory.path(first.id)
    # The sqlite driver keeps its records inside the cache directory.
    db_file = os.path.join(env.image_cache_dir, env.image_cache_sqlite_db)
    assert os.path.exists(db_file) == (driver == 'sqlite')


# The worker --------------------------------------------------------------

def test_prefetch_caches_queued_active_image(env, cache):
    data = os.urandom(1500)
    image = active_image(env, data)
    assert cache.queue(image.id)
    assert not cache.queue(image.id)
    heard = []

    assert worker.prefetch(cache, lambda *args: heard.append(args)) == \
        (1, 0)

    assert heard == [(image.id, worker.CACHED)]
    assert cache.queued_ids() == []
    with open(cache.cached_path(image), 'rb') as f:
        assert f.read() == data
    entry, = cache.cached_entries()
    assert (entry['image_id'], entry['size'], entry['hits'],
            entry['checksum']) == (image.id, 1500, 0, image.checksum)
    # Cached now: queueing it again is refused.
    assert not cache.queue(image.id)
    assert worker.prefetch(cache) == (0, 0)


def test_prefetch_drops_deleted_and_keeps_unreadable(env, cache, ctx):
    deleted = active_image(env)
    unreadable = active_image(env)
    readable = active_image(env)
    for image in (deleted, unreadable, readable):
        assert cache.queue(image.id)
        # The queue is ordered by mtime: keep them apart.
        past = time.time() - 100 + len(cache.queued_ids())
        os.utime(cache.directory.path(image.id, cache_directory.QUEUE),
                 (past, past))
    db_images.image_delete(ctx, deleted.id)
    os.unlink(backends.local_path(unreadable.locations[0]))
    heard = []

    assert worker.prefetch(cache, lambda *args: heard.append(args)) == \
        (1, 2)

    assert heard == [(deleted.id, worker.DROPPED),
                     (unreadable.id, worker.FAILED),
                     (readable.id, worker.CACHED)]
    assert cache.queued_ids() == [unreadable.id]
    assert cache.directory.image_ids() == [readable.id]
    # The failed attempt left no partial file behind.
    assert cache.directory.image_ids(cache_directory.INCOMPLETE) == []
    # Still unreadable next round: still queued.
    assert worker.prefetch(cache) == (0, 1)
    assert cache.queued_ids() == [unreadable.id]


HOLD_LOCK = '''
import fcntl, sys
with open(sys.argv[1], 'a') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    print('locked', flush=True)
    sys.stdin.read()
'''


def test_run_once_skips_while_another_process_holds_the_lock(env, cache):
    image = active_image(env)
    assert cache.queue(image.id)
    lock_path = os.path.join(cache.directory.base, worker.LOCK_FILE)
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD_LOCK, lock_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == 'locked\n'
        assert worker.run_once(cache) is False
        assert cache.queued_ids() == [image.id]
        assert not cache.is_cached(image.id)
    finally:
        holder.stdin.close()
        holder.wait(10)

    assert worker.run_once(cache) is True
    assert cache.queued_ids() == []
    assert cache.is_cached(image.id)


def test_run_once_prunes_and_cleans(env, cache, ctx):
    images_ = [active_image(env) for _ in range(3)]
    for seconds_ago, image in zip((300, 200, 100), images_, strict=True):
        fetch(cache, image)
        accessed(cache, image.id, seconds_ago)
    db_images.image_delete(ctx, images_[2].id)
    invalid = new_id()
    write_file(cache.directory.path(invalid, cache_directory.INVALID))

    assert worker.run_once(cache) is True

    # Pruned to 2000 bytes first (the oldest), then the deleted image's
    # data cleaned: one image left.
    assert cached_ids(cache) == [images_[1].id]
    assert cache.directory.image_ids(cache_directory.INVALID) == []

"""glance-import-manage cache ... against the cache of a running caching
service (in-process), on the database named by GLANCE_IMPORT_TEST_DB:
the command and the service share the configuration file, the database
and the cache directory, as on an API node."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from glance_import import context
from glance_import.db import images as db_images
from tests import fixtures
from tests.functional import imageutil

BIN = os.path.dirname(sys.executable)
PROG = 'glance-import-manage'
NODE = 'http://node-a:9292'
STALL_TIME = 3600


def manage(config_file, *args):
    return subprocess.run(
        [os.path.join(BIN, PROG), '--config-file', config_file, 'cache',
         *args], capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def error(result):
    assert result.returncode == 1, result.stdout
    return result.stderr.splitlines()[-1]


def _rows(lines, title):
    """The rows (split on blanks) of the table under the line starting
    with *title*."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 3:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def listing(config_file):
    """({image id: (size, hits)}, [queued ids]) as ``cache list`` shows
    them."""
    lines = ok(manage(config_file, 'list'))
    cached = {}
    if 'No cached images.' not in lines:
        cached = {row[0]: (int(row[1]), row[2])
                  for row in _rows(lines, 'Cached images:')}
    queued = []
    if 'No queued images.' not in lines:
        queued = [row[0] for row in _rows(lines, 'Queued images:')]
    return cached, queued


def cached(config_file):
    return listing(config_file)[0]


@pytest.fixture(params=['centralized_db', 'sqlite'])
def node(request, service_factory, tmp_path):
    """A caching service; its config file, cache directory and client."""
    cache_dir = tmp_path / 'cache'
    svc = service_factory({
        'image_cache_dir': str(cache_dir),
        'image_cache_driver': request.param,
        'image_cache_max_size': 2500,
        'image_cache_stall_time': STALL_TIME,
        'paste_deploy.flavor': 'caching',
        'worker_self_reference_url': NODE,
        # The service's own worker stays out of the way.
        'cache_prefetcher_interval': 3600,
    })
    svc.cache_dir = cache_dir
    svc.client = fixtures.Client(svc.url)
    return svc


def _download(node, image_id):
    resp = node.client.get('/v2/images/%s/file' % image_id)
    assert resp.status_code == 200, resp.text
    return resp.content


def _wait_cached(node, image_id):
    fixtures.wait_until(lambda: (node.cache_dir / image_id).exists(),
                        message='image %s in the cache' % image_id)


@pytest.mark.parametrize('args', [
    ['list'], ['queue', str(uuid.uuid4())], ['delete', '--all'],
    ['prune'], ['clean'], ['prefetch']])
def test_commands_need_image_cache_dir(tmp_path, test_db_url, args):
    config_file = fixtures.write_config(str(tmp_path), test_db_url)
    result = manage(config_file, *args)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.splitlines()[-1] == (
        'glance-import-manage: error: The image cache is off: '
        'image_cache_dir is not set in the configuration of this node')


def test_queue_prefetch_list_delete(node):
    config = node.config_file
    first_data, second_data = os.urandom(1000), os.urandom(1200)
    first = imageutil.active_image(node.client, first_data)['id']
    second = imageutil.active_image(node.client, second_data)['id']
    assert ok(manage(config, 'list')) == [
        'No cached images.', '', 'No queued images.']

    lines = ok(manage(config, 'queue', first))
    assert lines[0].startswith('Queued image %s for caching.' % first)
    assert ok(manage(config, 'queue', first)) == [
        'Image %s is queued already.' % first]
    assert listing(config) == ({}, [first])

    assert ok(manage(config, 'prefetch')) == [
        'Cached image %s' % first, 'Cached 1 image(s), 0 failed.']
    assert listing(config) == ({first: (1000, '0')}, [])
    assert (node.cache_dir / first).read_bytes() == first_data
    assert ok(manage(config, 'queue', first)) == [
        'Image %s is cached or being cached already.' % first]

    # The service serves what the command cached, and counts the hits
    # where the command reads them; its downloads fill the cache too.
    assert _download(node, first) == first_data
    assert _download(node, first) == first_data
    assert _download(node, second) == second_data
    _wait_cached(node, second)
    fixtures.wait_until(lambda: second in cached(config),
                        message='the record of %s' % second)
    assert cached(config) == {first: (1000, '2'), second: (1200, '0')}
    lines = ok(manage(config, 'list'))
    assert lines[0] == ('Cached images: 2, 2200 bytes (least recently '
                        'used first)')
    assert lines[1].split() == ['ID', 'Size', 'Hits', 'Last', 'accessed',
                                '(UTC)', 'Last', 'modified', '(UTC)']

    assert ok(manage(config, 'delete', first)) == [
        'Deleted the cached data of image %s.' % first]
    assert not (node.cache_dir / first).exists()
    assert list(cached(config)) == [second]
    assert error(manage(config, 'delete', first)) == (
        'glance-import-manage: error: Image %s is neither cached nor '
        'queued on this node.' % first)
    # Served from the store again, and cached again.
    assert _download(node, first) == first_data
    _wait_cached(node, first)

    ok(manage(config, 'queue', imageutil.active_image(node.client)['id']))
    assert ok(manage(config, 'delete', '--queued')) == [
        'Deleted 0 cached image(s) and 1 queued image(s).']
    assert sorted(cached(config)) == sorted([first, second])
    third = imageutil.active_image(node.client)['id']
    ok(manage(config, 'queue', third))
    assert ok(manage(config, 'delete', third)) == [
        'Deleted the queue entry of image %s.' % third]
    ok(manage(config, 'queue', third))
    assert ok(manage(config, 'delete', '--all')) == [
        'Deleted 2 cached image(s) and 1 queued image(s).']
    assert ok(manage(config, 'list')) == [
        'No cached images.', '', 'No queued images.']
    assert [path.name for path in node.cache_dir.iterdir()
            if path.is_file() and len(path.name) == 36] == []


def test_queue_refuses_unknown_and_inactive_images(node):
    config = node.config_file
    unknown = str(uuid.uuid4())
    assert error(manage(config, 'queue', unknown)) == (
        'glance-import-manage: error: Image %s not found.' % unknown)
    empty = imageutil.create(node.client, disk_format='raw',
                             container_format='bare')['id']
    assert error(manage(config, 'queue', empty)) == (
        'glance-import-manage: error: Only images with status active can '
        'be queued for caching; image %s is queued.' % empty)
    deleted = imageutil.active_image(node.client)['id']
    assert node.client.delete('/v2/images/%s' % deleted).status_code == 204
    assert error(manage(config, 'queue', deleted)) == (
        'glance-import-manage: error: Image %s not found.' % deleted)
    assert error(manage(config, 'queue', 'not-an-id')) == (
        "glance-import-manage: error: Image ID 'not-an-id' is not a valid "
        "UUID.")
    assert error(manage(config, 'delete')) == (
        'glance-import-manage: error: Give one of IMAGE_ID, --all or '
        '--queued.')
    assert listing(config) == ({}, [])


def _delete_elsewhere(image_id):
    """Delete an image as another API node would: this node's cache is
    not told (its cleaner and prefetcher find out)."""
    db_images.image_delete(context.admin_context(), image_id)


def test_prefetch_reports_failures(node):
    config = node.config_file
    gone = imageutil.active_image(node.client)['id']
    deactivated = imageutil.active_image(node.client)['id']
    unreadable = imageutil.active_image(node.client)['id']
    for image_id in (gone, deactivated, unreadable):
        ok(manage(config, 'queue', image_id))
        # The queue is oldest first; mtimes a second apart keep it so.
        time.sleep(1.1)
    _delete_elsewhere(gone)
    assert node.client.post('/v2/images/%s/actions/deactivate'
                            % deactivated).status_code == 204
    os.unlink(os.path.join(node.directory, 'images', unreadable))

    result = manage(config, 'prefetch')
    assert result.returncode == 1
    dropped = 'from the queue: it is not active or does not exist'
    assert result.stdout.splitlines() == [
        'Removed image %s %s' % (gone, dropped),
        'Removed image %s %s' % (deactivated, dropped),
        'Could not cache image %s (see the log); it stays queued'
        % unreadable,
        'Cached 0 image(s), 3 failed.']
    assert listing(config) == ({}, [unreadable])
    assert not list((node.cache_dir / 'incomplete').iterdir())


def test_prune_and_clean(node):
    config = node.config_file
    ids = [imageutil.active_image(node.client, os.urandom(1000))['id']
           for _ in range(3)]
    for image_id in ids:
        ok(manage(config, 'queue', image_id))
    ok(manage(config, 'prefetch'))
    # The first becomes the most recently used: listed last (a second
    # later: MySQL keeps whole seconds).
    time.sleep(1.1)
    _download(node, ids[0])
    lru = list(cached(config))
    assert sorted(lru) == sorted(ids)
    assert lru[-1] == ids[0]

    # 3000 bytes, image_cache_max_size 2500: the least recently used goes.
    assert ok(manage(config, 'prune')) == [
        'Pruned 1 file(s), 1000 bytes; the cache holds 2000 bytes '
        '(image_cache_max_size 2500).']
    assert list(cached(config)) == lru[1:]
    assert ok(manage(config, 'prune')) == [
        'Pruned 0 file(s), 0 bytes; the cache holds 2000 bytes '
        '(image_cache_max_size 2500).']

    invalid, stalled, recent = (str(uuid.uuid4()) for _ in range(3))
    (node.cache_dir / 'invalid' / invalid).write_bytes(b'bad')
    for image_id in (stalled, recent):
        (node.cache_dir / 'incomplete' / image_id).write_bytes(b'part')
    past = time.time() - STALL_TIME - 60
    os.utime(node.cache_dir / 'incomplete' / stalled, (past, past))
    _delete_elsewhere(lru[1])

    lines = ok(manage(config, 'clean'))
    assert lines == [
        'Removed the invalid file of image %s' % invalid,
        'Removed the stalled incomplete file of image %s' % stalled,
        'Removed the cached data of image %s: it is not active or does not '
        'exist' % lru[1],
        'Removed 3 file(s).']
    assert list(cached(config)) == [ids[0]]
    assert (node.cache_dir / 'incomplete' / recent).exists()
    assert ok(manage(config, 'clean')) == ['Removed 0 file(s).']

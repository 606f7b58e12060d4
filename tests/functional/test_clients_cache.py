"""The image cache driven by unmodified clients: python-glanceclient
(``glance cache-*`` and ``Client('2').cache``), openstackclient
(``openstack cached image ...``) and openstacksdk.

None of them sends a version header: glanceclient reads GET /versions
before every cache call and refuses to go on unless v2.14 is listed, the
SDK reads the versions document once. So the service under test has
image_cache_dir set, and every command's effect is checked through
GET /v2/cache and the cache directory.

The worker only runs when an image is queued (a long interval), and an
image whose stored data was removed can never be cached: it stays in
the queue, which is how a queued entry is kept visible.
"""

import datetime
import json
import os
import subprocess
import sys
import uuid

import pytest

from tests import fixtures
from tests.functional import imageutil

# Random, but never with the MBR signature (0x55AA at 510) that makes
# the format inspector take a raw upload for a partition table (1 chance
# in 65536 otherwise, which a CI run once drew).
DATA = b'\0' * 512 + os.urandom(256 * 1024 + 13 - 512)
NODE = 'http://127.0.0.1:9292'
COLUMNS = ['ID', 'State', 'Last Accessed (UTC)', 'Last Modified (UTC)',
           'Size', 'Hits']


class Node:
    """A service with its cache, and what the HTTP API says of it."""

    def __init__(self, service, cache_dir):
        self.service = service
        self.url = service.url
        self.cache_dir = cache_dir
        self.client = fixtures.Client(service.url)

    def state(self):
        resp = self.client.get('/v2/cache')
        assert resp.status_code == 200, resp.text
        return resp.json()

    def cached_ids(self):
        return [e['image_id'] for e in self.state()['cached_images']]

    def queued_ids(self):
        return self.state()['queued_images']

    def cache_file(self, image_id):
        return self.cache_dir / image_id

    def image(self, **body):
        return imageutil.active_image(self.client, DATA,
                                      name=body.pop('name', 'cached'),
                                      **body)['id']

    def unreadable_image(self):
        """An active image whose stored data is gone: queued, it stays
        queued (the worker fails to read it every round)."""
        image_id = self.image(name='unreadable')
        store = os.path.join(self.service.directory, 'images')
        found = [name for name in os.listdir(store) if image_id in name]
        assert found, 'no stored data for %s in %s' % (image_id, store)
        for name in found:
            os.remove(os.path.join(store, name))
        return image_id

    def queued_image(self):
        """An image without data (status queued): it cannot be cached."""
        return imageutil.create(self.client, name='no-data')['id']

    def wait_cached(self, image_id):
        def cached():
            return (image_id in self.cached_ids()
                    and self.cache_file(image_id).is_file())
        fixtures.wait_until(cached, 60, message='image %s cached' % image_id)
        assert self.cache_file(image_id).read_bytes() == DATA

    def wait_hits(self, image_id, hits):
        def counted():
            return [e['hits'] for e in self.state()['cached_images']
                    if e['image_id'] == image_id] == [hits]
        fixtures.wait_until(counted, 30, message='%d hits' % hits)

    def download(self, image_id):
        resp = self.client.get('/v2/images/%s/file' % image_id)
        assert resp.status_code == 200
        assert resp.content == DATA

    def assert_holds(self, cached=(), queued=()):
        """Exactly these images are cached (with their files) and
        queued."""
        assert sorted(self.cached_ids()) == sorted(cached)
        assert sorted(self.queued_ids()) == sorted(queued)
        on_disk = {p.name for p in self.cache_dir.iterdir() if p.is_file()
                   and not p.name.startswith('.') and p.name != 'cache.db'}
        assert on_disk == set(cached)


@pytest.fixture
def node(service_factory, tmp_path):
    cache_dir = tmp_path / 'cache'
    svc = service_factory({'image_cache_dir': str(cache_dir),
                           'paste_deploy.flavor': 'caching',
                           'worker_self_reference_url': NODE,
                           'cache_prefetcher_interval': 3600})
    return Node(svc, cache_dir)


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith('OS_')}


def _utc(epoch):
    """An epoch time as the clients print it (naive UTC, ISO 8601)."""
    return datetime.datetime.fromtimestamp(
        epoch, tz=datetime.UTC).replace(tzinfo=None).isoformat()


def _expected_rows(state, na_last_accessed=True):
    """The rows both clients print for a GET /v2/cache answer."""
    rows = []
    for entry in state['cached_images']:
        accessed = entry['last_accessed']
        rows.append([entry['image_id'], 'cached',
                     'N/A' if accessed == 0 and na_last_accessed
                     else _utc(accessed),
                     _utc(entry['last_modified']), entry['size'],
                     entry['hits']])
    for image_id in state['queued_images']:
        rows.append([image_id, 'queued', 'N/A', 'N/A', 'N/A', 'N/A'])
    return rows


# python-glanceclient, command line -------------------------------------

def _cli(url, *args, check=True):
    command = [os.path.join(os.path.dirname(sys.executable), 'glance'),
               '--os-image-url', url, '--os-auth-token', 'x',
               '--os-image-api-version', '2', *args]
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=120, env=_env(),
                            stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
        # The cache commands report a refused call on stderr and exit 0.
        assert 'Unable to' not in result.stderr, result.stderr
        assert 'not permitted' not in result.stderr, result.stderr
    return result


def _table(output):
    """The header and the rows of a prettytable."""
    lines = [[cell.strip() for cell in line.strip()[1:-1].split('|')]
             for line in output.splitlines() if line.startswith('|')]
    return lines[0], lines[1:]


def _cli_list(node):
    header, rows = _table(_cli(node.url, 'cache-list').stdout)
    assert header == COLUMNS
    return rows


def _as_text(rows):
    return [[str(cell) for cell in row] for row in rows]


def test_glance_cli_cache_commands(node):
    image = node.image()
    unreadable = node.unreadable_image()
    assert _cli_list(node) == []

    _cli(node.url, 'cache-queue', image, unreadable)
    node.wait_cached(image)
    node.assert_holds(cached=[image], queued=[unreadable])
    # A download served from the cache counts a hit.
    node.download(image)
    node.wait_hits(image, 1)

    rows = _cli_list(node)
    state = node.state()
    assert rows == _as_text(_expected_rows(state))
    assert [row[:2] for row in rows] == [[image, 'cached'],
                                         [unreadable, 'queued']]
    assert rows[0][4:] == [str(len(DATA)), '1']
    accessed = datetime.datetime.fromisoformat(rows[0][2])
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert abs((now - accessed).total_seconds()) < 120

    _cli(node.url, 'cache-delete', unreadable)
    node.assert_holds(cached=[image])
    _cli(node.url, 'cache-delete', image)
    node.assert_holds()
    assert _cli_list(node) == []

    # Each target of cache-clear.
    _cli(node.url, 'cache-queue', image, unreadable)
    node.wait_cached(image)
    _cli(node.url, 'cache-clear', '--target', 'queue')
    node.assert_holds(cached=[image])
    _cli(node.url, 'cache-queue', unreadable)
    node.assert_holds(cached=[image], queued=[unreadable])
    _cli(node.url, 'cache-clear', '--target', 'cache')
    node.assert_holds(queued=[unreadable])
    _cli(node.url, 'cache-queue', image)
    node.wait_cached(image)
    node.assert_holds(cached=[image], queued=[unreadable])
    _cli(node.url, 'cache-clear', '--target', 'both')
    node.assert_holds()
    _cli(node.url, 'cache-queue', image, unreadable)
    node.wait_cached(image)
    _cli(node.url, 'cache-clear')
    node.assert_holds()


def test_glance_cli_reports_refused_calls(node):
    missing = str(uuid.uuid4())
    out = _cli(node.url, 'cache-queue', missing, check=False)
    assert 'HTTP 404' in out.stderr
    assert "Unable to queue image '%s' for caching" % missing in out.stderr
    no_data = node.queued_image()
    out = _cli(node.url, 'cache-queue', no_data, check=False)
    assert 'HTTP 400' in out.stderr
    assert 'Only images with status active' in out.stderr
    out = _cli(node.url, 'cache-delete', missing, check=False)
    assert 'HTTP 404' in out.stderr
    assert "Unable to delete image '%s' from cache" % missing in out.stderr
    node.assert_holds()


def test_glance_cli_needs_the_cache_api_version(service):
    # Without image_cache_dir /versions stops at v2.9: the client refuses
    # before sending the cache call.
    out = _cli(service.url, 'cache-list', check=False)
    assert out.returncode != 0
    assert 'does not support image caching API (v2.14)' in out.stderr


# python-glanceclient, Python API ----------------------------------------

def test_glanceclient_cache_api(node):
    import glanceclient
    import glanceclient.exc
    glance = glanceclient.Client('2', endpoint=node.url, token='x')
    image = node.image()
    unreadable = node.unreadable_image()

    glance.cache.queue(image)
    glance.cache.queue(unreadable)
    node.wait_cached(image)
    listed = glance.cache.list()
    assert dict(listed) == node.state()
    assert [e['image_id'] for e in listed['cached_images']] == [image]
    assert listed['cached_images'][0]['size'] == len(DATA)
    assert listed['queued_images'] == [unreadable]

    glance.cache.delete(unreadable)
    node.assert_holds(cached=[image])
    glance.cache.delete(image)
    node.assert_holds()

    glance.cache.queue(image)
    glance.cache.queue(unreadable)
    node.wait_cached(image)
    glance.cache.clear('queue')
    node.assert_holds(cached=[image])
    glance.cache.queue(unreadable)
    glance.cache.clear('cache')
    node.assert_holds(queued=[unreadable])
    glance.cache.queue(image)
    node.wait_cached(image)
    glance.cache.clear('both')
    node.assert_holds()
    assert dict(glance.cache.list()) == {'cached_images': [],
                                         'queued_images': []}

    with pytest.raises(glanceclient.exc.HTTPNotFound):
        glance.cache.queue(str(uuid.uuid4()))
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        glance.cache.delete(str(uuid.uuid4()))
    with pytest.raises(glanceclient.exc.HTTPBadRequest):
        glance.cache.queue(node.queued_image())
    node.assert_holds()


def test_glanceclient_needs_the_cache_api_version(service):
    import glanceclient
    import glanceclient.exc
    glance = glanceclient.Client('2', endpoint=service.url, token='x')
    with pytest.raises(glanceclient.exc.HTTPNotImplemented):
        glance.cache.list()


# openstackclient -------------------------------------------------------

def _osc(node, *args, check=True, as_json=False):
    command = [os.path.join(os.path.dirname(sys.executable), 'openstack'),
               '--os-auth-type', 'none', '--os-endpoint', node.url,
               '--os-image-api-version', '2', *args]
    if as_json:
        command += ['-f', 'json']
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=180, env=_env(),
                            stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout) if as_json else result.stdout
    return result


def _osc_list(node):
    listed = _osc(node, 'cached', 'image', 'list', as_json=True)
    return [[row[column] for column in COLUMNS] for row in listed]


def test_openstackclient_cached_image_commands(node):
    image = node.image(name='osc-cached')
    unreadable = node.unreadable_image()
    assert _osc_list(node) == []

    # By name and by ID: the client looks the image up first.
    _osc(node, 'cached', 'image', 'queue', 'osc-cached', unreadable)
    node.wait_cached(image)
    node.assert_holds(cached=[image], queued=[unreadable])
    node.download(image)
    node.wait_hits(image, 1)
    rows = _osc_list(node)
    # (openstackclient prints a last access of 0 as 1970, not N/A.)
    assert rows == _expected_rows(node.state(), na_last_accessed=False)
    assert [row[:2] for row in rows] == [[image, 'cached'],
                                         [unreadable, 'queued']]
    assert rows[0][4:] == [len(DATA), 1]

    _osc(node, 'cached', 'image', 'delete', unreadable)
    node.assert_holds(cached=[image])
    _osc(node, 'cached', 'image', 'delete', 'osc-cached')
    node.assert_holds()

    _osc(node, 'cached', 'image', 'queue', image, unreadable)
    node.wait_cached(image)
    _osc(node, 'cached', 'image', 'clear', '--queue')
    node.assert_holds(cached=[image])
    _osc(node, 'cached', 'image', 'queue', unreadable)
    _osc(node, 'cached', 'image', 'clear', '--cache')
    node.assert_holds(queued=[unreadable])
    _osc(node, 'cached', 'image', 'queue', image)
    node.wait_cached(image)
    _osc(node, 'cached', 'image', 'clear')
    node.assert_holds()
    assert _osc_list(node) == []

    missing = str(uuid.uuid4())
    refused = _osc(node, 'cached', 'image', 'queue', missing, check=False)
    assert refused.returncode != 0
    assert 'Failed to queue 1 of 1 images' in refused.stderr
    refused = _osc(node, 'cached', 'image', 'queue', node.queued_image(),
                   check=False)
    assert refused.returncode != 0
    assert 'Only images with status active' in refused.stderr
    node.assert_holds()


# openstacksdk ----------------------------------------------------------

def test_openstacksdk_image_cache(node):
    import openstack.connection
    conn = openstack.connection.Connection(
        auth_type='none', image_endpoint_override=node.url,
        image_api_version='2')
    try:
        image = node.image()
        unreadable = node.unreadable_image()
        conn.image.queue_image(image)
        conn.image.queue_image(unreadable)
        node.wait_cached(image)
        cache = conn.image.get_image_cache()
        state = node.state()
        assert [(c.image_id, c.size, c.hits, c.last_accessed)
                for c in cache.cached_images] == [
            (e['image_id'], e['size'], e['hits'], e['last_accessed'])
            for e in state['cached_images']]
        assert cache.queued_images == [unreadable]

        conn.image.cache_delete_image(unreadable)
        node.assert_holds(cached=[image])
        conn.image.clear_cache('cache')
        node.assert_holds()
        conn.image.queue_image(unreadable)
        conn.image.clear_cache('queue')
        node.assert_holds()
        conn.image.queue_image(image)
        conn.image.queue_image(unreadable)
        node.wait_cached(image)
        conn.image.clear_cache()
        node.assert_holds()
    finally:
        conn.close()

"""Two caching API processes on one database, each with its own cache.

The centralized_db driver records every node's entries in the shared
database: GET /v2/cache on a node lists that node's cache only, GET
/v2/cache/nodes/{id} lists every node holding the image. A node's cache
outlives its restarts; an image deleted through one node is never
served by another, whose cleaner then drops its copy.
"""

import os

import sqlalchemy as sa

from tests import fixtures
from tests.functional import importutil as iu
from tests.functional import test_multinode

DATA = os.urandom(3 * (1 << 20) + 17)


def two_caching_nodes(tmp_path, test_db_url):
    """Nodes 'a' and 'b': one database and file store, a cache each."""
    return test_multinode.two_nodes(
        tmp_path, test_db_url, extra_overrides=lambda directory: {
            'image_cache_dir': str(directory / 'cache'),
            'image_cache_driver': 'centralized_db',
            'paste_deploy.flavor': 'caching',
        })


def _cache_files(node):
    return iu.files_in(os.path.join(node.directory, 'cache'))


def _listed(node):
    """GET /v2/cache on *node*: {image_id: entry}."""
    resp = fixtures.Client(node.url).get('/v2/cache')
    assert resp.status_code == 200, resp.text
    return {e['image_id']: e for e in resp.json()['cached_images']}


def _nodes(node, image_id):
    resp = fixtures.Client(node.url).get('/v2/cache/nodes/%s' % image_id)
    assert resp.status_code == 200, resp.text
    return sorted(resp.json())


def _download_cached(node, image_id):
    """A whole download through *node*; waits until its cache has it."""
    assert iu.download(fixtures.Client(node.url), image_id) == DATA
    return fixtures.wait_until(
        lambda: _listed(node).get(image_id), 30,
        message='image %s in the cache of %s' % (image_id, node.url))


def _active_image(node):
    client = fixtures.Client(node.url)
    image = iu.create(client, name='cached')
    resp = client.put('/v2/images/%s/file' % image['id'], data=DATA,
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    return image['id']


def _cache_rows(node, image_id):
    """The cache records of *image_id*, all nodes, in the database."""
    engine = sa.create_engine(node.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT n.node_reference_url, c.hits FROM cached_images c '
                'JOIN node_reference n ON n.node_reference_id = '
                'c.node_reference_id WHERE c.image_id = :i '
                'ORDER BY n.node_reference_url'), {'i': image_id}).all()
    finally:
        engine.dispose()


def test_each_node_lists_its_own_cache_nodes_lists_all(tmp_path,
                                                       test_db_url):
    with two_caching_nodes(tmp_path, test_db_url) as (a, b):
        image_id = _active_image(a)
        entry = _download_cached(a, image_id)
        assert (entry['size'], entry['hits']) == (len(DATA), 0)
        assert _cache_files(a) == [image_id]
        assert _cache_files(b) == []
        assert image_id not in _listed(b)
        for node in (a, b):
            assert _nodes(node, image_id) == [a.url]

        _download_cached(b, image_id)
        assert _cache_files(b) == [image_id]
        for node in (a, b):
            assert _nodes(node, image_id) == sorted([a.url, b.url])
        # Hits count where they happen.
        assert iu.download(fixtures.Client(a.url), image_id) == DATA
        assert iu.download(fixtures.Client(a.url), image_id) == DATA
        assert (_listed(a)[image_id]['hits'],
                _listed(b)[image_id]['hits']) == (2, 0)
        assert [tuple(r) for r in _cache_rows(a, image_id)] == \
            sorted([(a.url, 2), (b.url, 0)])


def test_cache_survives_a_restart(tmp_path, test_db_url):
    with two_caching_nodes(tmp_path, test_db_url) as (a, b):
        image_id = _active_image(a)
        _download_cached(a, image_id)
        assert iu.download(fixtures.Client(a.url), image_id) == DATA
        before = _listed(a)
        assert before[image_id]['hits'] == 1

        a.stop()
        a.start()
        assert _listed(a) == before
        assert _nodes(b, image_id) == [a.url]
        # Served from the cache: the store's file is gone meanwhile.
        os.unlink(tmp_path / 'store' / image_id)
        assert iu.download(fixtures.Client(a.url), image_id) == DATA
        assert _listed(a)[image_id]['hits'] == 2


def test_image_deleted_through_other_node(tmp_path, test_db_url):
    with two_caching_nodes(tmp_path, test_db_url) as (a, b):
        image_id = _active_image(a)
        _download_cached(a, image_id)
        _download_cached(b, image_id)
        ca, cb = fixtures.Client(a.url), fixtures.Client(b.url)

        assert cb.delete('/v2/images/%s' % image_id).status_code == 204
        # Node b dropped its copy at once; node a never serves its own.
        assert _cache_files(b) == []
        assert ca.get('/v2/images/%s/file' % image_id).status_code == 404
        resp = ca.get('/v2/images/%s/file' % image_id,
                      headers={'Range': 'bytes=0-9'})
        assert resp.status_code == 404
        assert ca.get('/v2/cache/nodes/%s' % image_id).status_code == 404
        assert _cache_files(a) == [image_id]
        assert [r[0] for r in _cache_rows(a, image_id)] == [a.url]

        # Node a's cleaner removes the file and its record.
        resp = ca.post('/v2/cache/clean')
        assert resp.status_code == 200, resp.text
        assert _cache_files(a) == []
        assert _listed(a) == {}
        assert _cache_rows(a, image_id) == []

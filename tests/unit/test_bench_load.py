"""bench/load.py still runs: both parts, tiny sizes, glance_import only.

Nothing here asserts a timing. The imports must all become active with
the right size and checksum (bench.glance_direct checks them), every load
request must be answered 200, both nodes must serve, and the imports
accepted by either node must be jobs run by the conductor. Glance 33,
wrk and haproxy are not needed: the load falls back to bench.py's Python
client, one per node; wrk through haproxy is exercised where installed.
"""

import os
import shutil
import types

import pytest

from tests import fixtures
from tests.unit.test_bench_smoke import _load

MiB = 1024 * 1024
TINY = {
    'import_size': MiB + 17,
    'levels': [1, 2],
    'node_import_size': MiB + 5,
    'node_imports': 2,
    'images': 6,
    'connections': 4,
    'seconds': 30,
    'warmup': 0,
}
REDIS = 'redis://127.0.0.1:6379'


@pytest.fixture
def load():
    pytest.importorskip('psutil')
    return _load('load')


def _bench_images(url):
    client = fixtures.Client(url).as_caller('bench-project')
    images = client.get('/v2/images?limit=100').json()['images']
    return [i for i in images if i['name'].startswith('bench-')]


def test_concurrent_imports_against_the_service(load, service_factory,
                                                 tmp_path):
    svc = service_factory()
    ep = load.bench.Endpoint(svc.url, load.compare.HEADERS)

    part = load.run_imports({'glance_import': (ep, os.getpid())},
                            TINY['import_size'], TINY['levels'], 1,
                            str(tmp_path), log=lambda message: None)

    for level in TINY['levels']:
        measured = part['levels'][str(level)]
        assert measured['floor']['streams'] == level
        ours = measured['glance_import']
        assert ours['failures'] == 0, ours['runs']
        assert [r['image_id'] for r in ours['runs']] and \
            len(ours['runs']) == level
        assert ours['bytes'] == level * TINY['import_size']
        assert ours['memory']['tree_pss_MB'] > 0
    # Every level cleans up after itself.
    assert _bench_images(svc.url) == []
    text = load.text({'imports': part})
    assert 'disk floor' in text and 'of the fsync floor' in text


@pytest.fixture
def cluster(load, tmp_path, test_db_url):
    """Two nodes (workers = 1) and a conductor on one database."""
    redis = pytest.importorskip('redis')
    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.RedisError:
        pytest.skip('Redis does not answer on 127.0.0.1:6379: the two-node '
                    'part needs its jobboard')
    if test_db_url:
        fixtures.empty_database_if_migrated(test_db_url)
    database = test_db_url or 'sqlite:///%s/shared.sqlite' % tmp_path
    with load.Cluster(str(tmp_path / 'nodes'), database, REDIS,
                      conductors=1) as running:
        yield running


def test_two_nodes_with_the_python_loader(load, cluster, tmp_path):
    # Imports on both nodes only: on one it is the same code, slower.
    part = load.run_nodes(cluster, TINY, 'python', str(tmp_path),
                          requests=24, import_counts=[2],
                          log=lambda message: None)

    for count in (1, 2):
        measured = part['load'][str(count)]
        assert measured['requests'] == 24 and measured['not_200'] == 0
        # One loader per node: each answered its share.
        assert measured['served'] == [24 // count] * count
    imports = part['imports']['2']
    assert imports['failures'] == 0, imports['runs']
    # Started alternately on the nodes, every one a job for the conductor.
    assert imports['started_on'] == [1, 1]
    assert imports['posted_as_jobs'] == TINY['node_imports']
    assert _bench_images(cluster.nodes[0].url) == []
    part['setup'] = dict(TINY, nodes=2, workers=1, conductors=1,
                         database='the test database', load='python')
    assert 'all nodes / one node' in load.text({'nodes': part})


@pytest.mark.skipif(not (shutil.which('wrk') and shutil.which('haproxy')),
                    reason='wrk and haproxy are not installed (Debian '
                           'packages wrk, haproxy)')
def test_wrk_through_haproxy(load, service, tmp_path):
    # Both servers of the front are the one service: what is checked is
    # the wrk script, the front and its counts, not a cluster.
    ep = load.bench.Endpoint(service.url, load.compare.HEADERS)
    paths = load.mixed_paths(load.bench.populate(ep, TINY['images']))
    loader = load.Loader('wrk', str(tmp_path / 'load'), paths,
                         load.compare.HEADERS)
    front = load.Front(str(tmp_path / 'front'),
                       [service.port, service.port]).start()
    no_nodes = types.SimpleNamespace(cpu_seconds=lambda: 0.0)
    try:
        measured = {count: load.measure_load(no_nodes, loader, count, 4, 1,
                                             0, front=front)
                    for count in (1, 2)}
    finally:
        front.stop()

    for count, r in measured.items():
        assert r['not_200'] == 0 and r['requests'] > 0
        # haproxy's own count: every server behind the front answered.
        assert len(r['served']) == count and all(r['served']), r['served']
        assert sum(r['served']) >= r['requests']

"""The benchmark scripts still run: every measurement, tiny sizes.

Nothing here asserts a timing; the point is that bench.py keeps speaking
the API correctly (it checks sizes and checksums itself) and that
compare.py can still render its table from real results.
"""

import hashlib
import importlib.util
import os
import sys

import pytest

from tests import fixtures

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), 'bench')

TINY = {
    'sizes': [1024 * 1024 + 17, 2 * 1024 * 1024],
    'web_size': 512 * 1024,
    'images': 6,
    'concurrency': [1, 3],
    'requests': 12,
    'disk_size': 1024 * 1024,
}


def _load(name):
    if BENCH_DIR not in sys.path:
        sys.path.insert(0, BENCH_DIR)
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(BENCH_DIR, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench():
    pytest.importorskip('psutil')
    return _load('bench')


def test_generated_data_matches_its_cached_digests(bench, tmp_path):
    path, digests = bench.make_data(str(tmp_path), 3 * 1024 * 1024 + 5)
    with open(path, 'rb') as f:
        data = f.read()
    assert len(data) == 3 * 1024 * 1024 + 5
    assert digests['md5'] == hashlib.md5(data).hexdigest()
    assert digests['sha512'] == hashlib.sha512(data).hexdigest()
    # A second call reuses the file instead of writing it again.
    mtime = os.path.getmtime(path)
    assert bench.make_data(str(tmp_path), len(data)) == (path, digests)
    assert os.path.getmtime(path) == mtime


def test_every_measurement_runs_against_the_service(bench, service_factory,
                                                    tmp_path):
    http_port = fixtures.free_port()
    svc = service_factory({
        'enabled_import_methods': ['glance-direct', 'web-download'],
        'import_filtering_opts.allowed_hosts': ['127.0.0.1'],
        'import_filtering_opts.allowed_ports': [http_port],
    })
    compare = _load('compare')
    ep = bench.Endpoint(svc.url, compare.HEADERS)
    store_dir = os.path.join(svc.directory, 'images')

    results = bench.run(ep, str(tmp_path / 'work'), TINY,
                        server_pid=os.getpid(), evict_dirs=[store_dir],
                        http_port=http_port, log=lambda message: None)

    for size in TINY['sizes']:
        direct = results['direct'][str(size)]
        assert direct['bytes'] == size
        assert set(direct) >= {'create_s', 'stage_s', 'import_s', 'total_s'}
        download = results['download'][str(size)]
        assert download['bytes'] == size
        # The stored file was found and read from the disk as well.
        assert download['disk_read_MBps'] > 0
    memory = results['direct'][str(max(TINY['sizes']))]['stage_memory']
    assert memory['processes'] >= 1 and memory['tree_rss_MB'] > 0
    assert results['web_download']['bytes'] == TINY['web_size']
    for op in ('list', 'show'):
        for c in TINY['concurrency']:
            load = results['metadata']['%s_c%d' % (op, c)]
            assert load['errors'] == 0
            assert load['requests'] == TINY['requests']
    # The benchmark cleans up after itself.
    listed = fixtures.Client(svc.url).as_caller(compare.PROJECT).get(
        '/v2/images?limit=100').json()['images']
    assert [i for i in listed if i['name'].startswith('bench-')] == []

    disk = bench.disk_floor(str(tmp_path / 'disk'), TINY['disk_size'])
    report = {'glance33': results, 'glance_import': results,
              'profile': TINY, 'disk': disk,
              'loadavg_before': [0, 0, 0], 'loadavg_after': [0, 0, 0]}
    text = compare.table(report)
    assert 'metadata show c=3: p99' in text
    assert 'NOT MEASURED' not in text

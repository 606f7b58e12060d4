"""bench/cache.py: its figures, verdicts and table from given samples,
its configuration of both services, and its page cache eviction.

No service is started and no timing is asserted: the samples are made
up, so the verdicts they must give are known.
"""

import os
import socket
import threading

import pytest

from tests.unit.test_bench_smoke import _load

MiB = 1024 * 1024
SIZE = 1000 * 1000 * 1000     # 1 GB: 1 second is 1000 MB/s


@pytest.fixture(scope='module')
def cache():
    return _load('cache')


def _report(**samples):
    return {
        'size': SIZE, 'rounds': 3,
        'machine': {'cpus': 2, 'python': '3.11', 'kernel': 'x'},
        'loadavg_before': [0.1, 0.1, 0.1], 'loadavg_after': [0.2, 0.2, 0.2],
        'client': {'chosen': 'curl', 'candidates': {
            'curl': [{'bytes': SIZE, 'seconds': 0.5,
                      'client_cpu_s': 0.25}]}},
        'samples': samples, 'errors': [],
    }


def _verdicts(cache, report):
    return [met for _, met, _ in cache.criteria(report)]


def test_summary_keeps_best_and_median(cache):
    fig = cache.summary([0.5, 0.4, 1.0], SIZE)

    assert fig['n'] == 3
    assert fig['best_s'] == 0.4
    assert fig['median_s'] == 0.5
    assert fig['best_MBps'] == pytest.approx(2500)
    assert fig['median_MBps'] == pytest.approx(2000)
    assert cache.summary([], SIZE) is None


def test_paired_share_is_the_median_of_rounds(cache):
    # Each round's read over its download: 0.9, 1.0, 0.5.
    assert cache.paired_share([0.9, 0.5, 0.5], [1.0, 0.5, 1.0]) == \
        pytest.approx(0.9)
    assert cache.paired_share([], []) is None


def test_criteria_met(cache):
    report = _report(disk_cold=[0.40, 0.45], ours_hit_cold=[0.43, 0.50],
                     glance_hit_cold=[0.8], ours_uncached=[0.5, 0.6],
                     ours_fill=[0.54, 0.7], ours_hit_warm=[0.3],
                     glance_hit_warm=[0.9])

    (a, a_met, a_detail), (_, b_met, b_detail), (_, c_met, c_detail) = \
        cache.criteria(report)

    assert (a_met, b_met, c_met) == (True, True, True)
    assert a_detail.startswith('93% (2326 of 2500 MB/s')
    assert b_detail.startswith('x1.08 (0.540 s against 0.500 s')
    assert 'cold x1.86' in c_detail and 'warm x3.00' in c_detail


def test_criteria_not_met(cache):
    report = _report(disk_cold=[0.40], ours_hit_cold=[0.50],
                     glance_hit_cold=[0.45], ours_uncached=[0.5],
                     ours_fill=[0.6])

    assert _verdicts(cache, report) == [False, False, False]


def test_criteria_not_measured(cache):
    assert _verdicts(cache, _report()) == [None, None, None]


def test_table_lists_every_row_and_verdict(cache):
    report = _report(disk_cold=[0.4], ours_hit_cold=[0.5])
    report['checks'] = {'resident bytes after eviction (max)': 0}

    text = cache.table(report)

    for _, label in cache.ROWS:
        assert label in text
    assert '[NOT MET] (a)' in text
    assert '[NOT MEASURED] (b)' in text
    assert 'client curl' in text and '0.268 s per GiB' in text
    assert 'resident bytes after eviction (max): 0' in text


def test_caching_node_runs_the_caching_flavor(cache, tmp_path):
    node = cache.OursNode(tmp_path, 'caching',
                          cache_dir=tmp_path / 'cache')
    plain = cache.OursNode(tmp_path, 'plain')

    text, plain_text = node.conf_text(), plain.conf_text()

    assert 'image_cache_dir = %s\n' % (tmp_path / 'cache') in text
    assert 'worker_self_reference_url = %s\n' % node.url in text
    assert '[paste_deploy]\nflavor = caching\n' in text
    assert 'image_cache_dir' not in plain_text
    assert 'paste_deploy' not in plain_text
    # Both serve the same catalogue and store.
    assert text.split('[database]')[1].split('[paste_deploy]')[0] \
        .strip() == plain_text.split('[database]')[1].strip()


def test_glance_caching_configuration(cache, tmp_path, monkeypatch):
    glance33 = cache.glance33
    monkeypatch.setattr(glance33.subprocess, 'run', lambda *a, **k: None)
    glance = glance33.Glance('/venv', tmp_path / 'g', cache_dir=tmp_path /
                             'gcache', uwsgi='/bin/uwsgi')
    plain = glance33.Glance('/venv', tmp_path / 'p')

    glance.configure()
    plain.configure()

    def read(root, name):
        with open(os.path.join(root, 'etc', name)) as f:
            return f.read()
    paste = read(tmp_path / 'g', 'glance-api-paste.ini')
    conf = read(tmp_path / 'g', 'glance-api.conf')
    assert '[composite:glance-api-trustedheaders+caching]' in paste
    assert 'context     cache rootapp' in paste
    assert 'glance.api.middleware.cache:CacheFilter.factory' in paste
    assert 'image_cache_dir = %s\n' % (tmp_path / 'gcache') in conf
    assert 'worker_self_reference_url = %s\n' % glance.url in conf
    assert 'flavor = trustedheaders+caching' in conf
    assert glance.uwsgi == '/bin/uwsgi'
    # Without a cache directory, the configuration is what it was.
    plain_paste = read(tmp_path / 'p', 'glance-api-paste.ini')
    assert 'cache' not in plain_paste
    assert 'context     rootapp' in plain_paste
    assert 'image_cache_dir' not in read(tmp_path / 'p', 'glance-api.conf')
    assert plain.uwsgi == '/venv/bin/uwsgi'


def test_evict_leaves_the_file_out_of_the_page_cache(cache, tmp_path):
    if cache.resident(__file__) is None:
        pytest.skip('fincore is not installed')
    path = tmp_path / 'data'
    path.write_bytes(os.urandom(4 * MiB))
    cache.read_seconds(path, bytearray(MiB))

    left = cache.evict(str(path))

    assert left == 0
    assert cache.resident(str(path)) == 0


def test_wait_cached_needs_the_whole_file_and_no_writer(cache, tmp_path):
    image_id = 'f0e1d2c3-0000-4000-8000-000000000001'
    (tmp_path / 'incomplete').mkdir()
    (tmp_path / image_id).write_bytes(b'x' * 10)
    (tmp_path / 'incomplete' / image_id).write_bytes(b'x')

    with pytest.raises(cache.bench.BenchError):
        cache.wait_cached(str(tmp_path), image_id, 10, timeout=0.1)
    (tmp_path / 'incomplete' / image_id).unlink()
    with pytest.raises(cache.bench.BenchError):
        cache.wait_cached(str(tmp_path), image_id, 11, timeout=0.1)
    cache.wait_cached(str(tmp_path), image_id, 10, timeout=0.1)


class _FakeClient:

    def __init__(self, name, seconds, cpu, present=True):
        self.name, self.seconds, self.cpu = name, seconds, cpu
        self.present = present
        self.urls = []

    def available(self):
        return self.present

    def get(self, url):
        self.urls.append(url)
        return {'bytes': SIZE, 'seconds': self.seconds,
                'client_cpu_s': self.cpu}


def test_the_client_spending_least_cpu_is_chosen(cache):
    service = type('Service', (), {'url': 'http://127.0.0.1:1'})
    fast = _FakeClient('fast', 0.4, 0.5)
    cheap = _FakeClient('cheap', 0.5, 0.2)
    missing = _FakeClient('missing', 0.1, 0.0, present=False)

    chosen, runs = cache.choose_client([fast, cheap, missing], service,
                                       'an-id', SIZE, 3, lambda m: None)

    assert chosen is cheap
    assert sorted(runs) == ['cheap', 'fast']
    assert len(runs['cheap']) == 3
    # One warming download, then the timed ones.
    assert cheap.urls == ['http://127.0.0.1:1/v2/images/an-id/file'] * 4
    assert missing.urls == []


def _serve_once(response):
    """A server thread that reads one request and answers *response*
    (bytes) before closing; its URL and the request it received."""
    listener = socket.create_server(('127.0.0.1', 0))
    received = []

    def serve():
        conn, _ = listener.accept()
        with conn:
            request = b''
            while b'\r\n\r\n' not in request:
                request += conn.recv(65536)
            received.append(request)
            conn.sendall(response)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return 'http://127.0.0.1:%d/v2/images/x/file' % \
        listener.getsockname()[1], received


@pytest.fixture
def splice_client(cache):
    client = cache.SpliceClient({'X-Roles': 'admin'})
    if not client.available():
        pytest.skip('no os.splice')
    return client


def test_splice_client_counts_a_sized_body(splice_client):
    body = os.urandom(3 * MiB + 5)
    url, request = _serve_once(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n'
                               b'\r\n' % len(body) + body)

    r = splice_client.get(url)

    assert r['bytes'] == len(body)
    assert r['seconds'] > 0
    assert request[0].startswith(b'GET /v2/images/x/file HTTP/1.1\r\n')
    assert b'\r\nX-Roles: admin\r\n' in request[0]


def test_splice_client_follows_chunks_and_closed_bodies(splice_client):
    chunked = (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
               b'5;x=1\r\nhello\r\n10000\r\n' + b'a' * 65536 +
               b'\r\n0\r\nX-Trailer: 1\r\n\r\n')
    closed = b'HTTP/1.1 200 OK\r\n\r\n' + b'b' * 70000

    assert splice_client.get(_serve_once(chunked)[0])['bytes'] == 65541
    assert splice_client.get(_serve_once(closed)[0])['bytes'] == 70000


def test_splice_client_refuses_short_bodies_and_errors(cache,
                                                       splice_client):
    short = b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' + b'c' * 99
    missing = b'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'

    with pytest.raises(cache.bench.BenchError, match='99 of 100 bytes'):
        splice_client.get(_serve_once(short)[0])
    with pytest.raises(cache.bench.BenchError, match='404'):
        splice_client.get(_serve_once(missing)[0])

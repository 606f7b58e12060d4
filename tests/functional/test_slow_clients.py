"""Slow and idle clients cannot take the service from others.

A real ``glance-import-api`` (two worker processes of four request
threads) is held by N clients sending a request head a line at a time,
N sending an upload body a byte at a time (N = 4 x the request threads)
and 1000 idle kept-alive connections, all on loopback; ordinary requests
are answered within 2 s each meanwhile, the server closes the slow
connections within their deadlines, and the idle ones still work.
"""

import http.client
import json
import resource
import socket
import threading
import time

import pytest

from tests import fixtures

WORKERS = 2
THREADS = 4
N = 4 * WORKERS * THREADS
IDLE = 1000
HEADER_TIMEOUT = 4
HEADER_MAX_TIMEOUT = 6
BODY_TIMEOUT = 4
MIN_RATE = 500
# Every slow connection is closed by then: its deadline, plus the
# server's 0.5 s checks and the trickle's 2 s steps.
CLOSE_BY = max(HEADER_MAX_TIMEOUT, BODY_TIMEOUT + 1) + 4


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    proc = fixtures.ServiceProcess(
        str(tmp_path_factory.mktemp('slow-clients')), None, {
            'workers': WORKERS, 'server_threads': THREADS,
            'request_header_timeout': HEADER_TIMEOUT,
            'request_header_max_timeout': HEADER_MAX_TIMEOUT,
            'request_body_timeout': BODY_TIMEOUT,
            'request_min_rate': MIN_RATE})
    proc.start()
    yield proc
    proc.stop()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _connect(port):
    return socket.create_connection(('127.0.0.1', port), timeout=10)


def _queued_images(url, count):
    client = fixtures.Client(url)
    ids = []
    for _ in range(count):
        resp = client.post('/v2/images', json={'disk_format': 'raw',
                                               'container_format': 'bare'})
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()['id'])
    return ids


def _ordinary_request(port):
    """Seconds one GET /versions took on a new connection (or raises)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
    try:
        conn.request('GET', '/versions')
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    finally:
        conn.close()
    return time.monotonic() - started


class _Trickle(threading.Thread):
    """Sends each slow connection a little more every 2 s; records when
    the server ended it (answered it or closed it) and what it said."""

    def __init__(self, connections):
        super().__init__(daemon=True)
        self.connections = connections      # [(kind, socket, piece)]
        self.closed = {}                    # index -> (kind, seconds)
        self.answers = {}                   # index -> first bytes received
        self.started = time.monotonic()
        self.stopping = threading.Event()

    def _ended(self, index, sock):
        try:
            data = sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        # Either the server's answer (it closes right after) or the close.
        self.answers[index] = data
        return True

    def run(self):
        while not self.stopping.wait(2):
            for index, (kind, sock, piece) in enumerate(self.connections):
                if index in self.closed:
                    continue
                try:
                    sock.sendall(piece)
                    ended = self._ended(index, sock)
                except OSError:
                    ended = True
                if ended:
                    self.closed[index] = (
                        kind, time.monotonic() - self.started)


def _closes(sock):
    """True when the server closes *sock* within a few seconds."""
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


def test_slow_and_idle_clients_do_not_starve_others(server):
    port = server.port
    idle = []
    for _ in range(IDLE):
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        conn.request('GET', '/versions')
        assert conn.getresponse().read()
        idle.append(conn)
    slow = []
    for _ in range(N):
        sock = _connect(port)
        sock.sendall(b'GET /versions HTTP/1.1\r\nHost: x\r\n')
        slow.append(('head', sock, b'X-Slow: 1\r\n'))
    for image_id in _queued_images(server.url, N):
        sock = _connect(port)
        sock.sendall(b'PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\n'
                     b'Content-Type: application/octet-stream\r\n'
                     b'Content-Length: 100000\r\n\r\n' % image_id.encode())
        slow.append(('body', sock, b'x'))
    trickle = _Trickle(slow)
    trickle.start()
    try:
        took = []
        while time.monotonic() - trickle.started < CLOSE_BY:
            took.append(_ordinary_request(port))
            time.sleep(0.1)
        # Answered at once all along, whatever the slow clients held.
        assert max(took) < 2, max(took)
        assert len(took) > 20
    finally:
        trickle.stopping.set()
        trickle.join(10)
    kinds = [kind for kind, _, _ in slow]
    closed = trickle.closed
    assert sorted(closed) == list(range(len(slow))), (
        'still open: %s' % [kinds[i] for i in range(len(slow))
                            if i not in closed])
    for kind, seconds in closed.values():
        assert seconds <= CLOSE_BY, (kind, seconds)
    # What the server said before closing: 408 to a late head, 400 to a
    # body cut for its rate.
    expected = {'head': b'HTTP/1.1 408 ', 'body': b'HTTP/1.1 400 '}
    for index, answer in trickle.answers.items():
        if answer:
            assert answer.startswith(expected[kinds[index]]), answer
    assert all(_closes(sock) for _, sock, _ in slow)
    # The idle kept-alive connections were left open and still serve.
    for conn in idle[:: IDLE // 20]:
        conn.request('GET', '/versions')
        assert conn.getresponse().status == 200
    for conn in idle:
        conn.close()
    for _, sock, _ in slow:
        sock.close()
    # The cut uploads left their images queued, without data.
    client = fixtures.Client(server.url)
    statuses = {image['status'] for image in client.get(
        '/v2/images?limit=1000').json()['images']}
    assert statuses == {'queued'}


def test_late_head_gets_408(server):
    sock = _connect(server.port)
    with sock:
        sock.sendall(b'GET /versions HTTP/1.1\r\n')
        sock.settimeout(HEADER_MAX_TIMEOUT + 5)
        started = time.monotonic()
        answer = b''
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b'HTTP/1.1 408 ')
    body = json.loads(answer.split(b'\r\n\r\n', 1)[1])
    assert body['code'] == '408 Request Timeout'
    assert HEADER_TIMEOUT - 1 <= time.monotonic() - started \
        <= HEADER_MAX_TIMEOUT + 2


def test_steady_slow_upload_goes_on(server):
    """An upload slower than the body timeout but above the minimum rate
    completes."""
    image_id = _queued_images(server.url, 1)[0]
    data = b'y' * (MIN_RATE * 3 * (BODY_TIMEOUT + 4))
    sock = _connect(server.port)
    with sock:
        sock.sendall(b'PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\n'
                     b'Content-Type: application/octet-stream\r\n'
                     b'Content-Length: %d\r\n\r\n'
                     % (image_id.encode(), len(data)))
        step = MIN_RATE * 3 // 4
        for offset in range(0, len(data), step):
            sock.sendall(data[offset:offset + step])
            time.sleep(0.25)
        sock.settimeout(30)
        answer = sock.recv(4096)
    assert answer.startswith(b'HTTP/1.1 204 '), answer[:200]
    image = fixtures.Client(server.url).get('/v2/images/%s'
                                            % image_id).json()
    assert (image['status'], image['size']) == ('active', len(data))


def test_connections_per_address_are_bounded(tmp_path):
    proc = fixtures.ServiceProcess(str(tmp_path), None, {
        'max_client_connections_per_address': 5})
    proc.start()
    try:
        held = [_connect(proc.port) for _ in range(5)]
        extra = _connect(proc.port)
        with extra:
            extra.settimeout(10)
            answer = extra.recv(4096)
        assert answer.startswith(b'HTTP/1.1 503 ')
        for sock in held:
            sock.close()
        # Closed connections are counted out again.
        fixtures.wait_until(lambda: _try_versions(proc.port), 10,
                            message='a connection to be accepted again')
    finally:
        proc.stop()


def _try_versions(port):
    try:
        return _ordinary_request(port) < 2
    except (OSError, AssertionError, http.client.HTTPException):
        return False

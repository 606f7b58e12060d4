"""The connection gate's rules: when a head is complete, when it is late,
and when a body is cut (cmd/connection_gate)."""

import socket
import time

import pytest

from glance_import.cmd import connection_gate as gate

LIMITS = gate.Limits(max_head=1024, header_timeout=20,
                     header_max_timeout=40, min_rate=500,
                     max_connections=0, max_per_address=0)


@pytest.mark.parametrize('data, complete', [
    (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', True),
    (b'GET / HTTP/1.1\r\nHost: x\r\n\r\nnext request', True),
    # Bare line feeds: a request thread answers them with 400.
    (b'GET / HTTP/1.1\nHost: x\n\n', True),
    (b'GET / HTTP/1.1\r\nHost: x\r\n', False),
    (b'GET / HTTP/1.1\r\n', False),
    (b'G', False),
    # As big as a head may be: handed over, to be refused with 431.
    (b'GET / HTTP/1.1\r\nX: ' + b'a' * 1024, True),
])
def test_complete_head(data, complete):
    assert gate.complete_head(data, LIMITS.max_head) is complete


def test_head_deadline_grows_with_bytes_up_to_the_maximum():
    assert LIMITS.head_deadline(100.0, 0) == 120.0
    assert LIMITS.head_deadline(100.0, 5000) == 130.0
    assert LIMITS.head_deadline(100.0, 10 ** 6) == 140.0


def test_limits_from_conf_never_cap_below_the_timeout():
    class Conf:
        max_request_header_size = 65536
        request_header_timeout = 30
        request_header_max_timeout = 10
        request_min_rate = 500
        max_client_connections = 10
        max_client_connections_per_address = 2
    limits = gate.Limits.from_conf(Conf)
    assert limits.header_max_timeout == 30
    assert limits.head_deadline(0.0, 0) == 30.0


@pytest.fixture
def pair():
    server = socket.create_server(('127.0.0.1', 0))
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()
    yield client, accepted
    for sock in (client, accepted, server):
        sock.close()


class _Conn:
    def __init__(self, sock):
        self.socket = sock
        self.remote_addr = '127.0.0.1'


def test_bytes_received_counts_what_the_kernel_got(pair):
    client, accepted = pair
    before = gate.bytes_received(accepted)
    client.sendall(b'z' * 4321)
    time.sleep(0.1)
    assert gate.bytes_received(accepted) - before == 4321


def test_body_watch_cuts_a_trickle(pair, monkeypatch):
    client, accepted = pair
    watch = gate.BodyWatch(timeout=5, min_rate=500)
    conn = _Conn(accepted)
    clock = [1000.0]
    monkeypatch.setattr(gate.time, 'monotonic', lambda: clock[0])
    watch.start(conn)
    client.sendall(b'x' * 100)
    time.sleep(0.1)
    clock[0] += 5.1
    # 5 s plus 100 bytes' worth (0.2 s) of grace: still in time.
    watch.enforce()
    accepted.settimeout(0)
    assert accepted.recv(100) == b'x' * 100
    clock[0] += 0.2
    watch.enforce()
    # Shut for reading: a blocked read in the application ends at once.
    accepted.settimeout(1)
    assert accepted.recv(100) == b''


def test_body_watch_lets_a_steady_body_go_on(pair, monkeypatch):
    client, accepted = pair
    watch = gate.BodyWatch(timeout=5, min_rate=500)
    conn = _Conn(accepted)
    clock = [0.0]
    monkeypatch.setattr(gate.time, 'monotonic', lambda: clock[0])
    watch.start(conn)
    for _ in range(30):
        client.sendall(b'y' * 600)     # 600 bytes a second
        clock[0] += 1
        time.sleep(0.005)
        watch.enforce()
    accepted.settimeout(1)
    assert len(accepted.recv(100000)) > 0
    watch.stop(conn)
    clock[0] += 1000
    watch.enforce()
    client.sendall(b'more')
    assert accepted.recv(100000).endswith(b'more')

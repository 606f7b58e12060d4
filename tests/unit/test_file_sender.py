"""Large file bodies are read ahead of their sendfile(2)."""
import hashlib
import os
import socket
import threading

from glance_import.cmd import file_sender


def _receive(sock, out):
    h = hashlib.sha256()
    n = 0
    while data := sock.recv(1 << 20):
        h.update(data)
        n += len(data)
    out.extend([n, h.hexdigest()])


def _send(tmp_path, size, offset, monkeypatch):
    data = os.urandom(1 << 20) * (size >> 20)
    path = tmp_path / 'image'
    path.write_bytes(data)
    launched = []
    real = file_sender.ReadAhead.launch

    def launch(*args):
        launched.append(real(*args))
        return launched[-1]
    monkeypatch.setattr(file_sender.ReadAhead, 'launch', launch)
    a, b = socket.socketpair()
    got = []
    t = threading.Thread(target=_receive, args=(b, got))
    t.start()
    with a, b, open(path, 'rb') as f:
        sent = file_sender.send_file(a, f, offset, size - offset)
        a.shutdown(socket.SHUT_WR)
        t.join()
        assert f.tell() == size
    assert sent == size - offset
    assert got == [size - offset, hashlib.sha256(data[offset:]).hexdigest()]
    return launched


def test_large_body_is_read_ahead(tmp_path, monkeypatch):
    fds = len(os.listdir('/proc/self/fd'))
    launched = _send(tmp_path, 96 << 20, 1000, monkeypatch)
    assert len(launched) == 1 and launched[0] is not None
    launched[0].join(5)
    assert not launched[0].is_alive()
    assert len(os.listdir('/proc/self/fd')) == fds


def test_small_body_in_one_call(tmp_path, monkeypatch):
    assert _send(tmp_path, 8 << 20, 0, monkeypatch) == []

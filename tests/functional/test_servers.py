"""The service under its real servers: prefork workers and uwsgi."""

import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UWSGI_INI = os.path.join(ROOT, 'etc', 'glance-import-uwsgi.ini')


def _children(pid):
    path = '/proc/%d/task/%d/children' % (pid, pid)
    with open(path) as f:
        return {int(p) for p in f.read().split()}


def _socket_inodes(pid):
    inodes = set()
    fd_dir = '/proc/%d/fd' % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(int(target[8:-1]))
    return inodes


def _tcp_sockets():
    """(local port, remote port, state, inode) of IPv4 TCP sockets."""
    rows = []
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            fields = line.split()
            local_port = int(fields[1].split(':')[1], 16)
            remote_port = int(fields[2].split(':')[1], 16)
            rows.append((local_port, remote_port, fields[3], int(fields[9])))
    return rows


def _open_connection(port):
    """A kept-alive connection that has completed one request."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=30)
    sock.sendall(b'GET /versions HTTP/1.1\r\nHost: test\r\n\r\n')
    data = b''
    while b'\r\n\r\n' not in data:
        data += sock.recv(65536)
    assert data.startswith(b'HTTP/1.1 200'), data[:100]
    return sock


def _alive(pid):
    return os.path.exists('/proc/%d' % pid)


def test_workers_share_the_socket_and_stop_cleanly(process_factory):
    proc = process_factory({'workers': 2})
    parent = proc.proc.pid
    children = fixtures.wait_until(
        lambda: len(_children(parent)) == 2 and _children(parent),
        message='two workers')
    listening = [inode for port, _, state, inode in _tcp_sockets()
                 if port == proc.port and state == '0A']
    assert len(listening) == 1
    for child in children:
        assert listening[0] in _socket_inodes(child)

    # Connections are spread over both workers: each worker ends up
    # holding the server side of some of them. (cheroot keeps at most 10
    # idle keep-alive connections per process and closes the rest; a
    # worker still starting up accepts nothing, hence the polling.)
    conns = []

    def both_workers_serve():
        conns.append(_open_connection(proc.port))
        client_ports = {c.getsockname()[1] for c in conns}
        served = {inode for port, remote, state, inode in _tcp_sockets()
                  if port == proc.port and remote in client_ports
                  and state == '01'}
        return all(_socket_inodes(child) & served for child in children)

    try:
        fixtures.wait_until(both_workers_serve, timeout=120, interval=0.05,
                            message='connections served by both workers')
    finally:
        for conn in conns:
            conn.close()

    # A worker that dies is replaced; the service keeps answering.
    victim = sorted(children)[0]
    os.kill(victim, signal.SIGKILL)
    replaced = fixtures.wait_until(
        lambda: (len(_children(parent)) == 2 and victim not in
                 _children(parent) and _children(parent)),
        message='a replacement worker')
    client = fixtures.Client(proc.url)
    for _ in range(10):
        assert client.get('/versions').status_code == 200

    # Import works in the workers (each has its own executor); stage and
    # import may well be served by different processes.
    image_id = client.post('/v2/images', json={
        'name': 'workers', 'disk_format': 'raw',
        'container_format': 'bare'}).json()['id']
    resp = client.put('/v2/images/%s/stage' % image_id, data=b'w' * 5000,
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    resp = client.post('/v2/images/%s/import' % image_id,
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text
    fixtures.wait_until(
        lambda: client.get('/v2/images/%s' % image_id).json()['status']
        == 'active', timeout=60, message='active image')

    # SIGTERM on the parent stops every worker and exits 0.
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(60) == 0
    for child in replaced:
        fixtures.wait_until(lambda c=child: not _alive(c),
                            message='worker %d to exit' % child)


def test_single_process_stops_on_sigterm(process_factory):
    proc = process_factory()
    assert fixtures.Client(proc.url).get('/versions').status_code == 200
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(60) == 0
    with open(proc.log_path) as f:
        output = f.read()
    # Optional glance_store drivers (cinder ...) load quietly.
    assert 'Could not load' not in output
    assert 'Traceback' not in output


def _uwsgi_ini(directory, port, config_file):
    """The shipped ini with this test's port, config and two processes."""
    lines = []
    with open(UWSGI_INI) as f:
        for line in f:
            key = line.split('=', 1)[0].strip()
            if key == 'http-socket':
                line = 'http-socket = 127.0.0.1:%d\n' % port
            elif key == 'processes':
                line = 'processes = 2\n'
            elif key == 'env':
                line = 'env = GLANCE_IMPORT_CONFIG_FILES=%s\n' % config_file
            lines.append(line)
    path = os.path.join(directory, 'uwsgi.ini')
    with open(path, 'w') as f:
        f.writelines(lines)
    return path


@pytest.fixture
def uwsgi_service(tmp_path, test_db_url):
    uwsgi = os.path.join(os.path.dirname(sys.executable), 'uwsgi')
    assert os.access(uwsgi, os.X_OK), 'uwsgi is not installed beside python'
    if test_db_url:
        fixtures.empty_database_if_migrated(test_db_url)
        fixtures.migrate(test_db_url)
    directory = str(tmp_path)
    port = fixtures.free_port()
    config_file = fixtures.write_config(directory, test_db_url)
    ini = _uwsgi_ini(directory, port, config_file)
    log_path = os.path.join(directory, 'uwsgi.log')
    with open(log_path, 'ab') as log:
        proc = subprocess.Popen(
            [uwsgi, '--ini', ini, '--virtualenv', sys.prefix],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = 'http://127.0.0.1:%d' % port
    try:
        fixtures.wait_for(url + '/versions', 60, proc, log_path)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def test_uwsgi_serves_versions_and_images(uwsgi_service):
    url, proc = uwsgi_service
    client = fixtures.Client(url)
    resp = client.get('/versions')
    assert resp.status_code == 200
    assert resp.json()['versions'][0]['id'] == 'v2.17'
    assert len(_children(proc.pid)) == 2

    name = 'uwsgi-%s' % uuid.uuid4().hex
    resp = client.post('/v2/images', json={
        'name': name, 'disk_format': 'raw', 'container_format': 'bare'})
    assert resp.status_code == 201, resp.text
    image_id = resp.json()['id']
    # Several requests, so both uwsgi workers answer some of them.
    for _ in range(6):
        resp = client.get('/v2/images', params={'name': name})
        assert resp.status_code == 200
        assert [i['id'] for i in resp.json()['images']] == [image_id]

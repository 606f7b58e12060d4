"""Hostile clients over raw sockets: oversize heads, bad framing, bad bytes.

Each case gets its 4xx with a JSON error body, at once: never a 5xx, a
hang or a connection dropped without an answer.
"""

import json
import os
import socket
import time

import pytest

from tests import fixtures

TIMEOUT = 10
JSON_HEADERS = {'Content-Type': 'application/json'}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    proc = fixtures.ServiceProcess(
        str(tmp_path_factory.mktemp('hostile')), None,
        {'max_header_line': 8192, 'max_request_header_size': 32768})
    proc.start()
    yield proc
    proc.stop()


def _exchange(port, data):
    """Send *data* and read until the server closes or answers in full."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    with sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _read_response(sock)


def _read_response(sock):
    data = b''
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        head, sep, body = data.partition(b'\r\n\r\n')
        if sep:
            status = int(head.split(b' ', 2)[1])
            headers = dict(
                line.split(b': ', 1) for line in head.split(b'\r\n')[1:])
            length = int(headers.get(b'Content-Length', -1))
            if 0 <= length <= len(body):
                return status, headers, body[:length]
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    raise AssertionError('no complete answer: %r' % data[:200])


def _refused(port, data, status):
    """The answer to *data* is *status* with a JSON error."""
    got, headers, body = _exchange(port, data)
    assert got == status, body
    assert headers[b'Content-Type'].startswith(b'application/json')
    error = json.loads(body)
    assert error['code'].startswith(str(status))
    return error['message']


def _request(head_lines, body=b''):
    return b'\r\n'.join(head_lines) + b'\r\n\r\n' + body


# Header limits ----------------------------------------------------------

def test_a_header_line_over_max_header_line_is_431(server):
    data = _request([b'GET /versions HTTP/1.1', b'Host: x',
                     b'X-Big: ' + b'a' * 9000])
    assert 'longer than 8192' in _refused(server.port, data, 431)


def test_a_header_line_at_max_header_line_is_read(server):
    line = b'X-Big: ' + b'a' * (8192 - 7)
    status, _, _ = _exchange(server.port, _request(
        [b'GET /versions HTTP/1.1', b'Host: x', line,
         b'Connection: close']))
    assert status == 200


def test_headers_over_the_total_are_431(server):
    lines = [b'X-Header-%d: %s' % (i, b'b' * 4000) for i in range(256)]
    data = _request([b'GET /versions HTTP/1.1', b'Host: x'] + lines)
    assert 'larger than 32768' in _refused(server.port, data, 431)


def test_a_request_line_over_the_total_is_414(server):
    data = _request([b'GET /versions?' + b'q' * 40000 + b' HTTP/1.1',
                     b'Host: x'])
    _refused(server.port, data, 414)


# Framing ----------------------------------------------------------------

def _post(headers, body=b''):
    # Errors of the API answer in JSON when asked to, as in Glance.
    return _request([b'POST /v2/images HTTP/1.1', b'Host: x',
                     b'Accept: application/json',
                     b'Content-Type: application/json'] + headers, body)


@pytest.mark.parametrize('headers', [
    [b'Content-Length: -1'],
    [b'Content-Length: abc'],
    [b'Content-Length: +5'],
    [b'Content-Length: 0x10'],
    [b'Content-Length: 2', b'Content-Length: 3'],
    [b'Content-Length: 2, 3'],
    [b'Content-Length: 2', b'Transfer-Encoding: chunked'],
    [b'Transfer-Encoding: chunked', b'Content-Length: 0'],
    [b'Content-Length : 2'],
    [b'Content-Length: 2', b' 3'],
], ids=lambda h: b' / '.join(h).decode())
def test_framing_errors_are_400_at_once(server, headers):
    _refused(server.port, _post(headers, b'{}'), 400)


def test_chunked_in_http_1_0_is_400(server):
    data = _request([b'POST /v2/images HTTP/1.0', b'Host: x',
                     b'Connection: Keep-Alive',
                     b'Transfer-Encoding: chunked'],
                    b'0\r\n\r\nGET /versions HTTP/1.0\r\n\r\n')
    assert 'HTTP/1.1' in _refused(server.port, data, 400)


def test_identical_content_lengths_are_one(server):
    body = b'{"name": "twice"}'
    cl = b'Content-Length: %d' % len(body)
    status, _, _ = _exchange(server.port, _post(
        [cl, cl, b'Connection: close'], body))
    assert status == 201


@pytest.mark.parametrize('chunks', [
    b'-5\r\nabcde\r\n0\r\n\r\n',
    b'0x2\r\n{}\r\n0\r\n\r\n',
    b'zz\r\n{}\r\n0\r\n\r\n',
    b'2\r\n{}xx\r\n0\r\n\r\n',
    b'2' * 5000 + b'\r\n',
], ids=['negative', 'prefix', 'not-hex', 'overlong-chunk', 'long-line'])
def test_invalid_chunks_are_400(server, chunks):
    data = _post([b'Transfer-Encoding: chunked'], chunks)
    _refused(server.port, data, 400)


def test_invalid_chunks_in_an_upload_are_400(server):
    client = fixtures.Client(server.url)
    image_id = client.post('/v2/images', json={
        'name': 'chunky', 'disk_format': 'raw',
        'container_format': 'bare'}).json()['id']
    data = _request([b'PUT /v2/images/%s/file HTTP/1.1' % image_id.encode(),
                     b'Host: x', b'Accept: application/json',
                     b'Content-Type: application/octet-stream',
                     b'Transfer-Encoding: chunked'],
                    b'4\r\nabcd\r\n-1\r\n\r\n')
    _refused(server.port, data, 400)
    assert client.get('/v2/images/%s' % image_id).json()['status'] == \
        'queued'


def test_a_valid_chunked_body_with_trailers_keeps_the_connection(server):
    body = b'{"name": "chunked"}'
    data = _post([b'Transfer-Encoding: chunked'],
                 b'%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n'
                 % (len(body), body))
    sock = socket.create_connection(('127.0.0.1', server.port),
                                    timeout=TIMEOUT)
    with sock:
        sock.sendall(data)
        assert _read_response(sock)[0] == 201
        sock.sendall(b'GET /versions HTTP/1.1\r\nHost: x\r\n\r\n')
        assert _read_response(sock)[0] == 200


# Bad bytes --------------------------------------------------------------

@pytest.mark.parametrize('line', [
    b'X-Bad: a\x00b', b'X-Bad: a\x01b', b'X-Bad: a\rb', b'X-Bad: \xff\xfe',
    b'X-Bad\x00: 1', b'X Bad: 1',
], ids=['nul', 'control', 'bare-cr', 'invalid-utf8', 'nul-name', 'space'])
def test_bad_bytes_in_headers_are_400(server, line):
    data = _request([b'GET /versions HTTP/1.1', b'Host: x', line])
    _refused(server.port, data, 400)


@pytest.mark.parametrize('line', [
    b'GET /versions\x00 HTTP/1.1', b'GET /versions\x01x HTTP/1.1',
    b'GET /v\xc3\xa9rsions HTTP/1.1',
], ids=['nul', 'control', 'raw-utf8'])
def test_bad_bytes_in_the_request_line_are_400(server, line):
    _refused(server.port, _request([line, b'Host: x']), 400)


def test_utf8_header_values_are_read(server):
    status, _, _ = _exchange(server.port, _request(
        [b'GET /versions HTTP/1.1', b'Host: x',
         b'X-User-Name: j\xc3\xa9r\xc3\xb4me', b'Connection: close']))
    assert status == 200


def test_a_nul_in_a_web_download_host_is_400(server):
    client = fixtures.Client(server.url)
    image_id = client.post('/v2/images', json={
        'name': 'nul-uri', 'disk_format': 'raw',
        'container_format': 'bare'}).json()['id']
    for uri in ('http://exa\x00mple.com/image', 'http://example.com/\x00',
                'http://exa\x01mple.com/image', 'http://ex ample.com/'):
        resp = client.post('/v2/images/%s/import' % image_id, json={
            'method': {'name': 'web-download', 'uri': uri}})
        assert resp.status_code == 400, (uri, resp.text)


@pytest.mark.parametrize('body', [
    {'name': 'x', 'ke\x01y': 'v'},
    {'name': 'x', 'key\x00': 'v'},
    {'name': 'nul\x00'},
], ids=['control-key', 'nul-key', 'nul-name'])
def test_bad_characters_in_names_are_400(server, body):
    resp = fixtures.Client(server.url).post('/v2/images', json=body)
    assert resp.status_code == 400, resp.text


def test_bad_characters_in_a_patched_property_name_are_400(server):
    client = fixtures.Client(server.url)
    image_id = client.post('/v2/images', json={'name': 'p'}).json()['id']
    resp = client.patch(
        '/v2/images/%s' % image_id,
        data=json.dumps([{'op': 'add', 'path': '/ke\x1by', 'value': 'v'}]),
        headers={'Content-Type':
                 'application/openstack-images-v2.1-json-patch'})
    assert resp.status_code == 400, resp.text


def test_invalid_utf8_in_a_json_body_is_400(server):
    body = b'{"name": "\xff"}'
    data = _post([b'Content-Length: %d' % len(body)], body)
    assert _exchange(server.port, data)[0] == 400


def test_a_disconnect_mid_json_body_is_logged_once(server):
    log_size = _log_size(server)
    for headers, body in (([b'Content-Length: 100'], b'{"name": "x'),
                          ([b'Transfer-Encoding: chunked'],
                           b'40\r\n{"name": "x')):
        sock = socket.create_connection(('127.0.0.1', server.port),
                                        timeout=TIMEOUT)
        sock.sendall(_post(headers, body))
        sock.close()
    # The server notices when it next reads; the service keeps serving.
    client = fixtures.Client(server.url)
    fixtures.wait_until(lambda: _log_tail(server, log_size).count(
        'disconnect') >= 2, timeout=TIMEOUT, message='two disconnects')
    assert client.get('/versions').status_code == 200
    tail = _log_tail(server, log_size)
    assert 'Traceback' not in tail
    assert ' 500 ' not in tail
    assert 'Unexpected error' not in tail


@pytest.mark.parametrize('headers, body', [
    ([b'Content-Length: 100000'], b'x' * 5000),
    ([b'Transfer-Encoding: chunked'], b'100000\r\n' + b'x' * 5000),
], ids=['sized', 'chunked'])
def test_a_disconnect_mid_upload_leaves_nothing(server, headers, body):
    client = fixtures.Client(server.url)
    image_id = client.post('/v2/images', json={
        'name': 'gone', 'disk_format': 'raw',
        'container_format': 'bare'}).json()['id']
    log_size = _log_size(server)
    sock = socket.create_connection(('127.0.0.1', server.port),
                                    timeout=TIMEOUT)
    sock.sendall(_request(
        [b'PUT /v2/images/%s/file HTTP/1.1' % image_id.encode(), b'Host: x',
         b'Content-Type: application/octet-stream'] + headers, body))
    sock.close()
    fixtures.wait_until(
        lambda: client.get('/v2/images/%s' % image_id).json()['status']
        == 'queued' and 'PUT' in _log_tail(server, log_size),
        timeout=TIMEOUT, message='the upload to be given up')
    images_dir = os.path.join(server.directory, 'images')
    assert not [n for n in os.listdir(images_dir) if image_id in n]
    tail = _log_tail(server, log_size)
    assert 'Traceback' not in tail and ' 500 ' not in tail


def _log_size(server):
    with open(server.log_path, 'rb') as f:
        return f.seek(0, 2)


def _log_tail(server, offset):
    with open(server.log_path, 'rb') as f:
        f.seek(offset)
        return f.read().decode('utf-8', 'replace')

"""The access log filter: one line per request, written at the body's end."""

import logging
import os
import re

import pytest
import webob

from glance_import.api import access_log
from glance_import.api import middleware

LINE = re.compile(
    r'^(?P<client>\S+) "(?P<method>\S+) (?P<path>\S+) (?P<protocol>\S+)" '
    r'status: (?P<status>\S+) len: (?P<len>\d+) time: (?P<time>\d+\.\d{3}) '
    r'request_id: (?P<request_id>\S+)$')


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO, logger=access_log.LOG.name)

    def parsed():
        found = []
        for record in caplog.records:
            if record.name == access_log.LOG.name:
                assert record.levelno == logging.INFO
                assert record.exc_info is None
                match = LINE.match(record.getMessage())
                assert match, record.getMessage()
                found.append(match.groupdict())
        return found
    return parsed


def _streaming_app(chunks, status='200 OK'):
    def app(environ, start_response):
        start_response(status, [('Content-Type', 'text/plain')])
        yield from chunks
    return app


def test_plain_body(lines):
    body = webob.Response(b'x' * 1234, status=201)
    req = webob.Request.blank('/v2/images?limit=2&sort_key=name',
                              method='POST', remote_addr='10.0.0.5')
    req.environ[middleware.REQUEST_ID_ENV] = 'req-given'
    resp = req.get_response(access_log.AccessLog(body))
    assert (resp.status_int, len(resp.body)) == (201, 1234)
    [line] = lines()
    assert line['client'] == '10.0.0.5'
    assert (line['method'], line['path'], line['protocol']) == (
        'POST', '/v2/images?limit=2&sort_key=name', 'HTTP/1.0')
    assert (line['status'], line['len']) == ('201', '1234')
    assert line['request_id'] == 'req-given'
    assert float(line['time']) < 5


def test_request_id_of_the_request_id_filter(lines):
    app = middleware.RequestId(access_log.AccessLog(webob.Response(b'ok')))
    resp = webob.Request.blank('/versions').get_response(app)
    assert resp.body == b'ok'
    [line] = lines()
    assert line['request_id'] == resp.headers[middleware.REQUEST_ID_HEADER]
    assert line['request_id'].startswith('req-')


def test_streamed_body_is_logged_when_closed(lines):
    app = access_log.AccessLog(_streaming_app([b'a' * 10, b'', b'b' * 5]))
    req = webob.Request.blank('/v2/images/x/file')
    body = app(req.environ, lambda status, headers, exc_info=None: None)
    assert b''.join(body) == b'a' * 10 + b'b' * 5
    # Sent, but the server has not closed it yet.
    assert lines() == []
    body.close()
    [line] = lines()
    assert (line['status'], line['len']) == ('200', '15')


def test_client_disconnect_counts_what_went_out(lines):
    closed = []

    def chunks():
        try:
            yield from (b'a' * 100, b'b' * 100, b'c' * 100)
        finally:
            closed.append(True)
    app = access_log.AccessLog(_streaming_app(chunks()))
    req = webob.Request.blank('/v2/images/x/file')
    body = app(req.environ, lambda status, headers, exc_info=None: None)
    iterator = iter(body)
    next(iterator)
    next(iterator)
    # The server's write of the second chunk fails: it stops and closes.
    body.close()
    assert closed == [True]
    [line] = lines()
    assert line['len'] == '100'


def test_head_keeps_the_length_header_and_sends_nothing(lines):
    app = access_log.AccessLog(webob.Response(b'x' * 500))
    resp = webob.Request.blank('/v2/images/x/file',
                               method='HEAD').get_response(app)
    assert resp.content_length == 500
    assert resp.body == b''
    [line] = lines()
    assert (line['method'], line['status'], line['len']) == (
        'HEAD', '200', '0')


def test_write_callable_is_counted(lines):
    def app(environ, start_response):
        write = start_response('200 OK', [])
        write(b'12345')
        return [b'678']
    wrapped = access_log.AccessLog(app)
    written = []
    body = wrapped(webob.Request.blank('/').environ,
                   lambda status, headers, exc_info=None: written.append)
    assert b''.join(body) == b'678'
    body.close()
    assert written == [b'12345']
    [line] = lines()
    assert line['len'] == '8'


def test_server_file_wrapper_body_is_passed_through(lines, tmp_path):
    """A sendfile body stays the server's object; its size is measured."""
    data = b'z' * 5000
    path = tmp_path / 'image'
    path.write_bytes(data)

    class FileWrapper:
        def __init__(self, filelike, block_size=8192):
            self.filelike, self.block_size = filelike, block_size

        def close(self):
            self.filelike.close()

    def app(environ, start_response):
        f = open(path, 'rb')  # noqa: SIM115 - the server closes it
        f.seek(1000)
        start_response('206 Partial Content', [])
        return environ['wsgi.file_wrapper'](f, 4096)

    req = webob.Request.blank('/v2/images/x/file',
                              environ={'wsgi.file_wrapper': FileWrapper})
    body = access_log.AccessLog(app)(
        req.environ, lambda status, headers, exc_info=None: None)
    assert isinstance(body, FileWrapper)
    # What a server's sendfile does: send from the descriptor and leave
    # the position after the last byte sent.
    f = body.filelike
    assert (f.name, f.mode, f.tell()) == (str(path), 'rb', 1000)
    with open(f.fileno(), 'rb', closefd=False) as raw:
        raw.seek(1000)
        assert raw.read() == data[1000:]
    f.seek(5000)
    assert lines() == []
    body.close()
    assert f.closed
    [line] = lines()
    assert (line['status'], line['len']) == ('206', '4000')


@pytest.mark.parametrize('content_length,logged', [
    (None, 4000), ('4000', 4000), ('10', 10)])
def test_sendfile_that_leaves_the_position(lines, tmp_path, content_length,
                                           logged):
    """uwsgi sends from the descriptor at its position, not moving it."""
    path = tmp_path / 'image'
    path.write_bytes(b'z' * 5000)

    def app(environ, start_response):
        f = open(path, 'rb')  # noqa: SIM115 - the server closes it
        f.seek(1000)
        headers = [('Content-Length', content_length)] \
            if content_length else []
        start_response('200 OK', headers)
        return environ['wsgi.file_wrapper'](f)

    req = webob.Request.blank('/v2/images/x/file',
                              environ={'wsgi.file_wrapper': lambda f: f})
    body = access_log.AccessLog(app)(
        req.environ, lambda status, headers, exc_info=None: None)
    body.close()
    [line] = lines()
    assert line['len'] == str(logged)


class _IteratedFileWrapper:
    """A server's wrapper that reads the file (no sendfile)."""

    def __init__(self, filelike, block_size=8192):
        self.filelike, self.block_size = filelike, block_size

    def __iter__(self):
        return iter(lambda: self.filelike.read(self.block_size), b'')

    def close(self):
        self.filelike.close()


def _file_app(path):
    def app(environ, start_response):
        resp = webob.Response()
        f = open(path, 'rb')  # noqa: SIM115 - closed with the body
        resp.app_iter = environ['wsgi.file_wrapper'](f, 1000)
        resp.content_length = os.path.getsize(path)
        return resp(environ, start_response)
    return app


def test_file_wrapper_body_read_by_the_server(lines, tmp_path):
    path = tmp_path / 'image'
    path.write_bytes(b'q' * 3000)
    req = webob.Request.blank(
        '/v2/images/x/file', environ={'wsgi.file_wrapper':
                                      _IteratedFileWrapper})
    resp = req.get_response(access_log.AccessLog(_file_app(path)))
    assert resp.body == b'q' * 3000
    [line] = lines()
    assert line['len'] == '3000'


def test_file_wrapper_body_of_a_head_request(lines, tmp_path):
    path = tmp_path / 'image'
    path.write_bytes(b'q' * 3000)
    req = webob.Request.blank(
        '/v2/images/x/file', method='HEAD',
        environ={'wsgi.file_wrapper': _IteratedFileWrapper})
    resp = req.get_response(access_log.AccessLog(_file_app(path)))
    assert (resp.content_length, resp.body) == (3000, b'')
    [line] = lines()
    assert line['len'] == '0'


def test_application_error_is_logged_as_500_and_raised(lines):
    def app(environ, start_response):
        raise RuntimeError('boom')
    with pytest.raises(RuntimeError):
        webob.Request.blank('/v2/images').get_response(
            access_log.AccessLog(app))
    [line] = lines()
    assert (line['status'], line['len']) == ('500', '0')


def test_raw_request_uri_and_forwarded_client(lines):
    req = webob.Request.blank('/v2/images', remote_addr='10.0.0.1', headers={
        'X-Forwarded-For': '192.0.2.7, 10.0.0.9'})
    # As servers pass it: the target exactly as the client sent it.
    req.environ['REQUEST_URI'] = '/v2.1/images?name=a%20b'
    assert req.get_response(access_log.AccessLog(
        webob.Response(b''))).body == b''
    [line] = lines()
    assert line['path'] == '/v2.1/images?name=a%20b'
    assert line['client'] == '192.0.2.7,10.0.0.9,10.0.0.1'


def test_path_without_request_uri_is_quoted(lines):
    req = webob.Request.blank('/v2/images/a%20b', query_string='x=1')
    assert req.get_response(access_log.AccessLog(
        webob.Response(b''))).body == b''
    [line] = lines()
    assert line['path'] == '/v2/images/a%20b?x=1'

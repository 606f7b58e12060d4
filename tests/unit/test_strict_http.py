"""Strict request reading: head limits, one framing, strict chunks."""

import io
import types

import pytest

from glance_import import exception
from glance_import.cmd import strict_http


def read_head(data, max_size=1024, max_line=64):
    """The headers of *data* (after its request line), as cheroot reads."""
    lines = strict_http._HeadLines(io.BytesIO(data), max_size, max_line)
    assert lines.readline().startswith(b'GET ')
    return strict_http.HeaderReader()(lines, {})


def test_a_plain_head_is_read():
    assert read_head(b'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n'
                     b'X-Name: j\xc3\xa9\r\n\r\n') == {
        b'Host': b'x', b'Content-Length': b'3', b'X-Name': b'j\xc3\xa9'}


def test_a_line_at_the_limit_is_read_one_over_is_not():
    value = b'v' * (64 - len(b'X-A: '))
    assert read_head(b'GET / HTTP/1.1\r\nX-A: %s\r\n\r\n' % value)
    with pytest.raises(strict_http.HeadTooLarge, match='longer than 64'):
        read_head(b'GET / HTTP/1.1\r\nX-A: %sv\r\n\r\n' % value)


def test_the_total_counts_the_request_line():
    lines = [b'X-%d: %s' % (i, b'v' * 50) for i in range(20)]
    data = b'GET / HTTP/1.1\r\n' + b'\r\n'.join(lines) + b'\r\n\r\n'
    with pytest.raises(strict_http.HeadTooLarge, match='larger than 1024'):
        read_head(data)
    head = strict_http._HeadLines(io.BytesIO(b'GET /%s HTTP/1.1\r\n'
                                             % (b'p' * 2000)), 1024, 64)
    with pytest.raises(strict_http.HeadTooLarge):
        head.readline()


@pytest.mark.parametrize('headers, message', [
    (b'Content-Length: -1', 'non-negative'),
    (b'Content-Length: 1e3', 'non-negative'),
    (b'Content-Length: ', 'non-negative'),
    (b'Content-Length: 1\r\nContent-Length: 2', 'Conflicting'),
    (b'Content-Length: 1, 2', 'Conflicting'),
    (b'Content-Length: 1\r\nTransfer-Encoding: chunked', 'both'),
    (b'Transfer-Encoding: gzip\r\nContent-Length: 1', 'both'),
    (b'Host : x', 'header name'),
    (b'Host: x\r\n  folded', 'Folded'),
    (b'X-A: \x00', 'control'),
    (b'X-A: a\x1bb', 'control'),
    (b'X-A: \xc3', 'UTF-8'),
])
def test_bad_heads_are_refused(headers, message):
    with pytest.raises(strict_http.BadHead, match=message):
        read_head(b'GET / HTTP/1.1\r\n%s\r\n\r\n' % headers)


def test_repeated_equal_content_lengths_are_one():
    assert read_head(b'GET / HTTP/1.1\r\nContent-Length: 5\r\n'
                     b'Content-Length: 5, 5\r\n\r\n')[b'Content-Length'] \
        == b'5'


@pytest.mark.parametrize('line', [b'GET /\x00 HTTP/1.1',
                                  b'GET /\xe9 HTTP/1.1'])
def test_bad_request_lines_are_refused(line):
    head = strict_http._HeadLines(io.BytesIO(line + b'\r\n'), 1024, 64)
    with pytest.raises(strict_http.BadHead):
        head.readline()


def chunked(data):
    req = types.SimpleNamespace(close_connection=False)
    return req, strict_http.ChunkedBody(req, io.BytesIO(data))


def test_chunks_extensions_and_trailers():
    req, body = chunked(b'3;name=v\r\nabc\r\nA \r\n0123456789\r\n0\r\n'
                        b'X-Sum: 1\r\n\r\nGET /next')
    assert body.read() == b'abc0123456789'
    assert body.rfile.read() == b'GET /next'
    assert not req.close_connection


@pytest.mark.parametrize('data', [
    b'-3\r\nabc\r\n0\r\n\r\n', b'0x3\r\nabc\r\n0\r\n\r\n',
    b'+3\r\nabc\r\n0\r\n\r\n', b'\r\n', b'3\r\nabcd\r\n0\r\n\r\n',
    b'3\nabc\r\n0\r\n\r\n', b'1' * 5000 + b'\r\n',
    b'1' * 17 + b'\r\n',
])
def test_bad_chunks_are_a_400_that_closes_the_connection(data):
    req, body = chunked(data)
    with pytest.raises(exception.BadRequest):
        body.read()
    assert req.close_connection


@pytest.mark.parametrize('data', [b'', b'5\r\nab', b'5\r\nabcde\r\n'])
def test_a_short_chunked_body_is_a_disconnect(data):
    _, body = chunked(data)
    with pytest.raises(ConnectionAbortedError):
        body.read()

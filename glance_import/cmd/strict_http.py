"""Strict reading of HTTP requests for cheroot: bounded heads, one framing.

cheroot reads a request head of any size, takes ``Content-Length: -1``
for a body it then waits for, and gives a body both a Content-Length and
chunked framing. A front proxy and this server could then disagree on
where a request ends (request smuggling), and one client could make a
thread read headers without end. Here the head is bounded (per line and
in total), a request may have one framing only, chunk sizes are hex
digits, and every refusal is answered with a JSON error, as the API
answers, before the connection is closed.
"""

import re
import socket
import time

import webob
import webob.exc
from cheroot import errors
from cheroot import server

from glance_import import exception

CRLF = b'\r\n'
# RFC 9110 field names are tokens: no spaces, no colon, no controls.
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Controls other than horizontal tab are refused anywhere in the head.
_CONTROL = re.compile(rb'[\x00-\x08\x0a-\x1f\x7f]')
_DIGITS = re.compile(rb'^[0-9]+$')
_HEX = re.compile(rb'^[0-9A-Fa-f]{1,16}$')
# A chunk-size line with its extensions, and a trailer line.
MAX_CHUNK_LINE = 4096
MAX_TRAILERS = 64
# How long a refused client may keep sending before the close; reading
# what it sends meanwhile lets it receive the answer instead of a reset.
LINGER_SECONDS = 2.0


class BadHead(ValueError):
    """A request line or header that no valid request has (400)."""


class HeadTooLarge(errors.MaxSizeExceeded):
    """A request head over one of the limits (414 or 431)."""


class BadChunk(exception.BadRequest):
    """Chunked framing that is not RFC 9112's; the body is unusable."""


class _HeadLines:
    """The request head's lines, checked as cheroot reads them.

    The first line is the request line, bounded by the head's total only;
    header lines are also bounded by *max_line*. The Content-Length and
    Transfer-Encoding values are kept for the framing check.
    """

    def __init__(self, rfile, max_size, max_line):
        self.rfile = rfile
        self.max_size = max_size
        self.left = max_size
        self.max_line = max_line
        self.request_line_read = False
        self.content_lengths = []
        self.transfer_encodings = []

    def readline(self, size=None):
        room = self.left
        if self.request_line_read:
            room = min(room, self.max_line + len(CRLF))
        line = self.rfile.readline(room + 1)
        self.left -= len(line)
        if self.left < 0:
            raise HeadTooLarge('The request head is larger than %d bytes.'
                               % self.max_size)
        if len(line) > room:
            raise HeadTooLarge('A header line is longer than %d bytes.'
                               % self.max_line)
        if line == CRLF or not line.endswith(CRLF):
            # The end of the head, or what cheroot refuses itself.
            return line
        text = line[:-len(CRLF)]
        if _CONTROL.search(text):
            raise BadHead('The request head contains control characters.')
        if not self.request_line_read:
            self.request_line_read = True
            if not text.isascii():
                raise BadHead('The request line must be ASCII; encode the '
                              'URL with percent escapes.')
            return line
        self._check_field(text)
        return line

    def _check_field(self, text):
        if text[:1] in (b' ', b'\t'):
            raise BadHead('Folded header lines are not accepted.')
        name, sep, value = text.partition(b':')
        if not sep or not _TOKEN.match(name):
            raise BadHead('Invalid header name %r.'
                          % name.decode('latin-1')[:64])
        try:
            value.decode('utf-8')
        except UnicodeDecodeError:
            raise BadHead('The value of header %s is not valid UTF-8.'
                          % name.decode('ascii'))
        lowered = name.lower()
        if lowered == b'content-length':
            self.content_lengths.extend(
                v.strip(b' \t') for v in value.split(b','))
        elif lowered == b'transfer-encoding':
            self.transfer_encodings.append(value.strip(b' \t'))


class HeaderReader(server.HeaderReader):
    """cheroot's header parsing, then RFC 9112's one-framing rule."""

    def __call__(self, rfile, hdict=None):
        hdict = super().__call__(rfile, hdict)
        lengths = set(rfile.content_lengths)
        if not all(_DIGITS.match(v) for v in lengths):
            raise BadHead('Content-Length must be a non-negative integer.')
        if len(lengths) > 1:
            raise BadHead('Conflicting Content-Length headers.')
        if lengths and rfile.transfer_encodings:
            raise BadHead('A request may not have both Content-Length and '
                          'Transfer-Encoding.')
        if lengths:
            # The one value, once, whatever repeats or lists said.
            hdict[b'Content-Length'] = lengths.pop()
        return hdict


class Request(server.HTTPRequest):
    """cheroot's request with the bounded head and JSON refusals."""

    header_reader = HeaderReader()
    _refused = False

    def parse_request(self):
        head = _HeadLines(self.conn.rfile, self.server.max_request_header_size,
                          self.server.max_header_line)
        self.rfile = head
        try:
            if not self.read_request_line():
                return self._linger()
        except HeadTooLarge as e:
            self.simple_response('414 Request-URI Too Long', str(e))
            return self._linger()
        try:
            if not self.read_request_headers():
                return self._linger()
        except HeadTooLarge as e:
            self.simple_response('431 Request Header Fields Too Large',
                                 str(e))
            return self._linger()
        self.ready = True

    def read_request_line(self):
        try:
            return super().read_request_line()
        except BadHead as e:
            # Header lines' BadHead is answered by cheroot as a 400.
            self.simple_response('400 Bad Request', str(e))
            return False

    def read_request_headers(self):
        if not super().read_request_headers():
            return False
        if (self.response_protocol == 'HTTP/1.0'
                and b'Transfer-Encoding' in self.inheaders):
            # cheroot ignores it there and would read the body as the
            # next request; RFC 9112 calls such framing faulty.
            self.simple_response('400 Bad Request',
                                 'Transfer-Encoding needs HTTP/1.1.')
            return False
        return True

    def simple_response(self, status, msg=''):
        """The answer to a request the application never saw, as JSON."""
        self._refused = True
        self.close_connection = True
        code = int(str(status)[:3])
        if isinstance(msg, bytes):
            msg = msg.decode('latin-1')
        error = webob.exc.status_map.get(
            code, webob.exc.HTTPInternalServerError)(explanation=msg)
        resp = webob.Request.blank(
            '/', headers={'Accept': 'application/json'}).get_response(error)
        head = ['%s %s' % (self.server.protocol, resp.status)]
        head += ['%s: %s' % kv for kv in resp.headerlist]
        head.append('Connection: close')
        data = ('\r\n'.join(head) + '\r\n\r\n').encode('latin-1') + resp.body
        try:
            self.conn.wfile.write(data)
        except OSError as e:
            if e.args[0] not in errors.socket_errors_to_ignore:
                raise

    def _linger(self):
        """After a refusal, read what the client still sends, for a while.

        Closing with unread data makes the kernel send a reset, and the
        client may lose our answer with it.
        """
        if not self._refused:
            return
        sock = self.conn.socket
        deadline = time.monotonic() + LINGER_SECONDS
        try:
            self.conn.wfile.flush()
            sock.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except OSError:
            pass


class Connection(server.HTTPConnection):
    RequestHandlerClass = Request

    def close(self):
        try:
            super().close()
        finally:
            # The connection gate counts open connections and requests in
            # flight (cmd/connection_gate).
            released = getattr(self.server._connections, 'released', None)
            if released is not None:
                released(self)


class ChunkedBody(server.ChunkedRFile):
    """A chunked request body read as RFC 9112 frames it.

    cheroot reads a size line of any length and takes ``-5`` or ``0x10``
    for sizes; a size of hex digits is required here, and a refusal
    closes the connection, whose framing is then lost.
    """

    def __init__(self, req, rfile):
        super().__init__(rfile, maxlen=0)
        self.req = req

    def _line(self):
        line = self.rfile.readline(MAX_CHUNK_LINE + 1)
        if not line:
            raise ConnectionAbortedError(
                'The client disconnected in the middle of a chunked body.')
        if len(line) > MAX_CHUNK_LINE or not line.endswith(CRLF):
            self._refuse('A chunk line is not terminated by CRLF within '
                         '%d bytes.' % MAX_CHUNK_LINE)
        return line[:-len(CRLF)]

    def _refuse(self, msg):
        self.req.close_connection = True
        self.closed = True
        raise BadChunk(msg)

    def _fetch(self):
        if self.closed:
            return
        size = self._line().split(b';', 1)[0].rstrip(b' \t')
        if not _HEX.match(size):
            self._refuse('Invalid chunk size %r.' % size[:32].decode(
                'latin-1'))
        size = int(size, 16)
        if size == 0:
            self._read_trailers()
            return
        chunk = self.rfile.read(size)
        if len(chunk) < size:
            raise ConnectionAbortedError(
                'The client disconnected in the middle of a chunk.')
        if self.rfile.read(2) != CRLF:
            self._refuse('A chunk is longer than its size.')
        self.bytes_read += size
        self.buffer += chunk

    def _read_trailers(self):
        """Skip the trailer fields, so a next request starts clean."""
        for _ in range(MAX_TRAILERS):
            if not self._line():
                self.closed = True
                return
        self._refuse('More than %d trailer fields.' % MAX_TRAILERS)

"""Access log: one INFO line per request on ``glance_import.access``.

The line carries what Glance's eventlet server logs for every request
(client, request line, status, bytes sent, seconds taken) plus the
request id::

    10.0.0.5 "GET /v2/images?limit=2 HTTP/1.1" status: 200 len: 1843
    time: 0.012 request_id: req-6a0c...

It is written when the server closes the response body, so streamed
downloads are measured to their end (or to the client's disconnect).
Bytes are counted as the server takes them: a chunk counts once the
server comes back for the next one, so a chunk whose write failed does
not. Bodies the server sends itself from a ``wsgi.file_wrapper``
(sendfile) are kept as they are, so the server still recognises them;
their size is how far the file position moved while sending. A server
that sends from the descriptor without moving the position (uwsgi) is
taken to have sent what it was given: the file from where it stood, up
to the response's Content-Length.

The filter sits just inside the request id filter so the id is known.
"""

import logging
import os
import time
from urllib import parse

from glance_import.api import middleware

LOG = logging.getLogger('glance_import.access')

_PATH_SAFE = "/:@&+$,;=!~*'()"


class AccessLog:
    """Paste filter logging each request once its response is done."""

    def __init__(self, application):
        self.application = application

    @classmethod
    def factory(cls, global_conf, **local_conf):
        return cls

    def __call__(self, environ, start_response):
        entry = _Entry(environ)
        real_file_wrapper = environ.get('wsgi.file_wrapper')
        if real_file_wrapper is not None:
            environ['wsgi.file_wrapper'] = entry.file_wrapper(
                real_file_wrapper)

        def start_counted(status, headers, exc_info=None):
            entry.status = status
            entry.content_length = _content_length(headers)
            write = start_response(status, headers, exc_info)

            def write_counted(data):
                write(data)
                entry.sent += len(data)
            return write_counted

        try:
            result = self.application(environ, start_counted)
        except BaseException:
            # The server answers 500 (and logs why).
            entry.status = entry.status or '500'
            entry.finish()
            raise
        if result is not None and result is entry.file_body:
            entry.sent_by_file = True
            return result
        return _CountedBody(result, entry)


class _Entry:
    """What the line of one request says, gathered as it is served."""

    def __init__(self, environ):
        self.started = time.monotonic()
        self.environ = environ
        # Read now: inner layers rewrite PATH_INFO and SCRIPT_NAME.
        self.client = _client(environ)
        self.request_line = '%s %s %s' % (
            environ.get('REQUEST_METHOD', '-'), _path(environ),
            environ.get('SERVER_PROTOCOL', '-'))
        self.status = None
        self.content_length = None
        self.sent = 0
        self.file_body = None
        self.sent_by_file = False
        self._done = False

    def file_wrapper(self, real):
        def wrap(filelike, *args, **kwargs):
            self.file_body = real(_MeasuredFile(filelike, self), *args,
                                  **kwargs)
            return self.file_body
        return wrap

    def finish(self):
        if self._done:
            return
        self._done = True
        status = (self.status or '-').split(' ', 1)[0]
        # Read at the end: a forwarded request takes the remote node's id.
        request_id = self.environ.get(middleware.REQUEST_ID_ENV) or '-'
        LOG.info('%s "%s" status: %s len: %d time: %.3f request_id: %s',
                 self.client, self.request_line, status, self.sent,
                 time.monotonic() - self.started, request_id)


class _CountedBody:
    """The application's body, counted as the server takes it."""

    def __init__(self, body, entry):
        self._body = body
        self._entry = entry
        self._iterator = None
        self._pending = 0

    def __iter__(self):
        self._iterator = iter(self._body)
        return self

    def __next__(self):
        # The server is back for more: the previous chunk went out.
        self._entry.sent += self._pending
        self._pending = 0
        chunk = next(self._iterator)
        self._pending = len(chunk)
        return chunk

    def close(self):
        try:
            close = getattr(self._body, 'close', None)
            if close is not None:
                close()
        finally:
            self._entry.finish()


class _MeasuredFile:
    """A file given to the server's file wrapper, noting how far it got.

    Everything but close goes to the real file, so the server can still
    sendfile(2) from its descriptor. The servers leave the position after
    the last byte sent (socket.sendfile does even on errors).
    """

    def __init__(self, filelike, entry):
        self._file = filelike
        self._entry = entry
        self._start = _position(filelike)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __iter__(self):
        return iter(self._file)

    def close(self):
        sent = self._sent() if self._entry.sent_by_file else 0
        try:
            close = getattr(self._file, 'close', None)
            if close is not None:
                close()
        finally:
            if self._entry.sent_by_file:
                self._entry.sent += sent
                self._entry.finish()

    def _sent(self):
        end = _position(self._file)
        if self._start is None or end is None:
            return 0
        if end != self._start:
            return max(end - self._start, 0)
        limits = [self._entry.content_length]
        try:
            limits.append(os.fstat(self._file.fileno()).st_size
                          - self._start)
        except (AttributeError, OSError, ValueError):
            pass
        limits = [limit for limit in limits if limit is not None]
        return max(min(limits), 0) if limits else 0


def _position(f):
    try:
        return f.tell()
    except (AttributeError, OSError, ValueError):
        return None


def _content_length(headers):
    for name, value in headers:
        if name.lower() == 'content-length':
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _client(environ):
    client = environ.get('REMOTE_ADDR') or '-'
    # As eventlet logs it: the proxies' client list, then the peer.
    forwarded = environ.get('HTTP_X_FORWARDED_FOR', '').replace(' ', '')
    return '%s,%s' % (forwarded, client) if forwarded else client


def _path(environ):
    """The request target as received, query string included."""
    uri = environ.get('REQUEST_URI') or environ.get('RAW_URI')
    if uri:
        return uri
    path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
    # WSGI strings carry the raw bytes as latin-1.
    path = parse.quote(path.encode('latin-1', 'replace'), safe=_PATH_SAFE)
    query = environ.get('QUERY_STRING')
    return '%s?%s' % (path, query) if query else path

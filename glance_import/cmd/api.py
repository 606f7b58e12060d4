"""``glance-import-api``: serve the API with a threaded WSGI server.

cheroot streams request bodies to the handlers as they arrive (sized or
chunked), so uploads are never buffered in memory or temporary files.
With ``[DEFAULT] workers = N`` the parent binds the listening socket and
forks N children that all accept from it, so every core serves requests;
the parent only restarts children that die and forwards SIGTERM.
"""

import logging as std_logging
import os
import resource
import signal
import socket
import sys
import threading
import time

from cheroot import wsgi
from oslo_config import cfg
from oslo_log import log as logging

from glance_import import exception
from glance_import import startup
from glance_import.api import app
from glance_import.api import image_data
from glance_import.cmd import common
from glance_import.cmd import connection_gate
from glance_import.cmd import file_sender
from glance_import.cmd import strict_http
from glance_import.db import engine as db_engine

LOG = logging.getLogger(__name__)
PROG = 'glance-import-api'
# A child that dies sooner than this after its start is restarted only
# after a pause, so a crash loop does not spin the CPU.
MIN_CHILD_LIFETIME = 1.0
BACKLOG = 128


class FileWrapper:
    """``wsgi.file_wrapper``: a file body the gateway may sendfile(2).

    Iterating it reads the file in *block_size* pieces, for servers or
    middleware that do not know it.
    """

    def __init__(self, filelike, block_size=1024 * 1024):
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self):
        return iter(lambda: self.filelike.read(self.block_size), b'')

    def close(self):
        self.filelike.close()


class Gateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway, sending file bodies with sendfile(2).

    Image data then goes from the page cache to the socket without
    passing through Python, as under uwsgi or mod_wsgi.
    """

    def get_environ(self):
        env = super().get_environ()
        env['wsgi.file_wrapper'] = FileWrapper
        env[image_data.SENDFILE_COUNTED] = True
        if self.req.chunked_read:
            self.req.rfile = env['wsgi.input'] = strict_http.ChunkedBody(
                self.req, self.req.conn.rfile)
        return env

    def respond(self):
        bodies = self.req.server.bodies
        if bodies is not None and (self.req.chunked_read or int(
                self.env.get('CONTENT_LENGTH') or 0)):
            bodies.start(self.req.conn)
            try:
                self._respond()
            finally:
                bodies.stop(self.req.conn)
        else:
            self._respond()

    def _respond(self):
        response = self.req.server.wsgi_app(self.env, self.start_response)
        try:
            if isinstance(response, FileWrapper) and self._sendfile(
                    response.filelike):
                return
            # What cheroot does with any other body.
            for chunk in filter(None, response):
                if not isinstance(chunk, bytes):
                    raise ValueError('WSGI Applications must yield bytes')
                self.write(chunk)
        finally:
            self.req.ensure_headers_sent()
            if hasattr(response, 'close'):
                response.close()

    def _sendfile(self, f):
        """Send *f* from its position; False when it must be iterated."""
        count = self.remaining_bytes_out
        sock = self.req.conn.socket
        if (count is None or self.req.chunked_write
                or self.req.method == b'HEAD'
                or type(sock) is not socket.socket):
            return False
        self.req.ensure_headers_sent()
        self.req.conn.wfile.flush()
        sent = file_sender.send_file(sock, f, f.tell(), count) if count else 0
        self.remaining_bytes_out -= sent
        if sent != count:
            # The file shrank under us: the client must not take a short
            # body for the whole image, so the connection is dropped.
            raise OSError('%d of %d bytes of %s sent'
                          % (sent, count, getattr(f, 'name', 'a file')))
        return True


class Server(wsgi.Server):
    """cheroot's server, accepting from a socket bound beforehand.

    Requests are read strictly (strict_http): bounded heads, one framing;
    connections reach a request thread only with a whole head
    (connection_gate).
    """

    ConnectionClass = strict_http.Connection
    max_header_line = 16384
    max_request_header_size = 65536

    def __init__(self, listen_socket, *args, gate_limits=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.listen_socket = listen_socket
        self.gateway = Gateway
        self.gate_limits = gate_limits
        self.bodies = None

    def prepare(self):
        super().prepare()
        if self.gate_limits is not None:
            # cheroot's manager only registered the listening socket.
            self._connections.close()
            self._connections = connection_gate.GatedConnectionManager(
                self, self.gate_limits, self.bodies)

    def bind(self, family, type, proto=0):
        self.socket = self.listen_socket
        self.bind_addr = self.resolve_real_bind_addr(self.socket)
        return self.socket


def listen(conf) -> socket.socket:
    """The listening socket on bind_host:bind_port (IPv4 or IPv6)."""
    family = socket.AF_INET6 if ':' in conf.bind_host else socket.AF_INET
    sock = socket.create_server((conf.bind_host, conf.bind_port),
                                family=family, backlog=BACKLOG)
    # Accepted connections inherit this. Without it a kept-alive client
    # waits for a delayed ACK (~40 ms) between a response's header and
    # body writes.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def make_server(conf, application, listen_socket):
    server = Server(listen_socket, listen_socket.getsockname()[:2],
                    application, numthreads=conf.server_threads,
                    max=max(conf.max_server_threads, conf.server_threads),
                    request_queue_size=BACKLOG,
                    server_name='glance-import-api',
                    gate_limits=connection_gate.Limits.from_conf(conf))
    # Large uploads may pause between chunks; idle keep-alive
    # connections are closed after this many seconds.
    server.timeout = conf.client_socket_timeout
    server.bodies = connection_gate.BodyWatch(conf.request_body_timeout,
                                              conf.request_min_rate)
    server.max_header_line = conf.max_header_line
    server.max_request_header_size = conf.max_request_header_size
    return server


def _serve(conf, application, listen_socket, *, shared=False):
    """Serve until SIGTERM/SIGINT, then finish in-flight requests."""
    server = make_server(conf, application, listen_socket)
    server.prepare()
    if shared:
        # Several processes wait on this socket; the losers of an accept
        # race must get EAGAIN at once rather than block in accept().
        server.socket.setblocking(False)
    stopper = []

    def _stop(signum, frame):
        if not stopper:
            LOG.info('Signal %d received, stopping', signum)
            # stop() joins worker threads; not from inside the handler.
            stopper.append(threading.Thread(target=server.stop))
            stopper[0].start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve()
    finally:
        for thread in stopper:
            thread.join()
        server.stop()
        from glance_import.importer import executor
        executor.shutdown()


def _run_child(conf, application, listen_socket, recover):
    """Body of a forked worker: the parent's app, its own connections."""
    try:
        app.init_worker(conf, recover=recover)
        _serve(conf, application, listen_socket, shared=True)
    except Exception:
        LOG.exception('Worker %d failed', os.getpid())
        return 1
    return 0


class Parent:
    """Keeps ``workers`` children alive until told to stop.

    Worker 0 (and whichever replaces it) scans for abandoned imports: one
    scanner per node is enough, and it costs each process memory.
    """

    def __init__(self, conf, application, listen_socket):
        self.conf = conf
        self.application = application
        self.socket = listen_socket
        self.children = {}
        self.stopping = False

    def spawn(self, index):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            status = 1
            try:
                status = _run_child(self.conf, self.application,
                                    self.socket, recover=index == 0)
            finally:
                logging_flush()
                os._exit(status)
        self.children[pid] = (index, time.monotonic())
        LOG.info('Started worker %d', pid)

    def stop(self, signum, frame):
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self):
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        for index in range(self.conf.workers):
            self.spawn(index)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            child = self.children.pop(pid, None)
            if child is None or self.stopping:
                continue
            index, started = child
            LOG.error('Worker %d exited with status %d; restarting',
                      pid, os.waitstatus_to_exitcode(status))
            if time.monotonic() - started < MIN_CHILD_LIFETIME:
                time.sleep(MIN_CHILD_LIFETIME)
            if not self.stopping:
                self.spawn(index)
        return 0


def logging_flush():
    for handler in std_logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:
            pass


def _raise_open_files_limit(conf):
    """Take the hard limit of open files: every client connection is
    one, and the usual soft limit (1024) is below max_client_connections.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    wanted = conf.max_client_connections
    if soft != resource.RLIM_INFINITY and wanted + 256 > soft:
        LOG.warning('Open files limit %d is below max_client_connections '
                    '(%d per process): connections past it are refused '
                    'by the kernel', soft, conf.max_client_connections)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = startup.load_config(argv, PROG)
        app.init_service(conf, auto_migrate=True, recover=not conf.workers)
        application = app.load_app(conf)
        listen_socket = listen(conf)
    except (exception.GlanceImportError, cfg.Error, OSError) as e:
        return startup.fail(PROG, e)
    _raise_open_files_limit(conf)
    host, port = listen_socket.getsockname()[:2]
    LOG.info('Serving on http://%s:%d with %s', host, port,
             '%d worker processes' % conf.workers if conf.workers
             else 'one process')
    if not conf.workers:
        _serve(conf, application, listen_socket)
        return 0
    # Children inherit the loaded application (its pages stay shared)
    # and open their own database connections.
    db_engine.dispose()
    common.freeze_for_fork()
    return Parent(conf, application, listen_socket).run()


if __name__ == '__main__':
    sys.exit(main())

"""Connections wait in the selector until they bring a whole request head.

cheroot hands every new connection to a request thread at once, and that
thread then waits for the request head: a client sending a header line
now and then holds a thread for as long as the socket timeout. Here new
and kept-alive connections stay in cheroot's selector, watched by its one
thread, until the kernel holds a complete head (seen with MSG_PEEK, so
nothing is consumed); only then does a request thread take them, and it
reads the head without waiting. A head must arrive within
``request_header_timeout`` seconds, extended by one second per
``request_min_rate`` bytes received up to ``request_header_max_timeout``
(Apache's ``RequestReadTimeout header=20-40,MinRate=500``); late clients
get a 408 and are closed.

Bodies are read by request threads, as the application streams them.
The pool grows with the requests in flight (up to
``max_server_threads``), so slow uploads do not take the threads others
need, and a body must keep up ``request_min_rate`` after its first
``request_body_timeout`` seconds (``BodyWatch``).

Connections are counted overall and per client address; past
``max_client_connections`` or ``max_client_connections_per_address`` a
new connection gets a 503 and is closed.
"""

import collections
import dataclasses
import logging
import selectors
import socket
import ssl
import struct
import threading
import time

from cheroot import connections

LOG = logging.getLogger(__name__)

# How long a connection with part of a head rests before it is looked at
# again: its unread bytes keep it readable, so it leaves the selector.
PARK_SECONDS = 0.05
# Extra threads above the busy count, so that a request arriving while
# the pool grows does not queue.
SPARE_THREADS = 2

# struct tcp_info (linux/tcp.h): the u64 tcpi_bytes_received.
_BYTES_RECEIVED = struct.Struct('=Q')
_BYTES_RECEIVED_OFFSET = 128
_TCP_INFO_SIZE = 256

_REFUSAL = ('HTTP/1.1 %s\r\nContent-Type: application/json\r\n'
            'Content-Length: %d\r\nConnection: close\r\n\r\n%s')


def _refusal(status, message):
    code = int(status.split()[0])
    body = ('{"message": "%s", "code": "%s", "title": "%s"}'
            % (message, status, status.split(' ', 1)[1]))
    return (_REFUSAL % (status, len(body), body)).encode('ascii'), code


TIMED_OUT = _refusal('408 Request Timeout',
                     'The request head did not arrive in time.')
TOO_MANY = _refusal('503 Service Unavailable',
                    'Too many connections; try again later.')


@dataclasses.dataclass(frozen=True)
class Limits:
    """The gate's settings, from the configuration."""

    max_head: int
    header_timeout: float
    header_max_timeout: float
    min_rate: float
    max_connections: int
    max_per_address: int

    @classmethod
    def from_conf(cls, conf):
        return cls(max_head=conf.max_request_header_size,
                   header_timeout=conf.request_header_timeout,
                   header_max_timeout=max(conf.request_header_max_timeout,
                                          conf.request_header_timeout),
                   min_rate=conf.request_min_rate,
                   max_connections=conf.max_client_connections,
                   max_per_address=conf.max_client_connections_per_address)

    def head_deadline(self, started, received):
        """When a head begun at *started*, *received* bytes so far, is
        late."""
        grace = self.header_timeout
        if self.min_rate > 0:
            grace += received / self.min_rate
        return started + min(grace, self.header_max_timeout)


@dataclasses.dataclass
class _Waiting:
    # When the head began: at accept for a new connection, at its first
    # byte for a kept-alive one (None until then).
    started: float | None
    received: int = 0
    parked_until: float = 0.0


def _send_quietly(sock, data):
    try:
        sock.setblocking(False)
        sock.send(data)
    except OSError:
        pass


def complete_head(data, max_head):
    """Whether *data* (the start of a connection's unread bytes) holds a
    whole request head, or enough for a request thread to refuse it."""
    return (b'\r\n\r\n' in data or b'\n\n' in data
            or len(data) >= max_head)


class GatedConnectionManager(connections.ConnectionManager):
    """cheroot's ConnectionManager, handing over only complete heads."""

    def __init__(self, server, limits, bodies=None):
        super().__init__(server)
        self.limits = limits
        self.bodies = bodies
        self._waiting = {}
        self._parked = []
        self._open = collections.Counter()
        self._open_total = 0
        self._busy = 0
        self._count_lock = threading.Lock()

    # Counting connections and requests in flight --------------------------

    def _address(self, conn):
        remote = getattr(conn, 'remote_addr', None)
        return remote or ''

    def _admit(self, conn):
        address = self._address(conn)
        limits = self.limits
        with self._count_lock:
            over = (0 < limits.max_connections <= self._open_total
                    or 0 < limits.max_per_address <= self._open[address])
            if not over:
                self._open[address] += 1
                self._open_total += 1
                conn.gate_counted = True
        if over:
            LOG.warning('Refusing a connection from %s: %d open (%d from '
                        'that address)', address or 'a local socket',
                        self._open_total, self._open[address])
            _send_quietly(conn.socket, TOO_MANY[0])
            conn.close()
            return False
        return True

    def released(self, conn):
        """Called when *conn* closes, wherever that happens."""
        self._request_done(conn)
        if not getattr(conn, 'gate_counted', False):
            return
        conn.gate_counted = False
        address = self._address(conn)
        with self._count_lock:
            self._open_total -= 1
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def _request_done(self, conn):
        with self._count_lock:
            if getattr(conn, 'gate_busy', False):
                conn.gate_busy = False
                self._busy -= 1

    @property
    def can_add_keepalive_connection(self):
        # Admission already bounds connections; idle ones cost no thread.
        return True

    @property
    def open_connections(self):
        return self._open_total

    # Watching heads ---------------------------------------------------------

    def put(self, conn):
        """A request thread is done with *conn*: watch it for the next.

        Runs on that thread: the waiting heads belong to the selector
        thread, which times this connection's next head from its first
        byte.
        """
        self._request_done(conn)
        conn.last_used = time.time()
        if conn.rfile.has_data():
            # A pipelined request, already read: straight back to work.
            self._start_request(conn)
            self.server.process_conn(conn)
            return
        try:
            self._selector.register(conn.socket.fileno(),
                                    selectors.EVENT_READ, data=conn)
        except (OSError, ValueError, KeyError):
            conn.close()

    def _watch(self, conn):
        try:
            self._selector.register(conn.socket.fileno(),
                                    selectors.EVENT_READ, data=conn)
        except (OSError, ValueError, KeyError):
            self._forget(conn)
            conn.close()

    def _forget(self, conn):
        self._waiting.pop(conn, None)

    def _start_request(self, conn):
        with self._count_lock:
            self._busy += 1
            conn.gate_busy = True
            return self._busy

    def _dispatch(self, conn):
        """Hand *conn* to a request thread (on the selector thread)."""
        self._forget(conn)
        self._grow_for(self._start_request(conn))
        self.server.process_conn(conn)

    def _grow_for(self, busy):
        pool = self.server.requests
        have = len(pool._threads)
        want = busy + SPARE_THREADS
        if have < want and have < pool.max:
            # grow() waits for the new threads to start: a few ms.
            pool.grow(want - have)

    def _readable(self, conn, now):
        if isinstance(conn.socket, ssl.SSLSocket) or conn.rfile.has_data():
            # Encrypted bytes cannot be peeked at; buffered ones are ours.
            self._dispatch(conn)
            return
        try:
            data = conn.socket.recv(self.limits.max_head,
                                    socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            self._watch(conn)
            return
        except OSError:
            self._forget(conn)
            conn.close()
            return
        if not data:
            # The client closed without a request: nothing to answer.
            self._forget(conn)
            conn.close()
            return
        if complete_head(data, self.limits.max_head):
            self._dispatch(conn)
            return
        waiting = self._waiting.setdefault(conn, _Waiting(started=now))
        if waiting.started is None:
            waiting.started = now
        waiting.received = len(data)
        waiting.parked_until = now + PARK_SECONDS
        self._parked.append(conn)

    def _unpark(self, now):
        still = []
        for conn in self._parked:
            waiting = self._waiting.get(conn)
            if waiting is None:
                continue
            if waiting.parked_until <= now:
                self._watch(conn)
            else:
                still.append(conn)
        self._parked = still

    def _expire_heads(self, now):
        late = [conn for conn, waiting in self._waiting.items()
                if waiting.started is not None
                and now > self.limits.head_deadline(waiting.started,
                                                    waiting.received)]
        for conn in late:
            LOG.info('Closing a connection from %s: no whole request head '
                     'after %.0f s', self._address(conn) or 'a local socket',
                     now - self._waiting[conn].started)
            self._forget(conn)
            try:
                self._selector.unregister(conn.socket.fileno())
            except (KeyError, ValueError, OSError):
                pass
            if conn in self._parked:
                self._parked.remove(conn)
            _send_quietly(conn.socket, TIMED_OUT[0])
            conn.close()

    def _expire(self, threshold):
        # Idle kept-alive connections (no byte of a next request yet).
        idle = [(fd, conn) for fd, conn in self._selector.connections
                if conn is not self.server and conn.last_used < threshold
                and self._waiting.get(conn, _Waiting(None)).started is None]
        for fd, conn in idle:
            self._selector.unregister(fd)
            self._forget(conn)
            conn.close()
        self._shrink_pool()

    def _shrink_pool(self):
        pool = self.server.requests
        extra = len(pool._threads) - max(pool.min,
                                         self._busy + SPARE_THREADS)
        if extra > 0 and pool.idle > SPARE_THREADS:
            pool.shrink(min(extra, pool.idle - SPARE_THREADS))

    # The loop ---------------------------------------------------------------

    def _run(self, expiration_interval):
        last_expiration_check = time.time()
        while not self._stop_requested:
            timeout = PARK_SECONDS if self._parked else expiration_interval
            try:
                active = self._selector.select(timeout=timeout)
            except OSError:
                self._remove_invalid_sockets()
                continue
            now = time.time()
            for fd, conn in active:
                if conn is self.server:
                    new = self._from_server_socket(self.server.socket)
                    if new is not None and self._admit(new):
                        new.last_used = now
                        self._waiting[new] = _Waiting(started=now)
                        self._watch(new)
                else:
                    self._selector.unregister(fd)
                    self._readable(conn, now)
            self._unpark(now)
            if now - last_expiration_check > expiration_interval:
                if self.bodies is not None:
                    self.bodies.enforce()
                self._expire_heads(now)
                self._expire(threshold=now - self.server.timeout)
                last_expiration_check = now


def bytes_received(sock):
    """Bytes the kernel has received on TCP socket *sock* so far, or None
    where TCP_INFO does not report them (Linux 4.1 and later do)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO,
                               _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    if len(info) < _BYTES_RECEIVED.size + _BYTES_RECEIVED_OFFSET:
        return None
    return _BYTES_RECEIVED.unpack_from(info, _BYTES_RECEIVED_OFFSET)[0]


@dataclasses.dataclass
class _Body:
    started: float
    base: int


class BodyWatch:
    """Request bodies that must keep up a minimum rate.

    A body may take *timeout* seconds plus one second per *min_rate*
    bytes the kernel received since it began (counted by TCP_INFO, so
    however the application reads); one that falls behind has its
    socket shut for reading, which ends the read the application is
    blocked in. A slow but steady upload goes on; a trickle is cut.
    """

    def __init__(self, timeout, min_rate):
        self.timeout = timeout
        self.min_rate = min_rate
        self._bodies = {}
        self._lock = threading.Lock()

    def start(self, conn):
        base = bytes_received(conn.socket)
        if base is None:
            return
        with self._lock:
            self._bodies[conn] = _Body(time.monotonic(), base)

    def stop(self, conn):
        with self._lock:
            self._bodies.pop(conn, None)

    def enforce(self):
        now = time.monotonic()
        with self._lock:
            bodies = list(self._bodies.items())
        for conn, body in bodies:
            received = bytes_received(conn.socket)
            if received is None:
                continue
            allowed = self.timeout + (received - body.base) / self.min_rate
            if now - body.started <= allowed:
                continue
            self.stop(conn)
            LOG.info('Cutting a request body from %s: %d bytes in %.0f s, '
                     'below %d bytes per second',
                     getattr(conn, 'remote_addr', None) or 'a local socket',
                     received - body.base, now - body.started, self.min_rate)
            try:
                conn.socket.shutdown(socket.SHUT_RD)
            except OSError:
                pass

"""Image cache downloads, in one run: glance_import's cache against the
disk, against its own uncached downloads, and against Glance 33's cache.

Starts, over one SQLite database and one file store, two
``glance-import-api`` services: one with the ``caching`` flavor and
``image_cache_dir``, one plain (the uncached reference, the same store and
images). Beside them Glance 33 runs under uwsgi with its caching flavor
(``bench/glance33.py``). One image of ``--size`` MiB (1 GiB by default) is
imported into each catalogue, then every figure is taken with one HTTP
client that streams the body to nowhere:

client
    Warm downloads from the plain service with each candidate client
    (curl to /dev/null, ``http.client`` into a 4 MiB buffer, a raw
    HTTP/1.1 client that splices the body from the socket to /dev/null
    through a pipe); the one that spends the least CPU is used for every
    other figure, so the client costs the same, and as little as it can,
    in all.
fill
    Each round: a download from the plain service with the store file
    evicted from the page cache; then the cache entry is removed, the
    store file evicted, and the first (filling) download timed, and the
    time until the image is in the cache (verified, in place) noted.
    Glance's first download likewise (its cache cleared by its API).
cold hits
    Each round, every file evicted first: the cached file read straight
    from the disk with 4 MiB reads (the machine's cold sequential read,
    the baseline), the same file sent by a bare HTTP server that only
    calls sendfile(2) (what any server can reach through loopback TCP),
    the cached download from glance_import, Glance's cache file read, and
    Glance's cached download.
warm hits
    The same with the files in the page cache.

Eviction is ``fsync`` + ``POSIX_FADV_DONTNEED``, checked with ``fincore``
where it is installed; if pages survive it and ``/proc/sys/vm/drop_caches``
is writable, the page cache is dropped. Every figure is repeated
(``--rounds``); the table shows best and median, the criteria use the best
(background load only ever slows a round)::

    python bench/cache.py --glance-venv /path/to/glance33-venv
    python bench/cache.py --size 64 --rounds 2     # a smoke run
"""

import argparse
import contextlib
import fcntl
import http.client
import os
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import compare  # noqa: E402
import glance33  # noqa: E402

import bench  # noqa: E402

MB = bench.MB
MiB = bench.MiB
READ_BUFFER = 4 * MiB
DROP_CACHES = '/proc/sys/vm/drop_caches'
ADMIN_HEADERS = dict(compare.HEADERS, **{'X-Roles': 'admin,member,reader'})

# The criteria: a cold cached download at least this share of the cold
# sequential read of the cache file; a filling download at most this
# many times an uncached one.
HIT_SHARE = 0.9
FILL_FACTOR = 1.1

OURS_CONF = """\
[DEFAULT]
state_path = {state}
bind_host = 127.0.0.1
bind_port = {port}
workers = {workers}
enable_image_import = true
node_staging_uri = file://{state}/staging
enabled_import_methods = glance-direct
{cache_options}
[database]
connection = sqlite:///{state}/glance_import.sqlite

[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = {state}/images
{paste}"""


# An HTTP server that answers every GET with one file, sent with
# sendfile(2): the ceiling of a download without any service around it.
BARE_SERVER = r'''
import os, socket, sys
path = sys.argv[1]
size = os.path.getsize(path)
listener = socket.create_server(('127.0.0.1', 0))
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    with conn, open(path, 'rb') as f:
        request = b''
        while b'\r\n\r\n' not in request:
            data = conn.recv(65536)
            if not data:
                break
            request += data
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/'
                     b'octet-stream\r\nContent-Length: %d\r\nConnection: '
                     b'close\r\n\r\n' % size)
        conn.sendfile(f)
'''


class BareServer:
    """BARE_SERVER in a process of its own, serving *path*."""

    def __init__(self, path):
        self.path = path
        self.proc = None
        self.url = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, '-c', BARE_SERVER, self.path],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.url = 'http://127.0.0.1:%d' % int(self.proc.stdout.readline())
        return self

    def stop(self):
        compare.stop_process(self.proc)


class OursNode:
    """A ``glance-import-api`` over the shared state in *state*; with
    *cache_dir*, the caching flavor serving and filling that cache."""

    def __init__(self, state, name, cache_dir=None, workers=2):
        self.state = os.path.abspath(state)
        self.name = name
        self.port = glance33.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.store_dir = os.path.join(self.state, 'images')
        self.cache_dir = cache_dir and os.path.abspath(cache_dir)
        self.workers = workers
        self.proc = None
        self.log_path = os.path.join(self.state, name + '.log')

    def conf_text(self):
        cache_options = paste = ''
        if self.cache_dir:
            cache_options = ('image_cache_dir = %s\n'
                             'worker_self_reference_url = %s\n'
                             % (self.cache_dir, self.url))
            paste = '\n[paste_deploy]\nflavor = caching\n'
        return OURS_CONF.format(state=self.state, port=self.port,
                                workers=self.workers,
                                cache_options=cache_options, paste=paste)

    def start(self, timeout=60):
        os.makedirs(self.state, exist_ok=True)
        conf = os.path.join(self.state, self.name + '.conf')
        with open(conf, 'w') as f:
            f.write(self.conf_text())
        self.proc, self._log = compare.start_api(conf, self.url,
                                                 self.log_path, timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        compare.stop_process(self.proc, getattr(self, '_log', None))


# -- the page cache --------------------------------------------------------

def resident(path):
    """Bytes of *path* in the page cache (``fincore``), None if unknown."""
    fincore = shutil.which('fincore')
    if fincore is None:
        return None
    out = subprocess.run([fincore, '--bytes', '--noheadings', '--output',
                          'RES', path], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return int(out.stdout.split()[0])


def evict(path):
    """Drop *path* from the page cache; the bytes of it still resident
    (None when that cannot be told)."""
    bench.evict([path])
    left = resident(path)
    if left:
        with contextlib.suppress(OSError):
            with open(DROP_CACHES, 'w') as f:
                f.write('1\n')
            left = resident(path)
    return left


def read_seconds(path, buf):
    """Seconds to read *path* sequentially into *buf*, whole."""
    start = time.perf_counter()
    with open(path, 'rb', buffering=0) as f:
        while f.readinto(buf):
            pass
    return time.perf_counter() - start


# -- clients ---------------------------------------------------------------

class Curl:
    """``curl -o /dev/null``; the time is curl's own (connect to last
    byte), so starting the process is not counted."""

    name = 'curl'

    def __init__(self, headers):
        self.headers = headers
        self.binary = shutil.which('curl')

    def available(self):
        return self.binary is not None

    def get(self, url):
        args = [self.binary, '-sS', '--fail', '-o', '/dev/null', '-w',
                '%{size_download} %{time_total}']
        for name, value in self.headers.items():
            args += ['-H', '%s: %s' % (name, value)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(args + [url], capture_output=True, text=True,
                             env=dict(os.environ, LC_ALL='C'))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            raise bench.BenchError('curl %s: %s' % (url, out.stderr.strip()))
        size, seconds = out.stdout.split()
        return {'bytes': int(size), 'seconds': float(seconds),
                'client_cpu_s': _cpu(after) - _cpu(before)}


class HttpClient:
    """``http.client`` reading the body into one 4 MiB buffer."""

    name = 'http.client'

    def __init__(self, headers):
        self.headers = headers
        self.buf = bytearray(READ_BUFFER)

    def available(self):
        return True

    def get(self, url):
        parts = urllib.parse.urlsplit(url)
        before = resource.getrusage(resource.RUSAGE_THREAD)
        start = time.perf_counter()
        conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                          timeout=600,
                                          blocksize=READ_BUFFER)
        try:
            conn.request('GET', parts.path, headers=self.headers)
            resp = conn.getresponse()
            if resp.status != 200:
                raise bench.BenchError('GET %s answered %d'
                                       % (url, resp.status))
            received = 0
            while n := resp.readinto(self.buf):
                received += n
        finally:
            conn.close()
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_THREAD)
        return {'bytes': received, 'seconds': seconds,
                'client_cpu_s': _cpu(after) - _cpu(before)}


class SpliceClient:
    """A raw HTTP/1.1 GET whose body goes from the socket into a pipe and
    from the pipe to /dev/null with splice(2): the bytes cross loopback
    TCP and are counted, but are never copied into the client's memory,
    the cheapest honest receive there is (curl and ``http.client`` copy
    every byte out of the kernel). A sized body must arrive whole; a
    chunked one is framed by its chunk lines, which alone are read into
    memory; any other ends with the connection."""

    name = 'splice'
    PIPE_SIZE = MiB

    def __init__(self, headers):
        self.headers = headers

    def available(self):
        return hasattr(os, 'splice')

    def get(self, url):
        parts = urllib.parse.urlsplit(url)
        before = resource.getrusage(resource.RUSAGE_THREAD)
        start = time.perf_counter()
        with socket.create_connection((parts.hostname, parts.port),
                                      timeout=600) as sock, _Splicer(
                                          sock, self.PIPE_SIZE) as body:
            # splice(2) needs a blocking socket; SO_RCVTIMEO still bounds
            # every wait.
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                            struct.pack('ll', 600, 0))
            sock.sendall(self.request(parts))
            fields = self.read_head(body, url)
            if fields.get('transfer-encoding', '').lower() == 'chunked':
                received = self.read_chunked(body, url)
            elif 'content-length' in fields:
                length = int(fields['content-length'])
                received = body.splice(length)
                if received != length:
                    raise bench.BenchError('GET %s: %d of %d bytes'
                                           % (url, received, length))
            else:
                # Delimited by the end of the connection (Glance's
                # filling download under uwsgi); the caller checks the
                # count against the image's size.
                received = body.splice()
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_THREAD)
        return {'bytes': received, 'seconds': seconds,
                'client_cpu_s': _cpu(after) - _cpu(before)}

    def request(self, parts):
        lines = ['GET %s HTTP/1.1' % (parts.path or '/'),
                 'Host: %s' % parts.netloc, 'Connection: close']
        lines += ['%s: %s' % item for item in self.headers.items()]
        return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')

    @staticmethod
    def read_head(body, url):
        """The response's header fields (names lower case); a 200 only."""
        status = body.line()
        if not status:
            raise bench.BenchError('GET %s: no response' % url)
        if int(status.split()[1]) != 200:
            raise bench.BenchError('GET %s answered %s' % (url, status))
        fields = {}
        while line := body.line():
            name, _, value = line.partition(':')
            fields[name.strip().lower()] = value.strip()
        return fields

    @staticmethod
    def read_chunked(body, url):
        received = 0
        while size := int(body.line().split(';')[0], 16):
            if body.splice(size) != size or body.line():
                raise bench.BenchError('GET %s: a chunk cut short' % url)
            received += size
        while body.line():      # trailer fields
            pass
        return received


class _Splicer:
    """Lines of a socket read exactly (peeked, then received up to their
    end, so no body byte is read with them), and its body bytes spliced
    to /dev/null through a pipe."""

    def __init__(self, sock, pipe_size):
        self.sock = sock
        self.pipe_size = pipe_size
        self.read_end, self.write_end = os.pipe()
        self.null = os.open(os.devnull, os.O_WRONLY)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.write_end, fcntl.F_SETPIPE_SZ, pipe_size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for fd in (self.read_end, self.write_end, self.null):
            os.close(fd)

    def line(self):
        """The next CRLF-terminated line, without it."""
        line = b''
        while True:
            peeked = self.sock.recv(4096, socket.MSG_PEEK)
            if not peeked:
                raise bench.BenchError('connection closed in a line')
            end = peeked.find(b'\n')
            line += self.sock.recv(len(peeked) if end < 0 else end + 1)
            if line.endswith(b'\n'):
                return line.rstrip(b'\r\n').decode('latin-1')

    def splice(self, length=None):
        """Move *length* bytes (None: all until the server closes) from
        the socket to /dev/null; the count moved."""
        fd = self.sock.fileno()
        moved = 0
        while length is None or moved < length:
            n = os.splice(fd, self.write_end, self.pipe_size if length is
                          None else min(self.pipe_size, length - moved))
            if not n:
                break
            moved += n
            while n:
                n -= os.splice(self.read_end, self.null, n)
        return moved


def _cpu(usage):
    return usage.ru_utime + usage.ru_stime


def file_url(service, image_id):
    return '%s/v2/images/%s/file' % (service.url, image_id)


# -- figures ---------------------------------------------------------------

def summary(seconds, size):
    """Best and median of timed transfers of *size* bytes."""
    if not seconds:
        return None
    best = min(seconds)
    median = statistics.median(seconds)
    return {'n': len(seconds), 'best_s': best, 'median_s': median,
            'best_MBps': size / best / MB, 'median_MBps': size / median / MB}


def paired_share(reads, downloads):
    """Median over rounds of read time / download time, each pair taken
    back to back: the share of the disk's speed a download reached while
    the disk was in the same mood."""
    pairs = [r / d for r, d in zip(reads, downloads, strict=False) if d]
    return statistics.median(pairs) if pairs else None


# (key in report['samples'], label) in table order.
ROWS = [
    ('disk_cold', 'cache file read from the disk, cold (4 MiB reads)'),
    ('bare_cold', 'the same file sent by a bare sendfile server, cold'),
    ('ours_hit_cold', 'glance_import cached download, cold'),
    ('glance_disk_cold', 'Glance 33 cache file read from the disk, cold'),
    ('glance_hit_cold', 'Glance 33 cached download, cold'),
    ('disk_warm', 'cache file read, warm (page cache)'),
    ('bare_warm', 'the same file sent by a bare sendfile server, warm'),
    ('ours_hit_warm', 'glance_import cached download, warm'),
    ('glance_hit_warm', 'Glance 33 cached download, warm'),
    ('ours_uncached', 'glance_import uncached download (plain flavor), '
                      'store cold'),
    ('ours_fill', 'glance_import first download (fills), store cold'),
    ('ours_fill_cached', 'glance_import first download -> in the cache'),
    ('glance_fill', 'Glance 33 first download (fills), store cold'),
    ('glance_fill_cached', 'Glance 33 first download -> in the cache'),
]


def figures(report):
    size = report['size']
    return {key: summary(report['samples'].get(key, []), size)
            for key, _ in ROWS}


def _best(figs, key):
    return figs[key]['best_s'] if figs.get(key) else None


def criteria(report):
    """(label, met or None when not measured, detail) of each criterion."""
    figs = figures(report)
    samples = report['samples']
    out = []
    disk, hit = _best(figs, 'disk_cold'), _best(figs, 'ours_hit_cold')
    share = disk / hit if disk and hit else None
    paired = paired_share(samples.get('disk_cold', []),
                          samples.get('ours_hit_cold', []))
    out.append((
        '(a) cached download, cold, >= %d%% of the cold sequential read of '
        'the cache file' % round(HIT_SHARE * 100),
        None if share is None else share >= HIT_SHARE,
        'n/a' if share is None else
        '%.0f%% (%.0f of %.0f MB/s, best of each); %.0f%% as the median '
        'of pairs read back to back' % (
            share * 100, figs['ours_hit_cold']['best_MBps'],
            figs['disk_cold']['best_MBps'], (paired or 0) * 100)))
    bare = _best(figs, 'bare_cold')
    if share is not None and bare:
        out[-1] = out[-1][:2] + (out[-1][2] + '; the bare sendfile server '
                                 'reached %.0f%%, glance_import %.0f%% of it'
                                 % (disk / bare * 100, bare / hit * 100),)
    fill, plain = _best(figs, 'ours_fill'), _best(figs, 'ours_uncached')
    factor = fill / plain if fill and plain else None
    out.append((
        '(b) first (filling) download <= %.1fx the uncached download'
        % FILL_FACTOR,
        None if factor is None else factor <= FILL_FACTOR,
        'n/a' if factor is None else
        'x%.2f (%.3f s against %.3f s, best of each; medians x%.2f)' % (
            factor, fill, plain,
            figs['ours_fill']['median_s'] / figs['ours_uncached']
            ['median_s'])))
    theirs, ours = _best(figs, 'glance_hit_cold'), hit
    warm_theirs = _best(figs, 'glance_hit_warm')
    warm_ours = _best(figs, 'ours_hit_warm')
    out.append((
        '(c) cached download against Glance 33\'s cache (Glance time / '
        'ours)',
        None if not (theirs and ours) else theirs >= ours,
        'n/a' if not (theirs and ours) else
        'cold x%.2f (%.3f s against %.3f s)%s' % (
            theirs / ours, ours, theirs,
            '; warm x%.2f (%.3f s against %.3f s)' % (
                warm_theirs / warm_ours, warm_ours, warm_theirs)
            if warm_theirs and warm_ours else '')))
    return out


def _fmt(value, pattern):
    return '-' if value is None else pattern % value


def table(report):
    figs = figures(report)
    client = report.get('client', {})
    lines = ['Image of %d MiB, %s rounds, client %s; %d CPUs, load average '
             '%s before, %s after, nice %s' % (
                 report['size'] // MiB, report['rounds'],
                 client.get('chosen'), report['machine']['cpus'],
                 report['loadavg_before'], report.get('loadavg_after'),
                 report.get('nice', 0))]
    for name, runs in client.get('candidates', {}).items():
        seconds = [r['seconds'] for r in runs]
        fig = summary(seconds, report['size'])
        cpu = min(r['client_cpu_s'] for r in runs) if runs else None
        lines.append('  client %-12s warm download best %s MB/s, client '
                     'CPU %s s per GiB' % (
                         name, _fmt(fig and fig['best_MBps'], '%.0f'),
                         _fmt(cpu and cpu * bench.GiB / report['size'],
                              '%.3f')))
    width = max(len(label) for _, label in ROWS) + 2
    header = '%-*s %8s %9s %10s %12s' % (width, 'measurement', 'best s',
                                         'median s', 'best MB/s',
                                         'median MB/s')
    lines += ['', header, '-' * len(header)]
    for key, label in ROWS:
        fig = figs[key]
        if fig is None:
            lines.append('%-*s %8s' % (width, label, '-'))
            continue
        lines.append('%-*s %8.3f %9.3f %10.0f %12.0f' % (
            width, label, fig['best_s'], fig['median_s'], fig['best_MBps'],
            fig['median_MBps']))
    lines += ['', 'Criteria:']
    for label, met, detail in criteria(report):
        mark = {True: 'MET', False: 'NOT MET', None: 'NOT MEASURED'}[met]
        lines.append('  [%s] %s: %s' % (mark, label, detail))
    checks = report.get('checks', {})
    if checks:
        lines += ['', 'Checks:']
        for name, value in sorted(checks.items()):
            lines.append('  %s: %s' % (name, value))
    for error in report.get('errors', []):
        lines.append('  error: %s' % error)
    return '\n'.join(lines)


# -- the run ---------------------------------------------------------------

def wait_cached(cache_dir, image_id, size, timeout=300):
    """Wait until *image_id* is complete in *cache_dir* (Glance's layout,
    which is ours too) and no longer being written."""
    path = os.path.join(cache_dir, image_id)
    incomplete = os.path.join(cache_dir, 'incomplete', image_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done = os.path.getsize(path) == size
        except FileNotFoundError:
            done = False
        if done and not os.path.exists(incomplete):
            return
        time.sleep(0.02)
    raise bench.BenchError('image %s not cached in %s after %ss'
                           % (image_id, cache_dir, timeout))


def wait_idle(cache_dir, image_id, timeout=300):
    """Wait until no fill of *image_id* is in progress."""
    incomplete = os.path.join(cache_dir, 'incomplete', image_id)
    deadline = time.monotonic() + timeout
    while os.path.exists(incomplete):
        if time.monotonic() > deadline:
            raise bench.BenchError('a fill of %s is still running' % image_id)
        time.sleep(0.02)


class Run:
    """The services, the image in each, the client and the samples."""

    def __init__(self, size, rounds, client, ours, plain, glance, ids,
                 log, bare=None):
        self.size = size
        self.bare = bare
        self.rounds = rounds
        self.client = client
        self.ours, self.plain, self.glance = ours, plain, glance
        self.ours_id, self.glance_id = ids
        self.log = log
        self.samples = {key: [] for key, _ in ROWS}
        self.checks = {'resident bytes after eviction (max)': 0,
                       'store file resident after a cold hit (max)': 0}
        self.buf = bytearray(READ_BUFFER)
        self.ours_store = os.path.join(ours.store_dir, self.ours_id)
        self.ours_cached = os.path.join(ours.cache_dir, self.ours_id)
        self.glance_store = os.path.join(glance.store_dir, self.glance_id)
        self.glance_cached = os.path.join(glance.cache_dir, self.glance_id)

    def _evict(self, path):
        left = evict(path)
        key = 'resident bytes after eviction (max)'
        if left is None:
            self.checks[key] = 'unknown (no fincore)'
        elif isinstance(self.checks[key], int):
            self.checks[key] = max(self.checks[key], left)

    def _get(self, service, image_id):
        r = self.client.get(file_url(service, image_id))
        if r['bytes'] != self.size:
            raise bench.BenchError('downloaded %d bytes of %s from %s, '
                                   'expected %d' % (r['bytes'], image_id,
                                                    service.url, self.size))
        return r['seconds']

    def fills(self):
        """Uncached against first downloads, the store cold for each."""
        for n in range(self.rounds):
            self._evict(self.ours_store)
            plain = self._get(self.plain, self.ours_id)
            self.samples['ours_uncached'].append(plain)

            wait_idle(self.ours.cache_dir, self.ours_id)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.ours_cached)
            self._evict(self.ours_store)
            start = time.perf_counter()
            fill = self._get(self.ours, self.ours_id)
            wait_cached(self.ours.cache_dir, self.ours_id, self.size)
            cached = time.perf_counter() - start
            self.samples['ours_fill'].append(fill)
            self.samples['ours_fill_cached'].append(cached)

            self.glance_uncache()
            self._evict(self.glance_store)
            start = time.perf_counter()
            g_fill = self._get(self.glance, self.glance_id)
            wait_cached(self.glance.cache_dir, self.glance_id, self.size)
            g_cached = time.perf_counter() - start
            self.samples['glance_fill'].append(g_fill)
            self.samples['glance_fill_cached'].append(g_cached)
            self.log('  round %d: uncached %.3fs, fill %.3fs (cached after '
                     '%.2fs); Glance fill %.3fs (cached after %.2fs)'
                     % (n + 1, plain, fill, cached, g_fill, g_cached))

    def glance_uncache(self):
        ep = bench.Endpoint(self.glance.url, ADMIN_HEADERS)
        wait_idle(self.glance.cache_dir, self.glance_id)
        ep.request('DELETE', '/v2/cache/%s' % self.glance_id,
                   expect=(200, 204, 404))
        if os.path.exists(self.glance_cached):
            raise bench.BenchError('Glance still caches %s after DELETE '
                                   '/v2/cache' % self.glance_id)

    def _bare(self):
        if self.bare.proc is None:      # the cached file exists by now
            self.bare.start()
        r = self.client.get(self.bare.url + '/')
        if r['bytes'] != self.size:
            raise bench.BenchError('the bare server sent %d bytes'
                                   % r['bytes'])
        return r['seconds']

    def cold_hits(self):
        key = 'store file resident after a cold hit (max)'
        for n in range(self.rounds):
            self._evict(self.ours_cached)
            disk = read_seconds(self.ours_cached, self.buf)
            self._evict(self.ours_cached)
            bare = self._bare()
            self._evict(self.ours_cached)
            self._evict(self.ours_store)
            ours = self._get(self.ours, self.ours_id)
            self._evict(self.glance_cached)
            g_disk = read_seconds(self.glance_cached, self.buf)
            self._evict(self.glance_cached)
            self._evict(self.glance_store)
            theirs = self._get(self.glance, self.glance_id)
            # A hit never reads the store: its file must still be out of
            # the page cache.
            for store in (self.ours_store, self.glance_store):
                left = resident(store)
                if left is not None:
                    self.checks[key] = max(self.checks[key], left)
            for name, value in (('disk_cold', disk), ('bare_cold', bare),
                                ('ours_hit_cold', ours),
                                ('glance_disk_cold', g_disk),
                                ('glance_hit_cold', theirs)):
                self.samples[name].append(value)
            self.log('  round %d: disk %.0f MB/s, bare %.0f MB/s, ours %.0f '
                     'MB/s; Glance\'s file %.0f MB/s, Glance %.0f MB/s' % (
                         n + 1, self._MBps(disk), self._MBps(bare),
                         self._MBps(ours),
                         self._MBps(g_disk), self._MBps(theirs)))

    def warm_hits(self):
        read_seconds(self.ours_cached, self.buf)
        read_seconds(self.glance_cached, self.buf)
        for n in range(self.rounds):
            disk = read_seconds(self.ours_cached, self.buf)
            bare = self._bare()
            ours = self._get(self.ours, self.ours_id)
            theirs = self._get(self.glance, self.glance_id)
            self.samples['disk_warm'].append(disk)
            self.samples['bare_warm'].append(bare)
            self.samples['ours_hit_warm'].append(ours)
            self.samples['glance_hit_warm'].append(theirs)
            self.log('  round %d: read %.0f MB/s, bare %.0f MB/s, ours %.0f '
                     'MB/s, Glance %.0f MB/s' % (n + 1, self._MBps(disk),
                                                 self._MBps(bare),
                                    self._MBps(ours), self._MBps(theirs)))

    def _MBps(self, seconds):
        return self.size / seconds / MB


def choose_client(candidates, service, image_id, size, rounds, log):
    """Warm downloads with each client; the cheapest (least client CPU
    in its best round: throughput wanders with the machine's load, CPU
    much less) and every client's transfers."""
    results = {}
    for client in candidates:
        if not client.available():
            continue
        client.get(file_url(service, image_id))     # warms the file
        runs = [client.get(file_url(service, image_id))
                for _ in range(rounds)]
        for r in runs:
            if r['bytes'] != size:
                raise bench.BenchError('%s received %d bytes, expected %d'
                                       % (client.name, r['bytes'], size))
        results[client.name] = runs
        best = min(r['seconds'] for r in runs)
        log('  %s: best %.0f MB/s, client CPU %.3f s' % (
            client.name, size / best / MB,
            min(r['client_cpu_s'] for r in runs)))
    chosen = min(results, key=lambda name: min(
        r['client_cpu_s'] for r in results[name]))
    return next(c for c in candidates if c.name == chosen), results


def glance_venv(path, log):
    """A virtualenv with Glance 33 (installed if needed) and the uwsgi
    to run it: the virtualenv's own, else the one beside this Python."""
    path = os.path.abspath(path or glance33.default_venv())
    probe = subprocess.run(
        [os.path.join(path, 'bin', 'python'), '-c',
         'import importlib.metadata as m; print(m.version("glance"))'],
        capture_output=True, text=True) if os.path.exists(
            os.path.join(path, 'bin', 'python')) else None
    if probe is None or probe.stdout.strip() != glance33.GLANCE_VERSION:
        path = glance33.ensure_venv(path, log=log)
    uwsgi = os.path.join(path, 'bin', 'uwsgi')
    if not os.path.exists(uwsgi):
        uwsgi = shutil.which('uwsgi', path=os.path.dirname(sys.executable))
    if uwsgi is None:
        raise RuntimeError('no uwsgi in %s nor beside %s'
                           % (path, sys.executable))
    return path, uwsgi


def import_image(service, path, size, digests, log):
    ep = bench.Endpoint(service.url, compare.HEADERS)
    r = bench.glance_direct(ep, path, size, digests)
    log('  active after %.1fs' % r['total_s'])
    return r['image_id']


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark image cache downloads: glance_import '
                    'against the disk, itself uncached, and Glance 33.')
    parser.add_argument('--size', type=int, default=1024,
                        help='image size in MiB (default 1024)')
    parser.add_argument('--rounds', type=int, default=5,
                        help='rounds of every figure (default 5)')
    parser.add_argument('--glance-venv', default=None,
                        help='virtualenv with Glance 33 (default %s, '
                             'created if missing)' % glance33.default_venv())
    parser.add_argument('--workdir', default=os.path.join(
        tempfile.gettempdir(), 'glance_import-bench'),
        help='service state and cached test data')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--nice', type=int, default=0,
                        help='scheduling priority change for this run and '
                             'every service (negative needs root), to '
                             'measure on a machine busy with other work')
    parser.add_argument('--output', help='results file (.json; a .txt '
                        'with the table is written next to it)')
    args = parser.parse_args(argv)

    def log(message):
        print(message, flush=True)

    if args.nice:
        # Inherited by every service, so none is favoured.
        os.nice(args.nice)
    size = args.size * MiB
    workdir = os.path.abspath(args.workdir)
    state = os.path.join(workdir, 'cache-bench')
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    venv, uwsgi = glance_venv(args.glance_venv, log)
    data, digests = bench.make_data(os.path.join(workdir, 'data'), size)
    report = {**compare.run_facts(), 'size': size, 'rounds': args.rounds,
              'glance_venv': venv, 'errors': [], 'samples': {},
              'nice': os.getpriority(os.PRIO_PROCESS, 0)}
    ours = OursNode(os.path.join(state, 'ours'), 'caching',
                    cache_dir=os.path.join(state, 'ours', 'cache'),
                    workers=args.workers)
    plain = OursNode(os.path.join(state, 'ours'), 'plain',
                     workers=args.workers)
    glance = glance33.Glance(venv, os.path.join(state, 'glance33'),
                             cache_dir=os.path.join(state, 'glance33',
                                                    'cache'), uwsgi=uwsgi)
    started = []
    bare = None
    t0 = time.monotonic()
    try:
        for service in (ours, plain, glance):
            service.start()
            started.append(service)
        log('glance_import caching %s, plain %s; Glance 33 %s'
            % (ours.url, plain.url, glance.url))
        log('importing %d MiB into each' % args.size)
        ids = (import_image(ours, data, size, digests, log),
               import_image(glance, data, size, digests, log))
        log('client: warm downloads from the plain service')
        client, candidates = choose_client(
            [Curl(compare.HEADERS), HttpClient(compare.HEADERS),
             SpliceClient(compare.HEADERS)], plain,
            ids[0], size, 3, log)
        report['client'] = {'chosen': client.name, 'candidates': candidates}
        log('  using %s' % client.name)
        bare = BareServer(os.path.join(ours.cache_dir, ids[0]))
        run = Run(size, args.rounds, client, ours, plain, glance, ids, log,
                  bare)
        report['samples'] = run.samples
        report['checks'] = run.checks
        for label, step in (('fills, store cold', run.fills),
                            ('cached downloads, cold', run.cold_hits),
                            ('cached downloads, warm', run.warm_hits)):
            log(label)
            try:
                step()
            except (bench.BenchError, OSError) as e:
                log('  FAILED %s' % e)
                report['errors'].append('%s: %s' % (label, e))
    finally:
        if bare is not None:
            bare.stop()
        for service in reversed(started):
            service.stop()
    report['duration_s'] = round(time.monotonic() - t0, 1)
    compare.finish_report(report, table, args.output or os.path.join(
        workdir, 'cache-%s.json' % time.strftime('%Y%m%d-%H%M%S')), log)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Benchmark any OpenStack Image API v2 endpoint.

Measures, against the URL given: create -> stage -> import (glance-direct)
-> active for each image size with every phase timed, the download of the
result, a web-download import from a local HTTP server, metadata API
throughput and latency (filtered, paged list and show over a set of
images) at several concurrencies, and the peak memory of the service's
process tree while it stages the largest image. ``disk_floor`` measures
what the disk itself allows.

The client is plain ``http.client`` with one keep-alive connection per
thread, the same for every service measured, so client overhead is
constant. Example::

    python bench/bench.py http://127.0.0.1:9292 --server-pid 1234 \\
        --evict-dir /var/lib/glance/images --quick
"""

import argparse
import contextlib
import hashlib
import http.client
import http.server
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse

MB = 1000 * 1000
MiB = 1024 * 1024
GiB = 1024 * MiB
IO_CHUNK = 4 * MiB

FULL = {
    'sizes': [1 * GiB, 4 * GiB],
    'web_size': 1 * GiB,
    'images': 1000,
    'concurrency': [4, 16],
    'requests': 2000,
    'disk_size': 2 * GiB,
}
QUICK = {
    'sizes': [16 * MiB, 64 * MiB],
    'web_size': 16 * MiB,
    'images': 100,
    'concurrency': [4, 16],
    'requests': 400,
    'disk_size': 256 * MiB,
}


class BenchError(Exception):
    """The service answered something the benchmark cannot go on with."""


class Endpoint:
    """An image API base URL plus the headers every request carries."""

    def __init__(self, url, headers=None, timeout=600):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != 'http':
            raise ValueError('only http:// endpoints are supported')
        self.url = url.rstrip('/')
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip('/')
        self.headers = dict(headers or {})
        self.timeout = timeout

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout,
                                          blocksize=IO_CHUNK)

    def request(self, method, path, body=None, headers=None, conn=None,
                expect=(200,)):
        """One request; returns (status, headers, body bytes)."""
        own = conn is None
        conn = conn or self.connect()
        try:
            all_headers = dict(self.headers)
            all_headers.update(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                all_headers.setdefault('Content-Type', 'application/json')
            conn.request(method, self.prefix + path, body=body,
                         headers=all_headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            if own:
                conn.close()
        if expect and resp.status not in expect:
            raise BenchError('%s %s answered %d: %s' % (
                method, path, resp.status, data[:500].decode(
                    errors='replace')))
        return resp.status, resp.headers, data

    def json(self, method, path, body=None, expect=(200, 201), **kw):
        _, _, data = self.request(method, path, body, expect=expect, **kw)
        return json.loads(data) if data else None


# -- data ------------------------------------------------------------------

def make_data(directory, size):
    """A file of *size* pseudo-random bytes, cached with its digests.

    Returns (path, {'md5':..., 'sha512':...}). Each MiB is a different
    slice of a random block tagged with its index, so no two blocks are
    equal yet generation runs at memory speed.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'data-%d.bin' % size)
    meta_path = path + '.json'
    if os.path.exists(meta_path) and os.path.exists(path) and \
            os.path.getsize(path) == size:
        with open(meta_path) as f:
            return path, json.load(f)
    rng = random.Random(size)
    pool = rng.randbytes(16 * MiB + MiB)
    md5, sha = hashlib.md5(), hashlib.sha512()
    with open(path + '.tmp', 'wb') as f:
        written = 0
        index = 0
        while written < size:
            start = rng.randrange(16 * MiB)
            block = index.to_bytes(8, 'big') + pool[start:start + MiB - 8]
            block = block[:size - written]
            f.write(block)
            md5.update(block)
            sha.update(block)
            written += len(block)
            index += 1
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + '.tmp', path)
    digests = {'md5': md5.hexdigest(), 'sha512': sha.hexdigest()}
    with open(meta_path, 'w') as f:
        json.dump(digests, f)
    return path, digests


def evict(paths):
    """Drop files (or every file under directories) from the page cache.

    Dirty pages are written first, so what follows reads from the disk.
    """
    for top in paths:
        if os.path.isfile(top):
            files = [top]
        else:
            files = [os.path.join(d, n) for d, _, names in os.walk(top)
                     for n in names]
        for name in files:
            try:
                fd = os.open(name, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def warm(path):
    """Read *path* once so uploads are not limited by the client's disk."""
    buf = bytearray(IO_CHUNK)
    with open(path, 'rb', buffering=0) as f:
        while f.readinto(buf):
            pass


def disk_floor(directory, size, rounds=3):
    """Raw sequential write (ending in fdatasync) and cold read, MB/s.

    The read is the best of *rounds* cold reads: a virtual disk's speed
    wanders, and the downloads it is compared with are best-of too.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'disk-floor.tmp')
    block = os.urandom(IO_CHUNK)
    try:
        start = time.perf_counter()
        written = _write_synced(path, size, block, os.fdatasync)
        write_s = time.perf_counter() - start
        read_MBps = 0
        for _ in range(rounds):
            evict([path])
            read_MBps = max(read_MBps, cold_read_MBps(path))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return {'bytes': size, 'write_MBps': written / write_s / MB,
            'read_MBps': read_MBps}


def write_floor(directory, size, streams=1):
    """*streams* files of *size* bytes written at once, each fsynced.

    What the disk allows for that many durable uploads in parallel:
    aggregate MB/s from the first write to the last fsync. The files
    are removed afterwards.
    """
    os.makedirs(directory, exist_ok=True)
    block = os.urandom(IO_CHUNK)
    paths = [os.path.join(directory, 'write-floor-%d.tmp' % n)
             for n in range(streams)]
    threads = [threading.Thread(target=_write_synced,
                                args=(path, size, block, os.fsync))
               for path in paths]
    try:
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        _join(threads)
        elapsed = time.perf_counter() - start
    finally:
        for path in paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
    total = size * streams
    return {'bytes': total, 'streams': streams, 'write_s': elapsed,
            'write_MBps': total / elapsed / MB}


def _write_synced(path, size, block, sync):
    """Write *size* bytes of *block* repeated to *path*, then *sync* it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        written = 0
        while written < size:
            written += os.write(fd, block)
        sync(fd)
    finally:
        os.close(fd)
    return written


# -- memory ----------------------------------------------------------------

class Sampler:
    """Calls ``sample`` on entry, every *interval* seconds on a thread of
    its own, and on exit; subclasses say what a sample is."""

    def __init__(self, interval):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self):
        raise NotImplementedError

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


class TreeMemorySampler(Sampler):
    """Samples the memory of a process and its descendants in a thread.

    Keeps the peak of the summed RSS, of the summed PSS (shared pages
    counted once, the honest figure for forked workers) and of the largest
    single process.
    """

    def __init__(self, pid, interval=0.1):
        import psutil
        super().__init__(interval)
        self.root = psutil.Process(pid)
        self.peak = {'tree_rss_MB': 0.0, 'tree_pss_MB': 0.0,
                     'max_proc_rss_MB': 0.0, 'processes': 0}

    def sample(self):
        import psutil
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except psutil.Error:
            return
        rss = pss = biggest = 0
        for proc in procs:
            try:
                info = proc.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, 'pss', info.rss)
            biggest = max(biggest, info.rss)
        peak = self.peak
        peak['tree_rss_MB'] = max(peak['tree_rss_MB'], rss / MB)
        peak['tree_pss_MB'] = max(peak['tree_pss_MB'], pss / MB)
        peak['max_proc_rss_MB'] = max(peak['max_proc_rss_MB'], biggest / MB)
        peak['processes'] = max(peak['processes'], len(procs))


# -- image data paths ------------------------------------------------------

def create_image(ep, name, **extra):
    body = {'name': name, 'disk_format': 'raw', 'container_format': 'bare'}
    body.update(extra)
    return ep.json('POST', '/v2/images', body, expect=(201,))['id']


def delete_image(ep, image_id, attempts=3):
    """Delete, retrying a 5xx: clean-up is not measured."""
    for attempt in range(attempts):
        try:
            ep.request('DELETE', '/v2/images/%s' % image_id,
                       expect=(204, 404))
            return
        except BenchError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def wait_status(ep, image_id, wanted='active', timeout=1800,
                interval=0.05):
    """Poll the image until *wanted*; raise if the import failed."""
    conn = ep.connect()
    deadline = time.monotonic() + timeout
    try:
        while True:
            image = ep.json('GET', '/v2/images/%s' % image_id, conn=conn,
                            expect=(200,))
            if image['status'] == wanted:
                return image
            failed = image.get('os_glance_failed_import')
            if failed or image['status'] in ('killed', 'deleted'):
                raise BenchError('import of %s failed: status %s, %s'
                                 % (image_id, image['status'], failed))
            if time.monotonic() > deadline:
                raise BenchError('image %s still %s after %ss'
                                 % (image_id, image['status'], timeout))
            time.sleep(interval)
    finally:
        conn.close()


def _check(image, size, digests):
    if image.get('size') != size:
        raise BenchError('image %s has size %s, expected %d'
                         % (image['id'], image.get('size'), size))
    if digests and image.get('checksum') != digests['md5']:
        raise BenchError('image %s has checksum %s, expected %s'
                         % (image['id'], image.get('checksum'),
                            digests['md5']))


def stage(ep, image_id, path, size):
    with open(path, 'rb') as body:
        ep.request('PUT', '/v2/images/%s/stage' % image_id, body=body,
                   headers={'Content-Type': 'application/octet-stream',
                            'Content-Length': str(size)},
                   expect=(204,))


def glance_direct(ep, path, size, digests=None, memory_pid=None,
                  cpu_pid=None, warm_data=True, interval=0.05):
    """create -> stage -> import -> active, each phase timed (seconds).

    With *memory_pid* the service's memory is sampled while staging; with
    *cpu_pid* the service's CPU seconds of the stage and import phases are
    recorded too. The image is polled every *interval* seconds; callers
    running many imports at once warm the data themselves, once.
    """
    if warm_data:
        warm(path)
    result = {'bytes': size}
    cpu = (lambda: tree_cpu_seconds(cpu_pid)) if cpu_pid else (lambda: 0.0)
    t0 = time.perf_counter()
    image_id = create_image(ep, 'bench-direct-%d' % size)
    t1 = time.perf_counter()
    c1 = cpu()
    if memory_pid:
        with TreeMemorySampler(memory_pid) as sampler:
            stage(ep, image_id, path, size)
        result['stage_memory'] = sampler.peak
    else:
        stage(ep, image_id, path, size)
    t2 = time.perf_counter()
    c2 = cpu()
    ep.request('POST', '/v2/images/%s/import' % image_id,
               body={'method': {'name': 'glance-direct'}}, expect=(202,))
    t3 = time.perf_counter()
    image = wait_status(ep, image_id, interval=interval)
    t4 = time.perf_counter()
    c4 = cpu()
    _check(image, size, digests)
    result.update(image_id=image_id, create_s=t1 - t0, stage_s=t2 - t1,
                  import_call_s=t3 - t2, import_s=t4 - t2, total_s=t4 - t0,
                  stage_MBps=size / (t2 - t1) / MB)
    if cpu_pid:
        result.update(stage_cpu_s=c2 - c1, import_cpu_s=c4 - c2)
    return result


def download(ep, image_id, size, evict_dirs=(), digests=None, rounds=1):
    """GET the image data; throughput in MB/s (cold cache if evicting).

    With several *rounds*, the fastest is kept (each from a cold cache).
    When the stored file is found under *evict_dirs* (file stores name it
    after the image), each round first reads it straight from the disk,
    cold too: ``disk_read_MBps`` is what the disk gave at that moment, to
    compare the download with (this virtual disk's speed wanders by half
    over minutes).
    """
    stored = _stored_file(evict_dirs, image_id, size)
    best = None
    disk = None
    for _ in range(rounds):
        if stored:
            evict([stored])
            read = cold_read_MBps(stored)
            disk = read if disk is None else max(disk, read)
        result = _download_once(ep, image_id, size, evict_dirs, digests)
        if best is None or result['download_s'] < best['download_s']:
            best = result
    best['rounds'] = rounds
    if disk is not None:
        best['disk_read_MBps'] = disk
    return best


def _stored_file(dirs, image_id, size):
    for top in dirs:
        for directory, _, names in os.walk(top):
            for name in names:
                path = os.path.join(directory, name)
                if image_id in name and os.path.getsize(path) == size:
                    return path
    return None


def cold_read_MBps(path):
    """Sequential read of *path* (evicted beforehand) in MB/s."""
    buf = bytearray(IO_CHUNK)
    read = 0
    start = time.perf_counter()
    with open(path, 'rb', buffering=0) as f:
        while n := f.readinto(buf):
            read += n
    return read / (time.perf_counter() - start) / MB


def _download_once(ep, image_id, size, evict_dirs, digests):
    evict(evict_dirs)
    buf = bytearray(IO_CHUNK)
    conn = ep.connect()
    md5 = hashlib.md5() if digests else None
    try:
        start = time.perf_counter()
        conn.request('GET', ep.prefix + '/v2/images/%s/file' % image_id,
                     headers=ep.headers)
        resp = conn.getresponse()
        if resp.status != 200:
            raise BenchError('download of %s answered %d'
                             % (image_id, resp.status))
        received = 0
        view = memoryview(buf)
        while n := resp.readinto(buf):
            received += n
            if md5:
                md5.update(view[:n])
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    if received != size:
        raise BenchError('downloaded %d bytes of %s, expected %d'
                         % (received, image_id, size))
    if md5 and md5.hexdigest() != digests['md5']:
        raise BenchError('downloaded data of %s does not match' % image_id)
    return {'bytes': size, 'download_s': elapsed,
            'download_MBps': size / elapsed / MB, 'cold': bool(evict_dirs)}


class _FileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with sendfile so the source never limits the import."""

    protocol_version = 'HTTP/1.1'

    def copyfile(self, source, outputfile):
        outputfile.flush()
        self.connection.sendfile(source)

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def file_server(directory, port=0):
    """A threaded HTTP server for *directory*; yields its base URL."""
    def handler(*args, **kwargs):
        return _FileHandler(*args, directory=directory, **kwargs)

    server = http.server.ThreadingHTTPServer(('127.0.0.1', port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def web_download(ep, base_url, path, size, digests=None):
    """create -> import(web-download from *base_url*) -> active."""
    warm(path)
    uri = '%s/%s' % (base_url, os.path.basename(path))
    t0 = time.perf_counter()
    image_id = create_image(ep, 'bench-web-%d' % size)
    t1 = time.perf_counter()
    ep.request('POST', '/v2/images/%s/import' % image_id,
               body={'method': {'name': 'web-download', 'uri': uri}},
               expect=(202,))
    image = wait_status(ep, image_id)
    t2 = time.perf_counter()
    _check(image, size, digests)
    return {'bytes': size, 'image_id': image_id, 'create_s': t1 - t0,
            'import_s': t2 - t1, 'total_s': t2 - t0,
            'import_MBps': size / (t2 - t1) / MB}


# -- metadata API ----------------------------------------------------------

def populate(ep, count, threads=2, tag='bench-meta'):
    """Create *count* queued images with properties and tags; their ids."""
    ids = []
    lock = threading.Lock()
    counter = iter(range(count))

    def work():
        conn = ep.connect()
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                body = {'name': 'bench-meta-%05d' % i, 'disk_format': 'raw',
                        'container_format': 'bare', 'tags': [tag,
                                                             'g%d' % (i % 10)],
                        'bench_group': str(i % 10), 'os_distro': 'cirros'}
                for attempt in range(6):
                    # SQLite services may answer 500 "database is
                    # locked" to concurrent writers; setup is not timed.
                    try:
                        image = ep.json('POST', '/v2/images', body,
                                        conn=conn, expect=(201,))
                        break
                    except (BenchError, OSError,
                            http.client.HTTPException):
                        if attempt == 5:
                            raise
                        conn.close()
                        time.sleep(0.2 * (attempt + 1))
                with lock:
                    ids.append(image['id'])
        finally:
            conn.close()

    workers = [threading.Thread(target=work, daemon=True)
               for _ in range(threads)]
    for w in workers:
        w.start()
    _join(workers)
    if len(ids) != count:
        raise BenchError('created %d of %d images' % (len(ids), count))
    return ids


def _join(threads):
    """Wait for *threads* in short steps so Ctrl-C still gets through."""
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)


def list_paths(ids, tag='bench-meta', count=200, seed=1):
    """Filtered, sorted list pages starting at random markers."""
    rng = random.Random(seed)
    return ['/v2/images?limit=25&status=queued&tag=%s&sort_key=name'
            '&sort_dir=asc&marker=%s' % (tag, rng.choice(ids))
            for _ in range(count)]


def show_paths(ids, count=200, seed=2):
    rng = random.Random(seed)
    return ['/v2/images/%s' % rng.choice(ids) for _ in range(count)]


def _percentile(sorted_values, fraction):
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1,
                max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def tree_cpu_seconds(pid):
    """User + system CPU time of a process and its descendants so far."""
    import psutil
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def load(ep, paths, concurrency, total, warmup=50, cpu_pid=None,
         max_seconds=20.0):
    """GET *total* paths (cycling) from *concurrency* keep-alive threads.

    Stops early after *max_seconds* so a slow service cannot stretch the
    run. Returns requests per second, latency percentiles in ms and the
    number of non-200 answers; with *cpu_pid*, also the service's CPU
    time per request, which background load on the machine does not
    inflate.
    """
    latencies = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(total))
    start_gate = threading.Barrier(concurrency + 1)

    def work(n):
        conn = ep.connect()
        mine = []
        bad = 0
        try:
            try:
                for i in range(warmup // concurrency + 1):
                    _get(conn, paths[(n + i) % len(paths)])
            except BaseException:
                start_gate.abort()
                raise
            start_gate.wait()
            deadline = time.perf_counter() + max_seconds
            while time.perf_counter() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                t = time.perf_counter()
                try:
                    status = _get(conn, paths[i % len(paths)])
                except (OSError, http.client.HTTPException):
                    # Counted as an error; a fresh connection goes on.
                    conn.close()
                    status = None
                mine.append(time.perf_counter() - t)
                if status != 200:
                    bad += 1
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                errors[0] += bad

    def _get(conn, path):
        conn.request('GET', ep.prefix + path, headers=ep.headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status

    workers = [threading.Thread(target=work, args=(n,), daemon=True)
               for n in range(concurrency)]
    for w in workers:
        w.start()
    try:
        start_gate.wait()
    except threading.BrokenBarrierError:
        for w in workers:
            w.join()
        raise BenchError('the service failed during warm-up requests')
    cpu0 = tree_cpu_seconds(cpu_pid) if cpu_pid else None
    t0 = time.perf_counter()
    _join(workers)
    elapsed = time.perf_counter() - t0
    cpu = tree_cpu_seconds(cpu_pid) - cpu0 if cpu_pid else None
    latencies.sort()
    return {'concurrency': concurrency, 'requests': len(latencies),
            'errors': errors[0], 'rps': len(latencies) / elapsed,
            'p50_ms': _percentile(latencies, 0.50) * 1000,
            'p99_ms': _percentile(latencies, 0.99) * 1000,
            'mean_ms': statistics.fmean(latencies) * 1000,
            'server_cpu_ms': (cpu / len(latencies) * 1000
                              if cpu is not None and latencies else None)}


def metadata(ep, count, concurrencies, total, log=print, cpu_pid=None):
    ids = populate(ep, count)
    log('  created %d images' % count)
    sample = ep.json('GET', list_paths(ids, count=1)[0], expect=(200,))
    if not sample.get('images'):
        raise BenchError('filtered list returned no images')
    results = {}
    for name, paths in (('list', list_paths(ids)), ('show', show_paths(ids))):
        for c in concurrencies:
            r = load(ep, paths, c, total, cpu_pid=cpu_pid)
            log('  %s c=%d: %.0f req/s p50 %.1f ms p99 %.1f ms errors %d'
                % (name, c, r['rps'], r['p50_ms'], r['p99_ms'],
                   r['errors']))
            results['%s_c%d' % (name, c)] = r
    return results, ids


# -- the whole run ---------------------------------------------------------

def run(ep, workdir, profile, server_pid=None, evict_dirs=(), http_port=0,
        cleanup=True, log=print):
    """Every measurement against *ep*; returns a JSON-able dict."""
    data_dir = os.path.join(workdir, 'data')
    results = {'url': ep.url, 'direct': {}, 'download': {}}
    created = []
    try:
        largest = max(profile['sizes'])
        for size in profile['sizes']:
            path, digests = make_data(data_dir, size)
            log('glance-direct %d MiB' % (size // MiB))
            r = glance_direct(ep, path, size, digests,
                              memory_pid=server_pid if size == largest
                              else None, cpu_pid=server_pid)
            created.append(r['image_id'])
            log('  create %.2fs stage %.2fs import %.2fs total %.2fs'
                % (r['create_s'], r['stage_s'], r['import_s'],
                   r['total_s']))
            results['direct'][str(size)] = r
            d = download(ep, r['image_id'], size, evict_dirs, rounds=3)
            log('  download %.0f MB/s' % d['download_MBps'])
            results['download'][str(size)] = d
            if cleanup:
                delete_image(ep, r['image_id'])
        path, digests = make_data(data_dir, profile['web_size'])
        log('web-download %d MiB' % (profile['web_size'] // MiB))
        with file_server(data_dir, http_port) as base:
            r = web_download(ep, base, path, profile['web_size'], digests)
        created.append(r['image_id'])
        log('  import %.2fs' % r['import_s'])
        results['web_download'] = r
        if cleanup:
            delete_image(ep, r['image_id'])
        log('metadata over %d images' % profile['images'])
        results['metadata'], ids = metadata(
            ep, profile['images'], profile['concurrency'],
            profile['requests'], log=log, cpu_pid=server_pid)
        created.extend(ids)
    finally:
        if cleanup:
            _delete_all(ep, created)
    return results


def _delete_all(ep, ids, threads=4):
    chunks = [ids[i::threads] for i in range(threads)]

    def work(chunk):
        for image_id in chunk:
            with contextlib.suppress(BenchError, OSError):
                delete_image(ep, image_id)

    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def parse_headers(values):
    headers = {}
    for value in values or ():
        name, sep, content = value.partition(':')
        if not sep:
            raise argparse.ArgumentTypeError(
                'header %r is not "Name: value"' % value)
        headers[name.strip()] = content.strip()
    return headers


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark an OpenStack Image API v2 endpoint.')
    parser.add_argument('url', help='endpoint, e.g. http://127.0.0.1:9292')
    parser.add_argument('-H', '--header', action='append', default=[],
                        help='"Name: value" sent with every request')
    parser.add_argument('--server-pid', type=int,
                        help='service process whose tree memory is sampled')
    parser.add_argument('--evict-dir', action='append', default=[],
                        help='store directory dropped from the page cache '
                             'before each download (cold reads)')
    parser.add_argument('--http-port', type=int, default=0,
                        help='port of the local web-download source (the '
                             'service must allow it)')
    parser.add_argument('--workdir', default=os.path.join(
        tempfile.gettempdir(), 'glance_import-bench'))
    parser.add_argument('--quick', action='store_true',
                        help='small sizes for a smoke run')
    parser.add_argument('--disk-floor', action='store_true',
                        help='also measure the raw disk in --workdir')
    parser.add_argument('--json', help='write the results to this file')
    args = parser.parse_args(argv)
    ep = Endpoint(args.url, parse_headers(args.header))
    profile = QUICK if args.quick else FULL
    results = {}
    if args.disk_floor:
        results['disk'] = disk_floor(args.workdir, profile['disk_size'])
        print('disk: write %(write_MBps).0f MB/s (fdatasync), '
              'read %(read_MBps).0f MB/s (cold)' % results['disk'])
    results['service'] = run(ep, args.workdir, profile, args.server_pid,
                             args.evict_dir, args.http_port)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())

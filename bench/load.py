"""Load benchmark: concurrent imports, and two API nodes behind a front.

Part ``imports``: 1, 4 and 16 glance-direct imports at once (create, stage
the data, import, poll until active, check size and checksum) against
``glance-import-api`` (2 workers) and Glance 33 under uwsgi (2 processes),
each on a PostgreSQL database of its own, with the file store and the
staging directory on one filesystem. Per level and service: aggregate
MB/s (all bytes over the time from the first request to the last image
active), time to active p50 and max, failures, and the peak PSS of the
service's process tree (psutil reads ``/proc/PID/smaps_rollup``) sampled
every 100 ms. Before each level the disk's own durable write rate is
measured at the same total size and concurrency (that many files written
at once, each fsynced): the floor the imports are a percentage of.

Part ``nodes``: two ``glance-import-api`` nodes with ``workers = 1`` on
one PostgreSQL database, sharing a staging directory and a file store,
imports posted on a Redis jobboard and run by ``glance-import-conductor``
processes (the shared-staging topology of doc/multinode.rst). Metadata
requests per second (three shows for every filtered list page) at a fixed
number of connections, against one node and then both behind a
round-robin front, with the services' CPU time per request; then
concurrent imports started alternately on each node, and all on one.
The load comes from ``wrk`` with a Lua script through ``haproxy``
(roundrobin, keep-alive) when they are installed; without haproxy each
node gets its own loader and half the connections, and without wrk the
loader is bench.py's Python client (threads in this process, which then
compete with the services for the CPU).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis on
127.0.0.1:6379; installs Glance 33 on first use (see glance33.py). The
machine's busy share is printed with each figure: on a small machine the
services, the database and the load share the cores::

    python bench/load.py                        # levels 1,4,16 of 256 MiB
    python bench/load.py --quick                # under a minute
    python bench/load.py --parts nodes --set database.max_pool_size=20
"""

import argparse
import contextlib
import csv
import http.client
import io
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402
import glance33  # noqa: E402

import bench  # noqa: E402

MB = bench.MB
MiB = bench.MiB
POSTGRES = 'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres'
REDIS = 'redis://127.0.0.1:6379'

FULL = {
    'import_size': 256 * MiB,
    'levels': [1, 4, 16],
    'node_import_size': 64 * MiB,
    'node_imports': 4,
    'images': 500,
    'connections': 16,
    'seconds': 20,
    'warmup': 3,
}
QUICK = {
    'import_size': 8 * MiB,
    'levels': [1, 2],
    'node_import_size': 8 * MiB,
    'node_imports': 4,
    'images': 50,
    'connections': 16,
    'seconds': 3,
    'warmup': 1,
}

# Cycles through the request paths of the file named after "--", each
# thread from its own offset, and counts every answer that is not 200
# (wrk's own error count only has statuses above 399). done() runs in
# the main Lua state and reads the counters of the threads' states.
WRK_SCRIPT = """\
local threads = {}
local requests = {}
local index = 1
not_200 = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 97)
end

function init(args)
  for line in io.lines(args[1]) do
    table.insert(requests, wrk.format(nil, line))
  end
  index = offset % #requests + 1
end

function request()
  local r = requests[index]
  index = index % #requests + 1
  return r
end

function response(status, headers, body)
  if status ~= 200 then
    not_200 = not_200 + 1
  end
end

function done(summary, latency, _)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("not_200")
  end
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests": %d, "duration_us": %d, '
    .. '"not_200": %d, "socket_errors": %d, "p50_us": %d, '
    .. '"p99_us": %d}\\n', summary.requests, summary.duration, bad,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50),
    latency:percentile(99)))
end
"""

HAPROXY_CFG = """\
global
    maxconn 4096
    nbthread 1

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 120s
    timeout server 120s

{sections}
listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /
"""


class Failed(Exception):
    """A part of the benchmark could not be measured."""


# -- processes and their settings ------------------------------------------

@contextlib.contextmanager
def environment(settings):
    """Options as ``OS_<GROUP>__<NAME>`` variables while the block runs.

    compare.Ours writes compare.py's configuration file (SQLite, staging
    and store in its own directory). oslo.config reads these variables
    before configuration files, so *settings* ('group.name': value) win
    over it. Whatever starts in the block inherits them: start Glance
    (also oslo.config) outside.
    """
    names = {}
    for key, value in settings.items():
        group, _, name = key.rpartition('.')
        names['OS_%s__%s' % ((group or 'DEFAULT').upper(),
                             name.upper())] = str(value)
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def start_all(servers, settings, timeout=90):
    """Start *servers* (objects with start()) at once under *settings*."""
    errors = []

    def start(server):
        try:
            server.start(timeout)
        except Exception as e:
            errors.append(e)

    with environment(settings):
        threads = [threading.Thread(target=start, args=(s,), daemon=True)
                   for s in servers]
        for thread in threads:
            thread.start()
        bench._join(threads)
    if errors:
        raise errors[0]


def _python_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (compare.ROOT, env.get('PYTHONPATH')) if p)
    return env


def migrate(database, directory):
    """``glance-import-manage db sync`` of *database* (an SQLAlchemy URL)."""
    os.makedirs(directory, exist_ok=True)
    conf = os.path.join(directory, 'db-only.conf')
    with open(conf, 'w') as f:
        f.write('[database]\nconnection = %s\n' % database)
    subprocess.run([sys.executable, '-m', 'glance_import.cmd.manage',
                    '--config-file', conf, 'db', 'sync'],
                   env=_python_env(), check=True, capture_output=True)


class Conductor:
    """``glance-import-conductor`` on compare.Ours's configuration file."""

    def __init__(self, workdir):
        self.workdir = os.path.abspath(workdir)
        self.log_path = os.path.join(self.workdir, 'conductor.log')
        self.proc = None

    def start(self, timeout=60):
        os.makedirs(self.workdir, exist_ok=True)
        conf = os.path.join(self.workdir, 'glance-api.conf')
        with open(conf, 'w') as f:
            f.write(compare.OURS_CONF.format(
                workdir=self.workdir, port=0, workers=0, http_port=80))
        self._log = open(self.log_path, 'ab')  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'glance_import.cmd.conductor',
             '--config-file', conf], env=_python_env(),
            stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline:
                raise Failed('conductor did not start in %ss' % timeout)
            time.sleep(0.1)
        return self

    def _ready(self):
        with open(self.log_path, errors='replace') as f:
            log = f.read()
        if self.proc.poll() is not None:
            raise Failed('conductor exited with %s:\n%s'
                         % (self.proc.returncode, log[-4000:]))
        return 'waiting for import jobs' in log

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        compare.stop_process(self.proc, getattr(self, '_log', None),
                             timeout=60)


class Databases:
    """PostgreSQL databases made for this run, dropped at its end."""

    def __init__(self, admin_url=POSTGRES):
        import sqlalchemy as sa
        self.admin = sa.engine.make_url(admin_url)
        self.names = []

    def _engine(self):
        import sqlalchemy as sa
        return sa.create_engine(self.admin, isolation_level='AUTOCOMMIT')

    def create(self, label):
        """A new empty database; its URL."""
        import sqlalchemy as sa
        name = 'bench_load_%s_%d_%s' % (label, os.getpid(),
                                        uuid.uuid4().hex[:6])
        engine = self._engine()
        with engine.connect() as conn:
            conn.execute(sa.text('CREATE DATABASE %s' % name))
        engine.dispose()
        self.names.append(name)
        return self.admin.set(database=name).render_as_string(
            hide_password=False)

    def backends(self, url):
        """Pids of the server processes connected to *url*'s database."""
        import sqlalchemy as sa
        engine = self._engine()
        with engine.connect() as conn:
            pids = conn.execute(sa.text(
                'SELECT pid FROM pg_stat_activity WHERE datname = :n'),
                {'n': sa.engine.make_url(url).database}).scalars().all()
        engine.dispose()
        return pids

    def drop_all(self):
        import sqlalchemy as sa
        engine = self._engine()
        with engine.connect() as conn:
            for name in self.names:
                conn.execute(sa.text(
                    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity'
                    ' WHERE datname = :n AND pid <> pg_backend_pid()'),
                    {'n': name})
                conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
        engine.dispose()
        self.names = []


class DatabaseCpu(bench.Sampler):
    """CPU time of the PostgreSQL backends of one database while in use.

    Under load the services' pools close and open connections, so the
    backends are looked up every *interval* seconds and each one counts
    with the last CPU time seen (one living less than that is missed).
    """

    def __init__(self, databases, url, interval=0.2):
        super().__init__(interval)
        self.databases = databases
        self.url = url
        self.first = {}
        self.last = {}
        self.opened = set()
        self._started = False

    def sample(self):
        import psutil
        for pid in self.databases.backends(self.url):
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            used = times.user + times.system
            if pid not in self.first:
                # Backends that appear after the start count from zero.
                self.first[pid] = 0.0 if self._started else used
                if self._started:
                    self.opened.add(pid)
            self.last[pid] = used
        self._started = True

    @property
    def seconds(self):
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def parse_size(text):
    """'256MiB', '1GiB', '8MB' or a byte count; bytes."""
    units = {'': 1, 'b': 1, 'kib': 1024, 'mib': MiB, 'gib': 1024 * MiB,
             'kb': 1000, 'mb': MB, 'gb': 1000 * MB}
    match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*', text)
    if not match or match.group(2).lower() not in units:
        raise argparse.ArgumentTypeError('not a size: %r' % text)
    return int(float(match.group(1)) * units[match.group(2).lower()])


def human(size):
    return compare.human(size) if size >= MiB else '%d bytes' % size


# -- concurrent imports ----------------------------------------------------

def poll_interval(concurrency):
    """Seconds between status polls of one import.

    50 ms per import in flight, at most 0.5 s: the polling adds about the
    same number of requests per second at every level.
    """
    return min(0.5, 0.05 * concurrency)


def concurrent_imports(endpoints, count, path, size, digests):
    """*count* glance-direct imports at once, the i-th on endpoints[i % n].

    Each is bench.glance_direct (it checks size and checksum). Returns
    the aggregate MB/s from the first request to the last image active,
    the time to active of each import, and the failures.
    """
    gate = threading.Barrier(count)
    results = [None] * count
    interval = poll_interval(count)

    def work(i):
        ep = endpoints[i % len(endpoints)]
        gate.wait()
        start = time.perf_counter()
        try:
            r = bench.glance_direct(ep, path, size, digests,
                                    warm_data=False, interval=interval)
        except (bench.BenchError, OSError, http.client.HTTPException) as e:
            r = {'error': str(e)}
        r.update(node=i % len(endpoints), start=start,
                 end=time.perf_counter())
        results[i] = r

    threads = [threading.Thread(target=work, args=(i,), daemon=True)
               for i in range(count)]
    machine0 = _machine_cpu()
    for thread in threads:
        thread.start()
    bench._join(threads)
    busy = _busy_since(machine0)
    wall = max(r['end'] for r in results) - min(r['start'] for r in results)
    finish_tasks(endpoints, results)
    done = [r for r in results if 'error' not in r]
    to_active = sorted(r['total_s'] for r in done)

    def median(key):
        return statistics.median(r[key] for r in done) if done else None

    return {
        'imports': count, 'bytes': size * len(done), 'wall_s': wall,
        'MBps': size * len(done) / wall / MB,
        'active_p50_s': median('total_s'),
        'active_max_s': to_active[-1] if done else None,
        'stage_p50_s': median('stage_s'), 'import_p50_s': median('import_s'),
        'failures': count - len(done), 'machine_busy': busy,
        'runs': [{key: r[key] for key in ('node', 'image_id', 'total_s',
                                          'stage_s', 'import_s', 'error')
                  if key in r} for r in results],
    }


def finish_tasks(endpoints, runs, timeout=600):
    """Wait for the import task of every active image to end.

    An image is active before its task has finished; deleting it then
    would fail the task. A task that did not succeed fails its import.
    """
    deadline = time.monotonic() + timeout
    for run in runs:
        if 'image_id' not in run:
            continue
        ep = endpoints[run['node']]
        while True:
            status, _, body = ep.request(
                'GET', '/v2/images/%s/tasks' % run['image_id'], expect=())
            if status != 200:
                return   # a service without this call (API < 2.12)
            tasks = json.loads(body)['tasks']
            state = tasks[0]['status'] if tasks else 'no task'
            if state == 'success':
                break
            if state in ('failure', 'no task') or \
                    time.monotonic() > deadline:
                run['error'] = 'import task of %s: %s' % (run['image_id'],
                                                         state)
                break
            time.sleep(0.1)


def delete_bench_images(ep, rounds=3):
    """Delete every image named bench-* the caller sees (the run's own)."""
    for _ in range(rounds):
        images = ep.json('GET', '/v2/images?limit=200',
                         expect=(200,))['images']
        ids = [i['id'] for i in images if i['name'].startswith('bench-')]
        if not ids:
            return
        bench._delete_all(ep, ids)


def import_level(ep, pid, level, path, size, digests):
    """One level against one service: imports, memory, CPU; cleaned up."""
    bench.warm(path)
    cpu0 = bench.tree_cpu_seconds(pid)
    client0 = _own_cpu()
    try:
        with bench.TreeMemorySampler(pid, interval=0.1) as memory:
            result = concurrent_imports([ep], level, path, size, digests)
        result['service_cpu_s'] = bench.tree_cpu_seconds(pid) - cpu0
        result['client_cpu_s'] = _own_cpu() - client0
        result['memory'] = memory.peak
    finally:
        delete_bench_images(ep)
        # Glance's file store does not fsync: its dirty pages must not
        # be written back during the next measurement.
        os.sync()
    return result


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_imports(services, size, levels, repeat, workdir, log=print):
    """Each level: the disk's floor, then every service; best of *repeat*.

    *services* maps a name to (bench.Endpoint, pid of the service's root
    process). The floor is written next to the services' stores.
    """
    path, digests = bench.make_data(os.path.join(workdir, 'data'), size)
    floor_dir = os.path.join(workdir, 'floor')
    report = {'size': size, 'levels': {}}
    for level in levels:
        rounds = []
        for _ in range(repeat):
            log('%d concurrent imports of %s' % (level, human(size)))
            r = {'floor': bench.write_floor(floor_dir, size, level)}
            log('  disk floor: %.0f MB/s (%d files fsynced at once)'
                % (r['floor']['write_MBps'], level))
            for name, (ep, pid) in services.items():
                r[name] = import_level(ep, pid, level, path, size, digests)
                log('  %s: %.0f MB/s, to active p50 %s max %s, failures %d,'
                    ' peak PSS %.0f MB' % (
                        name, r[name]['MBps'],
                        _fmt(r[name]['active_p50_s'], 's'),
                        _fmt(r[name]['active_max_s'], 's'),
                        r[name]['failures'],
                        r[name]['memory']['tree_pss_MB']))
            rounds.append(r)
        report['levels'][str(level)] = _best(rounds, list(services))
    return report


def _best(rounds, names):
    """The fastest floor and the fastest round of each service.

    Background load only ever slows a round down; a round with failures
    never counts as the best.
    """
    best = {'floor': max((r['floor'] for r in rounds),
                         key=lambda f: f['write_MBps'])}
    for name in names:
        best[name] = max((r[name] for r in rounds),
                         key=lambda r: (not r['failures'], r['MBps']))
    if len(rounds) > 1:
        best['rounds'] = rounds
    return best


# -- metadata load ---------------------------------------------------------

def mixed_paths(ids, count=400, seed=3):
    """Three shows of random images for every filtered list page."""
    shows = bench.show_paths(ids, count, seed)
    lists = bench.list_paths(ids, count=count // 4 + 1, seed=seed)
    return [lists[i // 4] if i % 4 == 3 else shows[i]
            for i in range(count)]


def wrk_load(url, paths_file, script, connections, seconds, headers):
    """wrk against *url* for *seconds*; its figures and its own CPU time."""
    command = ['wrk', '-t', '1', '-c', str(connections), '-d',
               '%ds' % max(1, round(seconds)), '--timeout', '30s',
               '-s', script]
    for name, value in headers.items():
        command += ['-H', '%s: %s' % (name, value)]
    command += [url, '--', paths_file]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        printed = out.read().decode(errors='replace')
    line = next((x for x in printed.splitlines()
                 if x.startswith('WRK_JSON ')), None)
    if proc.returncode or line is None:
        raise Failed('wrk failed (%s): %s' % (proc.returncode,
                                              printed[-2000:]))
    r = json.loads(line[len('WRK_JSON '):])
    elapsed = r['duration_us'] / 1e6
    return {'requests': r['requests'], 'seconds': elapsed,
            'rps': r['requests'] / elapsed,
            'not_200': r['not_200'] + r['socket_errors'],
            'p50_ms': r['p50_us'] / 1000, 'p99_ms': r['p99_us'] / 1000,
            'loader_cpu_s': usage.ru_utime + usage.ru_stime}


def python_load(url, paths, connections, seconds, headers, requests=None):
    """bench.load against *url*: *requests* in all, or for *seconds*."""
    ep = bench.Endpoint(url, headers, timeout=60)
    r = bench.load(ep, paths, connections, requests or 10 ** 9, warmup=0,
                   max_seconds=seconds)
    return {'requests': r['requests'], 'rps': r['rps'],
            'not_200': r['errors'], 'p50_ms': r['p50_ms'],
            'p99_ms': r['p99_ms']}


class Loader:
    """Runs the metadata load on one or more URLs at once.

    The connections are split evenly between the URLs. *kind* is 'wrk'
    or 'python'.
    """

    def __init__(self, kind, workdir, paths, headers):
        self.kind = kind
        self.paths = paths
        self.headers = headers
        os.makedirs(workdir, exist_ok=True)
        self.paths_file = os.path.join(workdir, 'paths.txt')
        with open(self.paths_file, 'w') as f:
            f.write('\n'.join(paths) + '\n')
        self.script = os.path.join(workdir, 'paths.lua')
        with open(self.script, 'w') as f:
            f.write(WRK_SCRIPT)

    def run(self, urls, connections, seconds, requests=None):
        """Load every URL at once; the sums, and each URL's figures."""
        share = max(1, connections // len(urls))
        results = [None] * len(urls)
        errors = []

        def one(i, url):
            try:
                if self.kind == 'wrk':
                    results[i] = wrk_load(url, self.paths_file, self.script,
                                          share, seconds, self.headers)
                else:
                    results[i] = python_load(
                        url, self.paths, share, seconds, self.headers,
                        requests and requests // len(urls))
            except (Failed, bench.BenchError, OSError) as e:
                errors.append(e)

        cpu0 = _own_cpu()
        threads = [threading.Thread(target=one, args=(i, url), daemon=True)
                   for i, url in enumerate(urls)]
        for thread in threads:
            thread.start()
        bench._join(threads)
        if errors:
            raise Failed('load failed: %s' % errors[0])
        total = {key: sum(r[key] for r in results)
                 for key in ('requests', 'rps', 'not_200')}
        # Several URLs: the slower one's percentiles.
        total.update(p50_ms=max(r['p50_ms'] for r in results),
                     p99_ms=max(r['p99_ms'] for r in results),
                     per_url=results)
        total['loader_cpu_s'] = sum(r.get('loader_cpu_s', 0)
                                    for r in results) + (
            _own_cpu() - cpu0 if self.kind == 'python' else 0)
        return total


class Front:
    """haproxy in front of the nodes: one frontend per node count.

    Frontend n balances round-robin over the first n nodes, keeping
    connections alive on both sides; a stats page counts the answers of
    each node.
    """

    def __init__(self, workdir, ports):
        self.workdir = os.path.abspath(workdir)
        self.ports = ports
        self.front_ports = {n: glance33.free_port()
                            for n in range(1, len(ports) + 1)}
        self.stats_port = glance33.free_port()
        self.proc = None

    def start(self, timeout=30):
        sections = []
        for n, port in self.front_ports.items():
            servers = ''.join('    server node%d 127.0.0.1:%d\n' % (i, p)
                              for i, p in enumerate(self.ports[:n]))
            sections.append(
                'frontend front%d\n    bind 127.0.0.1:%d\n'
                '    default_backend nodes%d\n\n'
                'backend nodes%d\n    balance roundrobin\n%s'
                % (n, port, n, n, servers))
        os.makedirs(self.workdir, exist_ok=True)
        cfg = os.path.join(self.workdir, 'haproxy.cfg')
        with open(cfg, 'w') as f:
            f.write(HAPROXY_CFG.format(sections='\n'.join(sections),
                                       stats_port=self.stats_port))
        self._log = open(os.path.join(self.workdir, 'haproxy.log'),  # noqa: SIM115
                         'ab')
        self.proc = subprocess.Popen(['haproxy', '-f', cfg, '-db'],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT)
        for n in self.front_ports:
            glance33.wait_for(self.url(n) + '/versions', timeout, self.proc,
                              os.path.join(self.workdir, 'haproxy.log'))
        return self

    def url(self, nodes):
        return 'http://127.0.0.1:%d' % self.front_ports[nodes]

    @property
    def pid(self):
        return self.proc.pid

    def served(self, nodes):
        """Answers given so far by each node behind frontend *nodes*."""
        url = 'http://127.0.0.1:%d/;csv' % self.stats_port
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode().lstrip('# ')
        counts = {}
        for row in csv.DictReader(io.StringIO(text)):
            if row['pxname'] == 'nodes%d' % nodes and \
                    row['svname'].startswith('node'):
                counts[row['svname']] = sum(
                    int(row[k] or 0) for k in row if k.startswith('hrsp_'))
        return [counts.get('node%d' % i, 0) for i in range(nodes)]

    def stop(self):
        compare.stop_process(self.proc, getattr(self, '_log', None),
                             timeout=10)


# -- two nodes -------------------------------------------------------------

class Cluster:
    """API nodes and conductors sharing a database, staging, store and
    a Redis jobboard (doc/multinode.rst, shared staging).

    Every node is compare.Ours with *workers* processes; the shared
    settings reach nodes and conductors through the environment.
    """

    def __init__(self, workdir, database, jobboard_url=REDIS, nodes=2,
                 conductors=2, workers=1, settings=None):
        self.workdir = os.path.abspath(workdir)
        self.database = database
        self.jobboard_url = jobboard_url
        self.board = 'bench_load_%s' % uuid.uuid4().hex[:10]
        shared = os.path.join(self.workdir, 'shared')
        self.settings = {
            'database.connection': database,
            'node_staging_uri': 'file://%s' % os.path.join(shared,
                                                           'staging'),
            'glance_store.filesystem_store_datadir':
                os.path.join(shared, 'images'),
            'taskflow_executor.jobboard_url': jobboard_url,
            'taskflow_executor.jobboard_name': self.board,
            **(settings or {}),
        }
        self.workers = workers
        self.nodes = [compare.Ours(os.path.join(self.workdir, 'node%d' % i),
                                   http_port=80, workers=workers)
                      for i in range(nodes)]
        self.conductors = [
            Conductor(os.path.join(self.workdir, 'conductor%d' % i))
            for i in range(conductors)]
        self.started = []

    def start(self):
        import redis
        redis.Redis.from_url(self.jobboard_url).ping()
        migrate(self.database, self.workdir)
        self.started = self.nodes + self.conductors
        start_all(self.started, self.settings)
        return self

    def stop(self):
        # At once: conductors finish their running import first.
        threads = [threading.Thread(target=proc.stop)
                   for proc in self.started]
        for thread in threads:
            thread.start()
        bench._join(threads)
        self.started = []
        import redis
        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(self.jobboard_url)
            for key in client.scan_iter(match=self.board + '*'):
                client.delete(key)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def posted_jobs(self, node):
        """Ids of the import tasks *node* posted on the jobboard."""
        with open(self.nodes[node].log_path, errors='replace') as f:
            log = f.read()
        if 'running it in this process' in log:
            raise bench.BenchError('node %d ran an import itself' % node)
        return set(re.findall(r'Posted import task (\S+) as a job', log))

    def cpu_seconds(self):
        return sum(bench.tree_cpu_seconds(n.pid) for n in self.nodes)


def measure_load(cluster, loader, nodes, connections, seconds, warmup,
                 front=None, requests=None, database=None):
    """Warm up, then load the first *nodes* nodes: rates, CPU, who served.

    Through *front* when there is one, else one loader per node. With
    *database* (Databases, URL) the CPU of its backends is measured too.
    """
    urls = ([front.url(nodes)] if front
            else [n.url for n in cluster.nodes[:nodes]])
    if warmup:
        loader.run(urls, connections, warmup)
    before = front.served(nodes) if front else None
    cpu0 = cluster.cpu_seconds()
    front0 = bench.tree_cpu_seconds(front.pid) if front else 0.0
    machine0 = _machine_cpu()
    with (DatabaseCpu(*database) if database
          else contextlib.nullcontext()) as db_cpu:
        r = loader.run(urls, connections, seconds, requests)
    r['machine_busy'] = _busy_since(machine0)
    if front:
        served = [a - b for a, b in zip(front.served(nodes), before,
                                        strict=True)]
    else:
        served = [u['requests'] for u in r['per_url']]
    per_request = 1000 / max(1, r['requests'])
    r.update(nodes=nodes, served=served,
             service_cpu_ms=(cluster.cpu_seconds() - cpu0) * per_request)
    if db_cpu:
        r.update(db_cpu_ms=db_cpu.seconds * per_request,
                 db_connections_opened=len(db_cpu.opened))
    if front:
        r['front_cpu_s'] = bench.tree_cpu_seconds(front.pid) - front0
    return r


def _machine_cpu():
    """(busy, total) CPU seconds of the whole machine so far."""
    import psutil
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, 'iowait', 0.0)
    total = sum(times)
    return total - idle, total


def _busy_since(start):
    """Share of the machine's CPU time that was busy since *start*."""
    busy, total = (b - a for a, b in zip(start, _machine_cpu(), strict=True))
    return busy / total if total else None


def node_imports(cluster, nodes, count, path, size, digests):
    """*count* imports started alternately on the first *nodes* nodes.

    The conductors run them: every import must have become a job posted
    by the node that accepted it (no node ran one itself). The images
    are deleted afterwards.
    """
    endpoints = [bench.Endpoint(n.url, compare.HEADERS)
                 for n in cluster.nodes[:nodes]]
    bench.warm(path)
    r = concurrent_imports(endpoints, count, path, size, digests)
    try:
        posted = [cluster.posted_jobs(i) for i in range(nodes)]
        r['posted_as_jobs'] = 0
        for run in r['runs']:
            if 'image_id' not in run:
                continue
            tasks = endpoints[run['node']].json(
                'GET', '/v2/images/%s/tasks' % run['image_id'],
                expect=(200,))['tasks']
            if tasks and tasks[0]['id'] in posted[run['node']]:
                r['posted_as_jobs'] += 1
    finally:
        delete_bench_images(endpoints[0])
    r['started_on'] = [sum(1 for run in r['runs'] if run['node'] == i)
                       for i in range(nodes)]
    return r


def run_nodes(cluster, profile, kind, workdir, front=None, requests=None,
              database=None, import_counts=None, log=print):
    """Metadata load on one node then all, then imports on one then all.

    *kind* is the loader ('wrk' or 'python'); with *requests* the load
    is that many requests instead of ``profile['seconds']``.
    *import_counts* limits the imports to those node counts.
    """
    ep = bench.Endpoint(cluster.nodes[0].url, compare.HEADERS)
    ids = bench.populate(ep, profile['images'])
    log('  created %d images' % len(ids))
    loader = Loader(kind, os.path.join(workdir, 'load'), mixed_paths(ids),
                    compare.HEADERS)
    report = {'load': {}, 'imports': {}}
    counts = sorted({1, len(cluster.nodes)})
    try:
        for nodes in counts:
            r = measure_load(cluster, loader, nodes, profile['connections'],
                             profile['seconds'], profile['warmup'], front,
                             requests, database)
            report['load'][str(nodes)] = r
            log('  %d node(s): %.0f req/s, p50 %.1f ms, p99 %.1f ms, '
                'not 200: %d, served %s, service CPU %.2f ms/request'
                % (nodes, r['rps'], r['p50_ms'], r['p99_ms'], r['not_200'],
                   '/'.join(str(n) for n in r['served']),
                   r['service_cpu_ms']))
    finally:
        bench._delete_all(ep, ids)
    if len(counts) > 1:
        report['ratio'] = (report['load'][str(counts[-1])]['rps']
                           / report['load']['1']['rps'])
    if not profile['node_imports']:
        return report
    size = profile['node_import_size']
    path, digests = bench.make_data(os.path.join(workdir, 'data'), size)
    for nodes in import_counts or counts:
        r = node_imports(cluster, nodes, profile['node_imports'], path,
                         size, digests)
        report['imports'][str(nodes)] = r
        log('  imports on %d node(s): all active in %.2fs, failures %d, '
            'posted as jobs %d of %d' % (nodes, r['wall_s'], r['failures'],
                                         r['posted_as_jobs'], r['imports']))
    return report


# -- the tables ------------------------------------------------------------

def _fmt(value, unit=''):
    if value is None:
        return '-'
    if unit == 's':
        return '%.2fs' % value
    if unit == '%':
        return '%.0f%%' % value
    return '%.0f' % value if value >= 100 else '%.1f' % value


NAMES = {'glance33': 'Glance 33', 'glance_import': 'glance_import'}


def imports_table(report):
    """Part 1 as text: a row for the floor and each service per level."""
    part = report['imports']
    lines = ['Concurrent glance-direct imports of %s each'
             % human(part['size']),
             '%5s  %-13s %8s %8s %10s %10s %8s %9s %8s %8s' % (
                 'level', 'who', 'MB/s', 'of floor', 'active p50',
                 'active max', 'failures', 'peak PSS', 'svc CPU',
                 'CPU busy')]
    lines.append('-' * len(lines[-1]))
    for level, r in part['levels'].items():
        floor = r['floor']['write_MBps']
        lines.append('%5s  %-13s %8s %8s' % (level, 'disk floor',
                                             _fmt(floor), '100%'))
        for name in (n for n in NAMES if n in r):
            s = r[name]
            lines.append('%5s  %-13s %8s %8s %10s %10s %8d %6s MB %8s %8s'
                         % (level, NAMES[name], _fmt(s['MBps']),
                            _fmt(s['MBps'] / floor * 100, '%'),
                            _fmt(s['active_p50_s'], 's'),
                            _fmt(s['active_max_s'], 's'), s['failures'],
                            _fmt(s['memory']['tree_pss_MB']),
                            _fmt(s['service_cpu_s'], 's'),
                            _fmt(s['machine_busy'] * 100, '%')))
    return '\n'.join(lines)


def nodes_table(report):
    """Part 2 as text: the metadata load, then the imports."""
    part = report['nodes']
    setup = part['setup']
    lines = ['%d glance-import-api nodes (workers = %d), %s, shared staging '
             'and file store, Redis jobboard, %d conductors'
             % (setup['nodes'], setup['workers'], setup['database'],
                setup['conductors']),
             'Metadata: %s, %d connections, %ds (after %ds warm-up), three '
             'shows per list page' % (setup['load'], setup['connections'],
                                      setup['seconds'], setup['warmup']),
             '%5s %8s %7s %7s %7s %12s %12s %11s %8s %7s %8s' % (
                 'nodes', 'req/s', 'p50 ms', 'p99 ms', 'not 200',
                 'served', 'svc CPU/req', 'DB CPU/req', 'front s',
                 'load s', 'CPU busy')]
    lines.append('-' * len(lines[-1]))
    for nodes, r in part['load'].items():
        lines.append('%5s %8.0f %7.1f %7.1f %7d %12s %9.2f ms %8s ms %8s '
                     '%7s %8s' % (
                         nodes, r['rps'], r['p50_ms'], r['p99_ms'],
                         r['not_200'], '/'.join(str(n) for n in r['served']),
                         r['service_cpu_ms'], _fmt(r.get('db_cpu_ms')),
                         _fmt(r.get('front_cpu_s')),
                         _fmt(r.get('loader_cpu_s')),
                         _fmt(r['machine_busy'] * 100, '%')
                         if r.get('machine_busy') is not None else '-'))
    if 'ratio' in part:
        lines.append('all nodes / one node: x%.2f req/s' % part['ratio'])
    lines += ['', 'Imports: %d x %s glance-direct, started alternately on the'
              ' nodes, run by the conductors' % (
                  setup['node_imports'], human(setup['node_import_size'])),
              '%5s %14s %8s %10s %10s %8s %10s %13s' % (
                  'nodes', 'all active', 'MB/s', 'active p50', 'active max',
                  'failures', 'started on', 'posted as job')]
    lines.append('-' * len(lines[-1]))
    for nodes, r in part['imports'].items():
        lines.append('%5s %14s %8s %10s %10s %8d %10s %13s' % (
            nodes, _fmt(r['wall_s'], 's'), _fmt(r['MBps']),
            _fmt(r['active_p50_s'], 's'), _fmt(r['active_max_s'], 's'),
            r['failures'], '/'.join(str(n) for n in r['started_on']),
            '%d of %d' % (r['posted_as_jobs'], r['imports'])))
    return '\n'.join(lines)


def targets(report):
    """(description, met or None, detail) of the figures asked for."""
    out = []
    part = report.get('imports')
    if part and part['levels']:
        level = max(part['levels'], key=int)
        r = part['levels'][level]
        ours = r.get('glance_import')
        if ours:
            share = ours['MBps'] / r['floor']['write_MBps']
            out.append(('glance_import, %s concurrent imports >= 80%% of the'
                        ' fsync floor' % level,
                        share >= 0.8 and not ours['failures'],
                        '%.0f%% (%.0f of %.0f MB/s), %d failures' % (
                            share * 100, ours['MBps'],
                            r['floor']['write_MBps'], ours['failures'])))
    part = report.get('nodes')
    if part and 'ratio' in part:
        out.append(('%d nodes >= 1.7x the req/s of one' % len(
            part['load']['2']['served']), part['ratio'] >= 1.7,
            'x%.2f' % part['ratio']))
    return out


def text(report):
    parts = []
    if report.get('imports'):
        parts.append(imports_table(report))
    if report.get('nodes'):
        parts.append(nodes_table(report))
    if report.get('settings'):
        parts.append('glance_import settings: %s' % ', '.join(
            '%s=%s' % item for item in report['settings'].items()))
    lines = ['Targets:']
    for description, met, detail in targets(report):
        lines.append('  [%s] %s: %s' % ('MET' if met else 'NOT MET',
                                        description, detail))
    for error in report.get('errors', []):
        lines.append('  error: %s' % error)
    parts.append('\n'.join(lines))
    return '\n\n'.join(parts)


# -- the whole run ---------------------------------------------------------

def imports_part(args, profile, workdir, databases, log):
    """Start both services on databases of their own and run part 1."""
    started = []
    services = {}
    try:
        glance = starting = None
        if not args.no_glance:
            venv = glance33.ensure_venv(args.glance_venv, log=log)
            glance = glance33.Glance(
                venv, os.path.join(workdir, 'glance33'),
                processes=args.glance_processes,
                threads=args.glance_threads,
                database=databases.create('glance'))
            started.append(glance)
            starting = Background(glance.start)
        ours = compare.Ours(os.path.join(workdir, 'glance_import'),
                            http_port=80, workers=args.workers)
        database = databases.create('ours')
        migrate(database, ours.workdir)
        if starting:
            # Glance (oslo.config too) must not inherit our settings: its
            # last process is spawned before they enter the environment.
            starting.wait_for(lambda: glance.proc is not None)
        started.append(ours)
        start_all([ours], dict(args.settings,
                               **{'database.connection': database}))
        if starting:
            starting.join()
            services['glance33'] = (bench.Endpoint(glance.url,
                                                   compare.HEADERS),
                                    glance.pid)
        services['glance_import'] = (bench.Endpoint(ours.url,
                                                    compare.HEADERS),
                                     ours.pid)
        log('services: %s' % ', '.join(
            '%s %s' % (n, ep.url) for n, (ep, _) in services.items()))
        return run_imports(services, profile['import_size'],
                           profile['levels'], args.repeat, workdir, log)
    finally:
        for server in reversed(started):
            server.stop()


class Background:
    """A call running in a thread; join() re-raises its exception."""

    def __init__(self, func):
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(func,),
                                       daemon=True)
        self.thread.start()

    def _run(self, func):
        try:
            func()
        except Exception as e:
            self.error = e

    def wait_for(self, condition):
        """Until *condition* holds or the call has ended."""
        while not condition() and self.thread.is_alive():
            time.sleep(0.05)

    def join(self):
        bench._join([self.thread])
        if self.error:
            raise self.error


def nodes_part(args, profile, workdir, databases, log):
    """Start the nodes, conductors and front, and run part 2."""
    kind = args.loader if args.loader != 'auto' else (
        'wrk' if shutil.which('wrk') else 'python')
    use_front = args.front == 'haproxy' or (
        args.front == 'auto' and shutil.which('haproxy') is not None)
    cluster = Cluster(os.path.join(workdir, 'nodes'),
                      databases.create('nodes'), args.redis,
                      conductors=args.conductors, settings=args.settings)
    front = None
    with cluster:
        try:
            if use_front:
                front = Front(os.path.join(workdir, 'front'),
                              [n.port for n in cluster.nodes]).start()
            log('nodes %s, %d conductors; load: %s %s' % (
                ', '.join(n.url for n in cluster.nodes), args.conductors,
                kind, 'through haproxy' if front else 'on each node'))
            report = run_nodes(cluster, profile, kind, workdir, front,
                               database=(databases, cluster.database),
                               log=log)
        finally:
            if front:
                front.stop()
    report['setup'] = {
        'nodes': len(cluster.nodes), 'workers': cluster.workers,
        'conductors': args.conductors, 'database': 'PostgreSQL',
        'load': '%s%s' % (
            'wrk (Lua script)' if kind == 'wrk' else 'bench.py Python client',
            ' through haproxy roundrobin' if front else
            ', one loader per node with half the connections'),
        **{k: profile[k] for k in ('connections', 'seconds', 'warmup',
                                   'node_imports', 'node_import_size',
                                   'images')}}
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='8 MiB imports at levels 1,2 and a few '
                             'seconds of load')
    parser.add_argument('--parts', default='imports,nodes',
                        help='comma-separated: imports, nodes')
    parser.add_argument('--no-glance', action='store_true',
                        help='measure glance_import only')
    parser.add_argument('--import-size', type=parse_size,
                        help='bytes per import of part 1 (e.g. 256MiB)')
    parser.add_argument('--levels', type=lambda v: [int(x) for x in
                                                    v.split(',')],
                        help='concurrent imports per level, e.g. 1,4,16')
    parser.add_argument('--repeat', type=int, default=1,
                        help='rounds of each level (the best is kept)')
    parser.add_argument('--node-imports', type=int,
                        help='concurrent imports of part 2')
    parser.add_argument('--node-import-size', type=parse_size)
    parser.add_argument('--images', type=int,
                        help='images behind the metadata load')
    parser.add_argument('--connections', type=int)
    parser.add_argument('--seconds', type=int,
                        help='duration of each metadata load')
    parser.add_argument('--warmup', type=int)
    parser.add_argument('--loader', choices=('auto', 'wrk', 'python'),
                        default='auto')
    parser.add_argument('--front', choices=('auto', 'haproxy', 'none'),
                        default='auto')
    parser.add_argument('--workers', type=int, default=2,
                        help='glance_import workers in part 1')
    parser.add_argument('--glance-processes', type=int, default=2)
    parser.add_argument('--glance-threads', type=int, default=4)
    parser.add_argument('--conductors', type=int, default=2)
    parser.add_argument('--set', action='append', default=[],
                        metavar='GROUP.OPTION=VALUE',
                        help='an option for every glance_import process '
                             '(e.g. database.max_pool_size=16)')
    parser.add_argument('--glance-venv', default=None)
    parser.add_argument('--postgres', default=POSTGRES,
                        help='administrative URL; the run creates and '
                             'drops databases of its own')
    parser.add_argument('--redis', default=REDIS)
    parser.add_argument('--workdir', default=os.path.join(
        tempfile.gettempdir(), 'glance_import-load'),
        help='service state and cached test data')
    parser.add_argument('--output', help='results (.json; the tables go '
                        'in a .txt next to it)')
    args = parser.parse_args(argv)
    args.settings = dict(item.partition('=')[::2] for item in args.set)
    parts = set(args.parts.split(','))
    if not parts <= {'imports', 'nodes'}:
        parser.error('--parts takes imports and/or nodes')
    profile = dict(QUICK if args.quick else FULL)
    for key in profile:
        if getattr(args, key, None) is not None:
            profile[key] = getattr(args, key)

    def log(message):
        print(message, flush=True)

    workdir = os.path.abspath(args.workdir)
    for name in ('glance_import', 'glance33', 'nodes', 'front', 'load',
                 'floor'):
        shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
    os.makedirs(workdir, exist_ok=True)
    report = {
        **compare.run_facts(),
        'profile': profile, 'parts': sorted(parts),
        'settings': args.settings,
        'errors': [],
    }
    databases = Databases(args.postgres)
    t0 = time.monotonic()
    try:
        for part, run in (('imports', imports_part), ('nodes', nodes_part)):
            if part not in parts:
                continue
            try:
                report[part] = run(args, profile, workdir, databases, log)
            except Exception as e:
                # The other part still runs; the traceback is in the log.
                log(traceback.format_exc())
                log('%s FAILED: %s' % (part, e))
                report['errors'].append('%s: %s' % (part, e))
    finally:
        databases.drop_all()
    report['duration_s'] = round(time.monotonic() - t0, 1)
    compare.finish_report(report, text, args.output or os.path.join(
        workdir, 'load-%s.json' % time.strftime('%Y%m%d-%H%M%S')), log)
    return 1 if report['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())

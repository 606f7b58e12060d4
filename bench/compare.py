"""Glance 33 and glance_import side by side, in one run, one command.

Installs Glance 33 in its own virtualenv if needed (see glance33.py),
starts it under uwsgi and ``glance-import-api`` from this checkout, both
with SQLite, the file store and staging on the same filesystem, then runs
every measurement of bench.py against one and then the other, phase by
phase, so that background load on the machine hits both alike. Prints a
table of both figures with their ratio and the targets, and writes the
results as JSON and text::

    python bench/compare.py            # full run, about 10 minutes
    python bench/compare.py --quick    # small sizes, about a minute
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import glance33  # noqa: E402

import bench  # noqa: E402

PROJECT = 'bench-project'
HEADERS = {
    # Read by Glance's context filter (trusted, no token validation) and
    # by glance_import's unauthenticated flavor alike.
    'X-Identity-Status': 'Confirmed',
    'X-Project-Id': PROJECT,
    'X-User-Id': 'bench-user',
    'X-Roles': 'member,reader',
}

OURS_CONF = """\
[DEFAULT]
state_path = {workdir}
bind_host = 127.0.0.1
bind_port = {port}
workers = {workers}
enable_image_import = true
node_staging_uri = file://{workdir}/staging
enabled_import_methods = glance-direct,web-download

[database]
connection = sqlite:///{workdir}/glance_import.sqlite

[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = {workdir}/images

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports = {http_port}
"""


def start_api(conf, url, log_path, timeout=60):
    """``glance-import-api --config-file conf`` from this checkout, its
    output appended to *log_path*; (process, log file) once *url*
    answers."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (ROOT, env.get('PYTHONPATH')) if p)
    log = open(log_path, 'ab')  # noqa: SIM115 - closed by stop_process
    proc = subprocess.Popen(
        [sys.executable, '-m', 'glance_import.cmd.api', '--config-file',
         conf], env=env, stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT)
    glance33.wait_for(url + '/versions', timeout, proc, log_path)
    return proc, log


class Ours:
    """``glance-import-api`` from this checkout as a child process."""

    def __init__(self, workdir, http_port, workers=2):
        self.workdir = os.path.abspath(workdir)
        self.port = glance33.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.store_dir = os.path.join(self.workdir, 'images')
        self.http_port = http_port
        self.workers = workers
        self.proc = None
        self.log_path = os.path.join(self.workdir, 'api.log')

    def start(self, timeout=60):
        os.makedirs(self.workdir, exist_ok=True)
        conf = os.path.join(self.workdir, 'glance-api.conf')
        with open(conf, 'w') as f:
            f.write(OURS_CONF.format(workdir=self.workdir, port=self.port,
                                     workers=self.workers,
                                     http_port=self.http_port))
        self.proc, self._log = start_api(conf, self.url, self.log_path,
                                         timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        stop_process(self.proc, getattr(self, '_log', None))


class OursUwsgi(Ours):
    """glance_import under uwsgi, as ``etc/glance-import-uwsgi.ini`` runs it.

    The shipped ini is used with only the port, the process count, the
    configuration file and the virtualenv replaced.
    """

    def start(self, timeout=60):
        uwsgi = shutil.which('uwsgi', path=os.path.dirname(sys.executable))
        if uwsgi is None:
            raise RuntimeError('uwsgi is not installed next to %s'
                               % sys.executable)
        os.makedirs(self.workdir, exist_ok=True)
        conf = os.path.join(self.workdir, 'glance-api.conf')
        with open(conf, 'w') as f:
            f.write(OURS_CONF.format(workdir=self.workdir, port=self.port,
                                     workers=0, http_port=self.http_port))
        replaced = {
            'http-socket': '127.0.0.1:%d' % self.port,
            'processes': str(self.workers),
            'env': 'GLANCE_IMPORT_CONFIG_FILES=%s' % conf,
        }
        lines = []
        with open(os.path.join(ROOT, 'etc', 'glance-import-uwsgi.ini')) as f:
            for line in f:
                name = line.split('=', 1)[0].strip()
                if name in replaced:
                    line = '%s = %s\n' % (name, replaced[name])
                lines.append(line)
        lines += ['virtualenv = %s\n' % sys.prefix,
                  'logto = %s\n' % self.log_path,
                  'disable-logging = true\n']
        ini = os.path.join(self.workdir, 'uwsgi.ini')
        with open(ini, 'w') as f:
            f.writelines(lines)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (ROOT, env.get('PYTHONPATH')) if p)
        self.proc = subprocess.Popen(
            [uwsgi, '--ini', ini], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        glance33.wait_for(self.url + '/versions', timeout, self.proc,
                          self.log_path)
        return self

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def stop_process(proc, log=None, timeout=30):
    """Terminate *proc* if it runs (kill it after *timeout* seconds) and
    close its *log* file."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    if proc is not None and log is not None:
        log.close()


def run_facts():
    """When, on what and at which commit a run was made, and the load on
    the machine as it began: the head of every benchmark report."""
    return {
        'date': datetime.datetime.now(datetime.UTC).isoformat(
            timespec='seconds'),
        'machine': {'cpus': os.cpu_count(), 'python':
                    platform.python_version(), 'kernel': platform.release()},
        'glance_import_commit': git_commit(),
        'loadavg_before': [round(v, 2) for v in os.getloadavg()],
    }


def finish_report(report, render, path, log=print):
    """Note the load as the run ends, print ``render(report)``, and write
    *report* as JSON at *path* with the text beside it as ``.txt``."""
    report['loadavg_after'] = [round(v, 2) for v in os.getloadavg()]
    text = render(report)
    print()
    print(text)
    with open(path, 'w') as f:
        json.dump(report, f, indent=2, default=str)
    with open(os.path.splitext(path)[0] + '.txt', 'w') as f:
        f.write(text + '\n')
    log('\nresults written to %s (and .txt)' % path)


def git_commit():
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                              cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


class Run:
    """Both services, the measurements taken so far, and the log."""

    def __init__(self, services, profile, rounds, log):
        self.services = services      # name -> (endpoint, server)
        self.profile = profile
        self.rounds = rounds
        self.log = log
        self.results = {name: {'direct': {}, 'download': {},
                               'metadata': {}, 'errors': []}
                        for name in services}

    def each(self, label, func):
        """Call func(name, ep, server) for every service; keep failures."""
        for name, (ep, server) in self.services.items():
            self.log('[%s] %s' % (name, label))
            try:
                func(name, ep, server)
            except (bench.BenchError, OSError) as e:
                message = '%s: %s' % (label, e)
                self.log('  FAILED %s' % message)
                self.results[name]['errors'].append(message)

    def direct(self, size, data_dir, sample_memory):
        path, digests = bench.make_data(data_dir, size)

        def one(name, ep, server):
            r = bench.glance_direct(
                ep, path, size, digests,
                memory_pid=server.pid if sample_memory else None,
                cpu_pid=server.pid)
            self.results[name]['direct'][str(size)] = r
            self.log('  create %.2fs stage %.2fs import %.2fs total %.2fs'
                     ' (service CPU: stage %.1fs, import %.1fs)'
                     % (r['create_s'], r['stage_s'], r['import_s'],
                        r['total_s'], r['stage_cpu_s'], r['import_cpu_s']))
            if sample_memory:
                self.log('  staging memory: tree RSS %(tree_rss_MB).0f MB, '
                         'tree PSS %(tree_pss_MB).0f MB' % r['stage_memory'])
            try:
                d = bench.download(ep, r['image_id'], size,
                                   [server.store_dir], rounds=3)
                self.results[name]['download'][str(size)] = d
                self.log('  download %.0f MB/s' % d['download_MBps'])
            finally:
                bench.delete_image(ep, r['image_id'])
        self.each('glance-direct %s' % human(size), one)

    def web(self, size, data_dir, http_port):
        path, digests = bench.make_data(data_dir, size)
        with bench.file_server(data_dir, http_port) as base:
            def one(name, ep, server):
                r = bench.web_download(ep, base, path, size, digests)
                self.results[name]['web_download'] = r
                self.log('  import %.2fs' % r['import_s'])
                bench.delete_image(ep, r['image_id'])
            self.each('web-download %s' % human(size), one)

    def metadata(self):
        ids = {}

        def populate(name, ep, server):
            ids[name] = bench.populate(ep, self.profile['images'])
        self.each('create %d images' % self.profile['images'], populate)
        paths = {name: {'list': bench.list_paths(i), 'show':
                        bench.show_paths(i)} for name, i in ids.items()}
        for op in ('list', 'show'):
            for c in self.profile['concurrency']:
                for _ in range(self.rounds):
                    self._load(op, c, paths)
        # No clean-up: both services and their state go away after the run.

    def _load(self, op, c, paths):
        key = '%s_c%d' % (op, c)

        def one(name, ep, server):
            if name not in paths:
                return
            r = bench.load(ep, paths[name][op], c, self.profile['requests'],
                           cpu_pid=server.pid)
            self.log('  %.0f req/s p50 %.1f ms p99 %.1f ms errors %d, '
                     'service CPU %.2f ms/request'
                     % (r['rps'], r['p50_ms'], r['p99_ms'], r['errors'],
                        r['server_cpu_ms']))
            best = self.results[name]['metadata'].get(key)
            # Best of the rounds: background load only ever slows a round.
            if best is None or r['rps'] > best['rps']:
                self.results[name]['metadata'][key] = r
        self.each('metadata %s concurrency %d' % (op, c), one)


def human(size):
    if size >= bench.GiB:
        return '%g GiB' % (size / bench.GiB)
    return '%g MiB' % (size / bench.MiB)


# -- the table -------------------------------------------------------------

def _get(results, *keys):
    value = results
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def rows(report):
    """(label, glance value, ours value, unit, higher_is_better)."""
    g, o = report['glance33'], report['glance_import']
    profile = report['profile']
    out = []
    for size in profile['sizes']:
        s = str(size)
        for key, label in (('create_s', 'create'), ('stage_s', 'stage'),
                           ('import_s', 'import -> active'),
                           ('total_s', 'create -> active')):
            out.append(('%s glance-direct: %s' % (human(size), label),
                        _get(g, 'direct', s, key),
                        _get(o, 'direct', s, key), 's', False))
        for key, label in (('stage_cpu_s', 'stage'),
                           ('import_cpu_s', 'import')):
            out.append(('%s glance-direct: service CPU, %s'
                        % (human(size), label),
                        _get(g, 'direct', s, key),
                        _get(o, 'direct', s, key), 's', False))
        out.append(('%s download (cold cache)' % human(size),
                    _get(g, 'download', s, 'download_MBps'),
                    _get(o, 'download', s, 'download_MBps'), 'MB/s', True))
        out.append(('%s stored file read from the disk (cold)'
                    % human(size),
                    _get(g, 'download', s, 'disk_read_MBps'),
                    _get(o, 'download', s, 'disk_read_MBps'), 'MB/s', True))
    largest = str(max(profile['sizes']))
    for key, label in (('tree_rss_MB', 'RSS'), ('tree_pss_MB', 'PSS'),
                       ('max_proc_rss_MB', 'RSS, largest process')):
        out.append(('%s staging: peak %s of the service'
                    % (human(max(profile['sizes'])), label),
                    _get(g, 'direct', largest, 'stage_memory', key),
                    _get(o, 'direct', largest, 'stage_memory', key),
                    'MB', False))
    out.append(('%s web-download: create -> active'
                % human(profile['web_size']),
                _get(g, 'web_download', 'total_s'),
                _get(o, 'web_download', 'total_s'), 's', False))
    for op in ('list', 'show'):
        for c in profile['concurrency']:
            key = '%s_c%d' % (op, c)
            for field, unit, higher in (('rps', 'req/s', True),
                                        ('p50_ms', 'ms', False),
                                        ('p99_ms', 'ms', False),
                                        ('server_cpu_ms', 'ms', False)):
                name = {'rps': 'throughput', 'p50_ms': 'p50',
                        'p99_ms': 'p99',
                        'server_cpu_ms': 'service CPU/request'}[field]
                out.append(('metadata %s c=%d: %s' % (op, c, name),
                            _get(g, 'metadata', key, field),
                            _get(o, 'metadata', key, field), unit, higher))
    return out


def ratio(gv, ov, higher):
    """How many times better glance_import is (>1 = better)."""
    if gv is None or ov is None or not gv or not ov:
        return None
    return ov / gv if higher else gv / ov


def targets(report):
    """The figures issue 6 asks for: (description, met or None, detail)."""
    g, o = report['glance33'], report['glance_import']
    profile = report['profile']
    out = []
    first = str(profile['sizes'][0])
    r = ratio(_get(g, 'direct', first, 'total_s'),
              _get(o, 'direct', first, 'total_s'), False)
    out.append(('%s create -> active >= 3.5x faster than Glance 33'
                % human(profile['sizes'][0]),
                None if r is None else r >= 3.5,
                'x%.2f' % r if r else 'n/a'))
    for c in profile['concurrency']:
        for op in ('list', 'show'):
            key = '%s_c%d' % (op, c)
            rr = ratio(_get(g, 'metadata', key, 'rps'),
                       _get(o, 'metadata', key, 'rps'), True)
            gp = _get(g, 'metadata', key, 'p99_ms')
            op99 = _get(o, 'metadata', key, 'p99_ms')
            met = None if rr is None or gp is None or op99 is None else (
                rr >= 3 and op99 < gp)
            out.append(('metadata %s c=%d: >= 3x req/s and lower p99'
                        % (op, c), met,
                        'x%.2f, p99 %.1f vs %.1f ms' % (rr, op99, gp)
                        if met is not None else 'n/a'))
    largest = str(max(profile['sizes']))
    memory = _get(o, 'direct', largest, 'stage_memory') or {}
    pss = memory.get('tree_pss_MB')
    out.append(('peak memory staging %s < 150 MB, whole service (PSS of '
                'all %s processes)' % (human(max(profile['sizes'])),
                                       memory.get('processes', '?')),
                None if pss is None else pss < 150,
                'PSS %.0f MB (summed RSS %.0f MB)'
                % (pss, memory['tree_rss_MB']) if pss is not None
                else 'n/a'))
    biggest = memory.get('max_proc_rss_MB')
    out.append(('peak memory staging %s < 150 MB, largest single process '
                '(RSS)' % human(max(profile['sizes'])),
                None if biggest is None else biggest < 150,
                'RSS %.0f MB' % biggest if biggest is not None else 'n/a'))
    # The image's own file read cold between the download rounds; the
    # disk floor, measured minutes earlier, when the file was not found.
    disk = (_get(o, 'download', largest, 'disk_read_MBps')
            or _get(report, 'disk', 'read_MBps'))
    down = _get(o, 'download', largest, 'download_MBps')
    share = down / disk if down and disk else None
    out.append(('download >= 90% of the disk\'s sequential read',
                None if share is None else share >= 0.9,
                '%.0f%% (%.0f of %.0f MB/s)' % (share * 100, down, disk)
                if share is not None else 'n/a'))
    return out


def _fmt(value, unit):
    if value is None:
        return '-'
    if unit in ('MB/s', 'req/s', 'MB'):
        return '%.0f' % value
    return '%.2f' % value if unit == 's' else '%.1f' % value


def table(report):
    lines = []
    disk = report.get('disk') or {}
    lines.append('Disk floor: write %s MB/s (with fdatasync), sequential '
                 'read %s MB/s (cold cache)'
                 % (_fmt(disk.get('write_MBps'), 'MB/s'),
                    _fmt(disk.get('read_MBps'), 'MB/s')))
    width = max(len(r[0]) for r in rows(report)) + 2
    header = '%-*s %10s %14s %6s  %s' % (width, 'measurement', 'Glance 33',
                                        'glance_import', 'unit', 'better')
    lines += [header, '-' * len(header)]
    for label, gv, ov, unit, higher in rows(report):
        rr = ratio(gv, ov, higher)
        lines.append('%-*s %10s %14s %6s  %s' % (
            width, label, _fmt(gv, unit), _fmt(ov, unit), unit,
            'x%.2f' % rr if rr else '-'))
    lines.append('')
    lines.append('Targets (issue 6):')
    for description, met, detail in targets(report):
        mark = {True: 'MET', False: 'NOT MET', None: 'NOT MEASURED'}[met]
        lines.append('  [%s] %s: %s' % (mark, description, detail))
    for name in ('glance33', 'glance_import'):
        for error in report[name].get('errors', []):
            lines.append('  error (%s): %s' % (name, error))
    lines.append('Load average before/after: %s / %s; nice %s' % (
        report['loadavg_before'], report['loadavg_after'],
        report.get('nice', 0)))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark Glance 33 and glance_import side by side.')
    parser.add_argument('--quick', action='store_true',
                        help='small sizes and counts for a smoke run')
    parser.add_argument('--glance-venv', default=None,
                        help='virtualenv for Glance 33 (created if missing;'
                             ' default %s)' % glance33.default_venv())
    parser.add_argument('--workdir', default=os.path.join(
        tempfile.gettempdir(), 'glance_import-bench'),
        help='service state and cached test data')
    parser.add_argument('--output', help='results file (.json; a .txt '
                        'with the table is written next to it)')
    parser.add_argument('--workers', type=int, default=2,
                        help='glance_import worker processes')
    parser.add_argument('--server', choices=('prefork', 'uwsgi'),
                        default='prefork',
                        help='serve glance_import with glance-import-api '
                             '(prefork workers) or under uwsgi with the '
                             'shipped etc/glance-import-uwsgi.ini')
    parser.add_argument('--glance-processes', type=int, default=2)
    parser.add_argument('--glance-threads', type=int, default=4)
    parser.add_argument('--nice', type=int, default=0,
                        help='scheduling priority change for this run and '
                             'both services (negative needs root), to '
                             'measure on a machine busy with other work')
    parser.add_argument('--rounds', type=int, default=2,
                        help='metadata rounds per service (best is kept)')
    args = parser.parse_args(argv)

    def log(message):
        print(message, flush=True)

    if args.nice:
        # Inherited by both services, so neither is favoured.
        os.nice(args.nice)
    profile = dict(bench.QUICK if args.quick else bench.FULL)
    workdir = os.path.abspath(args.workdir)
    data_dir = os.path.join(workdir, 'data')
    for name in ('glance33', 'glance_import'):
        shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
    os.makedirs(workdir, exist_ok=True)
    venv = glance33.ensure_venv(args.glance_venv, log=log)
    http_port = glance33.free_port()
    report = {
        **run_facts(),
        'profile': profile,
        'glance33_deployment': {'processes': args.glance_processes,
                                'threads': args.glance_threads},
        'glance_import_deployment': {'workers': args.workers,
                                     'server': args.server},
        'nice': os.getpriority(os.PRIO_PROCESS, 0),
    }
    log('disk floor in %s' % workdir)
    report['disk'] = bench.disk_floor(workdir, profile['disk_size'])
    log('  write %(write_MBps).0f MB/s, read %(read_MBps).0f MB/s'
        % report['disk'])
    for size in set(profile['sizes']) | {profile['web_size']}:
        bench.make_data(data_dir, size)

    glance = glance33.Glance(venv, os.path.join(workdir, 'glance33'),
                             allowed_ports=[http_port],
                             processes=args.glance_processes,
                             threads=args.glance_threads)
    server_class = OursUwsgi if args.server == 'uwsgi' else Ours
    ours = server_class(os.path.join(workdir, 'glance_import'), http_port,
                        args.workers)
    started = []
    try:
        for server in (glance, ours):
            server.start()
            started.append(server)
        log('Glance 33 at %s, glance_import at %s' % (glance.url, ours.url))
        services = {
            'glance33': (bench.Endpoint(glance.url, HEADERS), glance),
            'glance_import': (bench.Endpoint(ours.url, HEADERS), ours),
        }
        run = Run(services, profile, args.rounds, log)
        t0 = time.monotonic()
        largest = max(profile['sizes'])
        for size in profile['sizes']:
            run.direct(size, data_dir, sample_memory=size == largest)
        run.web(profile['web_size'], data_dir, http_port)
        run.metadata()
        report['duration_s'] = round(time.monotonic() - t0, 1)
    finally:
        for server in reversed(started):
            server.stop()
    report.update(run.results)
    finish_report(report, table, args.output or os.path.join(
        workdir, 'results-%s.json' % time.strftime('%Y%m%d-%H%M%S')), log)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Install and run real OpenStack Glance 33 under uwsgi for the benchmark.

Glance gets its own virtualenv (``pip install glance==33.0.0 uwsgi``), a
SQLite database, the file store and a staging directory, and runs under
uwsgi the way a two-core deployment would. Authentication is off, but
instead of Glance's no-auth pipeline (whose context has no project, so
imports fail) the paste file puts Glance's ``context`` filter in front of
the app: it trusts ``X-Identity-Status: Confirmed`` and the ``X-Project-Id``
/ ``X-Roles`` headers as keystonemiddleware would have set them, which is
what a keystone deployment costs minus the token validation.

With a cache directory Glance runs its caching flavor: its ``cache``
filter after ``context``, ``image_cache_dir`` and, which its default
``centralized_db`` cache driver needs to start, ``worker_self_reference_url``.

Run ``python bench/glance33.py serve`` to get a Glance on a free port.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

GLANCE_VERSION = '33.0.0'
FLAVOR = 'trustedheaders'

# Headers a client sends so the context filter builds a project-scoped
# context (what keystonemiddleware would add after validating a token).
TRUSTED_HEADERS = {
    'X-Identity-Status': 'Confirmed',
    'X-Roles': 'admin,member,reader',
}

PASTE_INI = """\
# Glance's own filters and apps; only the pipeline choice is ours.
[composite:glance-api-{flavor}]
paste.composite_factory = glance.api:root_app_factory
/: api
/healthcheck: healthcheck

[composite:api]
paste.composite_factory = glance.api:pipeline_factory
{flavor} = cors http_proxy_to_wsgi versionnegotiation osprofiler context \
    {cache_filter}rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[app:healthcheck]
paste.app_factory = oslo_middleware:Healthcheck.app_factory
backends = disable_by_file
disable_by_file_path = {workdir}/healthcheck_disable

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:\
VersionNegotiationFilter.factory

[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory

[filter:osprofiler]
paste.filter_factory = osprofiler.web:WsgiMiddleware.factory

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = glance
oslo_config_program = glance-api

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
{cache_section}"""

# Glance's own cache filter, as its "keystone+caching" flavor has it.
CACHE_PASTE_SECTION = """
[filter:cache]
paste.filter_factory = glance.api.middleware.cache:CacheFilter.factory
"""

CACHE_CONF = """\
image_cache_dir = {cache_dir}
worker_self_reference_url = {url}
"""

API_CONF = """\
[DEFAULT]
enabled_import_methods = [glance-direct,web-download]
node_staging_uri = file://{workdir}/staging
log_file = {workdir}/glance-api.log
debug = false
{cache_options}
[database]
connection = {database}

[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = {workdir}/images

[paste_deploy]
flavor = {flavor}
config_file = {workdir}/etc/glance-api-paste.ini

[import_filtering_opts]
allowed_hosts = [127.0.0.1]
allowed_ports = [{allowed_ports}]

[oslo_concurrency]
lock_path = {workdir}/locks

[task]
work_dir = {workdir}/tasks
"""

# Modelled on devstack's uwsgi deployment of Glance: a master, one
# process per core, HTTP spoken by the workers and one request per
# connection. We add a few threads per process (Glance runs its import
# tasks on native threads in the same process) so that one long upload
# does not leave a whole process unable to answer.
UWSGI_INI = """\
[uwsgi]
http-socket = 127.0.0.1:{port}
module = glance.wsgi.api:application
virtualenv = {venv}
master = true
processes = {processes}
threads = {threads}
enable-threads = true
lazy-apps = true
thunder-lock = true
die-on-term = true
exit-on-reload = false
buffer-size = 65535
http-keepalive = false
add-header = Connection: close
http-chunked-input = true
http-auto-chunked = true
http-raw-body = true
socket-timeout = 300
post-buffering = 0
env = OS_GLANCE_CONFIG_DIR={workdir}/etc
logto = {workdir}/uwsgi.log
disable-logging = true
"""


def default_venv():
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser(
        '~/.cache')
    return os.path.join(cache, 'glance_import-bench', 'glance33')


def free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _installed(venv):
    python = os.path.join(venv, 'bin', 'python')
    if not os.path.exists(os.path.join(venv, 'bin', 'uwsgi')):
        return False
    probe = subprocess.run(
        [python, '-c', 'import psycopg2, pymysql;'
         'import importlib.metadata as m;'
         'print(m.version("glance"))'],
        capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == GLANCE_VERSION


def ensure_venv(venv=None, log=print):
    """Create *venv* with Glance 33 and uwsgi unless it already has them."""
    venv = os.path.abspath(venv or default_venv())
    if _installed(venv):
        return venv
    log('installing glance==%s and uwsgi into %s (a few minutes)'
        % (GLANCE_VERSION, venv))
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    base = getattr(sys, '_base_executable', None) or sys.executable
    subprocess.run([base, '-m', 'venv', venv], check=True)
    pip = os.path.join(venv, 'bin', 'pip')
    subprocess.run([pip, 'install', '--quiet', '--upgrade', 'pip'],
                   check=True)
    # The database drivers let the scale benchmark put Glance on the
    # same PostgreSQL or MySQL server as glance_import.
    subprocess.run([pip, 'install', '--quiet',
                    'glance==%s' % GLANCE_VERSION, 'uwsgi',
                    'psycopg2-binary', 'PyMySQL'], check=True)
    if not _installed(venv):
        raise RuntimeError('Glance %s did not install into %s'
                           % (GLANCE_VERSION, venv))
    return venv


class Glance:
    """One Glance 33 under uwsgi rooted at *workdir*."""

    def __init__(self, venv, workdir, port=None, allowed_ports=(),
                 processes=2, threads=4, database=None, cache_dir=None,
                 uwsgi=None):
        self.venv = os.path.abspath(venv)
        self.workdir = os.path.abspath(workdir)
        self.port = port or free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.allowed_ports = list(allowed_ports) or [80, 443]
        self.processes = processes
        self.threads = threads
        # An SQLAlchemy URL; SQLite in the state directory by default.
        self.database = database or 'sqlite:///%s/glance.sqlite' % (
            self.workdir)
        self.proc = None
        self.store_dir = os.path.join(self.workdir, 'images')
        self.staging_dir = os.path.join(self.workdir, 'staging')
        # Set: the caching flavor with this image_cache_dir.
        self.cache_dir = cache_dir and os.path.abspath(cache_dir)
        # A uwsgi binary other than the virtualenv's (built for the same
        # Python), for a Glance installed without one.
        self.uwsgi = uwsgi or os.path.join(self.venv, 'bin', 'uwsgi')

    def configure(self):
        cache = {'flavor': FLAVOR, 'cache_filter': '', 'cache_section': '',
                 'cache_options': ''}
        if self.cache_dir:
            os.makedirs(self.cache_dir, exist_ok=True)
            cache = {'flavor': FLAVOR + '+caching', 'cache_filter': 'cache ',
                     'cache_section': CACHE_PASTE_SECTION,
                     'cache_options': CACHE_CONF.format(
                         cache_dir=self.cache_dir, url=self.url)}
        values = {
            **cache, 'workdir': self.workdir, 'port': self.port,
            'venv': self.venv, 'processes': self.processes,
            'threads': self.threads, 'database': self.database,
            'allowed_ports': ','.join(str(p) for p in self.allowed_ports),
        }
        for sub in ('etc', 'images', 'staging', 'locks', 'tasks'):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        files = {
            'etc/glance-api.conf': API_CONF,
            'etc/glance-api-paste.ini': PASTE_INI,
            'uwsgi.ini': UWSGI_INI,
        }
        for name, template in files.items():
            with open(os.path.join(self.workdir, name), 'w') as f:
                f.write(template.format(**values))
        subprocess.run(
            [os.path.join(self.venv, 'bin', 'glance-manage'),
             '--config-file',
             os.path.join(self.workdir, 'etc', 'glance-api.conf'),
             'db', 'sync'],
            check=True, capture_output=True)

    def start(self, timeout=120):
        self.configure()
        env = dict(os.environ,
                   OS_GLANCE_CONFIG_DIR=os.path.join(self.workdir, 'etc'))
        env.pop('PYTHONPATH', None)
        self.proc = subprocess.Popen(
            [self.uwsgi, '--ini', os.path.join(self.workdir, 'uwsgi.ini')],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.url + '/versions', timeout, self.proc,
                 os.path.join(self.workdir, 'uwsgi.log'))
        # lazy-apps loads Glance in each worker on its own; make sure
        # every worker answers before measuring.
        for _ in range(self.processes * 4):
            wait_for(self.url + '/v2/schemas/image', timeout, self.proc,
                     os.path.join(self.workdir, 'uwsgi.log'))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_for(url, timeout, proc=None, log_path=None):
    """Poll *url* until it answers below 500 or *proc* exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = ''
            if log_path and os.path.exists(log_path):
                with open(log_path, errors='replace') as f:
                    tail = f.read()[-4000:]
            raise RuntimeError('server exited with %s:\n%s'
                               % (proc.returncode, tail))
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError('server at %s did not answer in %ss' % (url, timeout))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=('install', 'serve'))
    parser.add_argument('--venv', default=None,
                        help='virtualenv for Glance (default: %s)'
                             % default_venv())
    parser.add_argument('--workdir',
                        help='state directory (default: a temporary one)')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--allowed-port', type=int, action='append',
                        default=[], help='port web-download may fetch from')
    parser.add_argument('--processes', type=int, default=2)
    parser.add_argument('--threads', type=int, default=4)
    args = parser.parse_args(argv)
    venv = ensure_venv(args.venv)
    if args.command == 'install':
        print(venv)
        return 0
    workdir = args.workdir or tempfile.mkdtemp(prefix='glance33-')
    glance = Glance(venv, workdir, args.port or None, args.allowed_port,
                    args.processes, args.threads)
    signal.signal(signal.SIGTERM, _interrupt)
    with glance:
        print('Glance %s serving at %s (state in %s); send headers %s'
              % (GLANCE_VERSION, glance.url, workdir, TRUSTED_HEADERS),
              flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

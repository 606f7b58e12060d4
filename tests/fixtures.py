"""Test services: the real app served over HTTP, in-process or as a process.

The database comes from ``GLANCE_IMPORT_TEST_DB``: ``sqlite`` (default),
``postgresql`` or ``mysql`` (the local servers on 127.0.0.1), or a full
SQLAlchemy URL. An unreachable configured database fails the run.
"""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid

import requests
import sqlalchemy as sa

DB_URLS = {
    'postgresql': 'postgresql+psycopg2://postgres@127.0.0.1:5432/%s',
    'mysql': 'mysql+pymysql://root@127.0.0.1:3306/%s?charset=utf8mb4',
}


def db_kind():
    return os.environ.get('GLANCE_IMPORT_TEST_DB', 'sqlite')


def create_test_database():
    """A fresh, empty database for this test process; returns its URL.

    For SQLite returns None (each service gets its own file).
    """
    kind = db_kind()
    if kind == 'sqlite':
        return None
    if '://' in kind:
        return kind
    name = 'gi_test_%d_%s' % (os.getpid(), uuid.uuid4().hex[:6])
    admin_url = DB_URLS[kind] % ('postgres' if kind == 'postgresql' else '')
    engine = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT')
    with engine.connect() as conn:
        conn.execute(sa.text('CREATE DATABASE %s' % name))
    engine.dispose()
    return DB_URLS[kind] % name


def fresh_database(directory):
    """Yield the URL of a new, empty database on the configured backend
    (a file under *directory* for SQLite); drop it afterwards."""
    if db_kind() == 'sqlite':
        yield 'sqlite:///%s/fresh.sqlite' % directory
        return
    url = create_test_database()
    try:
        yield url
    finally:
        drop_test_database(url)


def drop_test_database(url):
    if url is None or '://' in db_kind():
        return
    kind = db_kind()
    name = sa.engine.make_url(url).database
    admin_url = DB_URLS[kind] % ('postgres' if kind == 'postgresql' else '')
    engine = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT')
    with engine.connect() as conn:
        if kind == 'postgresql':
            conn.execute(sa.text(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                'WHERE datname = :n AND pid <> pg_backend_pid()'), {'n': name})
        conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
    engine.dispose()


def empty_database_if_migrated(url):
    """Remove every row (schema stays), between services on a shared DB."""
    from glance_import.db import models
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        for table in reversed(models.Base.metadata.sorted_tables):
            if table.name in existing:
                conn.execute(table.delete())
    engine.dispose()


def migrate(url):
    """Bring a shared test database to the current schema."""
    subprocess.run([sys.executable, '-m', 'glance_import.cmd.manage',
                    '--config-file', _db_only_config(url), 'db', 'sync'],
                   check=True, capture_output=True)


def _db_only_config(url):
    import tempfile
    fd, path = tempfile.mkstemp(suffix='.conf')
    with os.fdopen(fd, 'w') as f:
        f.write('[database]\nconnection = %s\n' % url)
    return path


def qcow2_pair(directory):
    """A plain qcow2 and one with it as backing file, made by qemu-img in
    *directory* (a pathlib.Path); skips the test without qemu-img."""
    import pytest
    if not shutil.which('qemu-img'):
        pytest.skip('qemu-img (qemu-utils) is not installed')
    base = directory / 'base.qcow2'
    top = directory / 'top.qcow2'
    subprocess.run(['qemu-img', 'create', '-f', 'qcow2', str(base), '2M'],
                   check=True, capture_output=True)
    subprocess.run(['qemu-img', 'create', '-f', 'qcow2', '-b', str(base),
                    '-F', 'qcow2', str(top)], check=True, capture_output=True)
    return base, top


def free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_config(directory, db_url, overrides=None, port=0):
    """glance-api.conf for a test service rooted at *directory*.

    *overrides* maps 'group.option' (or 'option' for DEFAULT) to a value.
    """
    sections = {
        'DEFAULT': {
            'state_path': directory,
            'bind_host': '127.0.0.1',
            'bind_port': str(port),
            'enable_image_import': 'true',
            'node_staging_uri': 'file://%s/staging' % directory,
            'server_threads': '8',
        },
        'database': {
            'connection': db_url or 'sqlite:///%s/glance.sqlite' % directory,
        },
        'glance_store': {
            # stores and default_store keep their defaults (file,http and
            # file): setting them logs glance_store's deprecation.
            'filesystem_store_datadir': '%s/images' % directory,
        },
        'oslo_policy': {},
    }
    for key, value in (overrides or {}).items():
        group, _, name = key.rpartition('.')
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, (list, tuple)):
            value = ','.join(str(v) for v in value)
        sections.setdefault(group or 'DEFAULT', {})[name] = str(value)
    path = os.path.join(directory, 'glance-api.conf')
    with open(path, 'w') as f:
        for group, opts in sections.items():
            f.write('[%s]\n' % group)
            for name, value in opts.items():
                f.write('%s = %s\n' % (name, value))
            f.write('\n')
    return path


class Client:
    """requests against a service, as a given caller (no-auth headers)."""

    def __init__(self, url, project=None, user=None, roles=None):
        self.url = url.rstrip('/')
        self.headers = {}
        if project:
            self.headers['X-Project-Id'] = project
            self.headers['X-User-Id'] = user or 'user-%s' % project
            self.headers['X-Roles'] = roles or 'member'
        self.session = requests.Session()

    def as_caller(self, project, roles='member', user=None):
        return Client(self.url, project, user, roles)

    def request(self, method, path, **kwargs):
        headers = dict(self.headers)
        headers.update(kwargs.pop('headers', None) or {})
        kwargs.setdefault('timeout', 60)
        return self.session.request(method, self.url + path, headers=headers,
                                    **kwargs)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, **kw):
        return self.request('POST', path, **kw)

    def put(self, path, **kw):
        return self.request('PUT', path, **kw)

    def patch(self, path, **kw):
        return self.request('PATCH', path, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)


class InProcessService:
    """The paste app under cheroot in a thread of the test process."""

    def __init__(self, directory, db_url, overrides=None):
        self.directory = directory
        self.config_file = write_config(directory, db_url, overrides)
        self.server = None
        self.thread = None

    def start(self):
        from glance_import import startup
        from glance_import.api import app
        from glance_import.cmd import api as api_cmd
        conf = startup.load_config(['--config-file', self.config_file],
                                   'glance-api')
        self.conf = conf
        # The service refuses an outdated shared database (db sync is an
        # operator's step); the test migrates it first, as an operator
        # would.
        self._migrate_shared_db(conf)
        app.init_service(conf, auto_migrate=True)
        application = app.load_app(conf)
        # The server glance-import-api runs, on a port of its own.
        listen_socket = socket.create_server(('127.0.0.1', 0))
        self.server = api_cmd.make_server(conf, application, listen_socket)
        self.server.prepare()
        self.port = self.server.bind_addr[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.thread = threading.Thread(target=self.server.serve,
                                       daemon=True)
        self.thread.start()
        return self

    @staticmethod
    def _migrate_shared_db(conf):
        from glance_import.db import engine as db_engine
        from glance_import.db import migration
        db_engine.configure(conf)
        if migration.current_version() != migration.head_version():
            migration.upgrade()

    def stop(self):
        from glance_import.cache import image_cache
        from glance_import.cache import worker
        from glance_import.housekeeping import scrubber
        from glance_import.importer import executor
        executor.shutdown()
        worker.stop()
        scrubber.stop()
        image_cache.reset()
        if self.server is not None:
            self.server.stop()
            self.thread.join(10)
            self.server = None
        from glance_import.db import engine as db_engine
        db_engine.dispose()


class ServiceProcess:
    """``glance-import-api`` as a real child process.

    Without *port* the server binds port 0 and the fixture reads the port
    it got from its log: a port picked here and bound there can be taken by
    another worker's server in between, which then answers in its place.
    """

    def __init__(self, directory, db_url, overrides=None, port=None):
        self.directory = directory
        self.db_url = db_url
        self.overrides = overrides
        self.port = port or 0
        self.config_file = write_config(directory, db_url, overrides,
                                        port=self.port)
        self.proc = None
        self.log_path = os.path.join(directory, 'api.log')

    @property
    def url(self):
        assert self.port, 'the server has not started yet'
        return 'http://127.0.0.1:%d' % self.port

    def command(self):
        return [sys.executable, '-m', 'glance_import.cmd.api',
                '--config-file', self.config_file]

    def start(self, timeout=30):
        self.log = open(self.log_path, 'ab')  # noqa: SIM115 (kept open)
        offset = self.log.tell()
        self.proc = subprocess.Popen(self.command(), stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if not self.port:
            self.port = _bound_port(self.log_path, offset, timeout, self.proc)
            # A restart binds the same port, as a restarted Glance would.
            write_config(self.directory, self.db_url, self.overrides,
                         port=self.port)
        wait_for(self.url + '/versions', timeout, self.proc, self.log_path)
        return self

    def stop(self):
        terminate(self.proc)
        if self.proc:
            self.log.close()

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()


_SERVING = re.compile(rb'Serving on http://[^ ]+:(\d+) ')


def _bound_port(log_path, offset, timeout, proc):
    """The port of the first 'Serving on' line written past *offset*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, 'rb') as f:
            f.seek(offset)
            match = _SERVING.search(f.read())
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    terminate(proc)
    with open(log_path, errors='replace') as f:
        f.seek(offset)
        raise RuntimeError('server did not report its port (exit %s):\n%s'
                           % (proc.returncode, f.read()[-4000:]))


def terminate(proc, timeout=15):
    """SIGTERM *proc* (if still running) and wait; SIGKILL past *timeout*."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_for(url, timeout, proc=None, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            with open(log_path) as f:
                raise RuntimeError('server exited with %s:\n%s'
                                   % (proc.returncode, f.read()[-4000:]))
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError('server at %s did not answer in %ss' % (url, timeout))


def wait_until(predicate, timeout=30, interval=0.1, message='condition'):
    """Poll *predicate* until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s' % message)
        time.sleep(interval)

"""Real Ceph/radosgw/Swift daemons for the storage tests.

``storage()`` starts them once (``tools/ci/storage-up.sh``) and returns
the connection settings; ``release()`` stops them when the last test
process using them is done, unless something else started them (CI
starts them once for all database passes). A backend that cannot start
is an error, never a skip.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, 'tools', 'ci')
STORES = ('ceph', 'objects', 'swift', 'local')
REMOTE = ('ceph', 'objects', 'swift')


def state_dir():
    return os.environ.get('GLANCE_IMPORT_STORAGE_DIR',
                          '/tmp/glance-import-storage')


@contextlib.contextmanager
def _locked():
    state = state_dir()
    os.makedirs(state, exist_ok=True)
    with open(state + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield state


def _running(state):
    try:
        with open(os.path.join(state, 'storage.json')) as f:
            settings = json.load(f)
    except (OSError, ValueError):
        return None
    if not os.path.exists(os.path.join(state, 'storage.env')):
        return None
    for name, pid in settings['pids'].items():
        # A daemon a test restarted (restart()) has a new pid file.
        with contextlib.suppress(OSError, ValueError):
            pid = _pid(settings, name)
        try:
            os.kill(pid, 0)
        except OSError:
            return None
    return settings


def storage():
    """Start the daemons if needed; return storage.json's settings."""
    with _locked() as state:
        settings = _running(state)
        if settings is None:
            proc = subprocess.run(
                [os.path.join(SCRIPTS, 'storage-up.sh'), '--venv',
                 sys.prefix, state], capture_output=True, text=True,
                timeout=900, stdin=subprocess.DEVNULL)
            if proc.returncode:
                raise RuntimeError('storage-up.sh failed (%d):\n%s\n%s' % (
                    proc.returncode, proc.stdout[-3000:],
                    proc.stderr[-6000:]))
            with open(os.path.join(state, 'started-by-tests'), 'w'):
                pass
            settings = _running(state)
            if settings is None:
                raise RuntimeError('storage daemons died right after start')
        _add_user(state)
    _bindings_in_process()
    return settings


def _add_user(state):
    users = os.path.join(state, 'users')
    os.makedirs(users, exist_ok=True)
    with open(os.path.join(users, str(os.getpid())), 'w'):
        pass


def register_user():
    """Count this test process among the daemons' users until release().

    Every process of a run that holds storage tests registers when it has
    collected them: one that finishes its share of them early must not
    stop the daemons under another that has not started its share yet.
    """
    with _locked() as state:
        _add_user(state)


@contextlib.contextmanager
def in_use(exclusive=False):
    """Held by every storage test: shared, or exclusive for a test that
    stops a daemon (other test processes must not see that outage)."""
    with open(state_dir() + '.inuse', 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def release():
    """Stop the daemons if tests started them and no test process is
    still using them."""
    with _locked() as state:
        users = os.path.join(state, 'users')
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(users, str(os.getpid())))
        alive = []
        for name in os.listdir(users) if os.path.isdir(users) else []:
            try:
                os.kill(int(name), 0)
                alive.append(name)
            except (OSError, ValueError):
                os.unlink(os.path.join(users, name))
        marker = os.path.join(state, 'started-by-tests')
        if alive or not os.path.exists(marker):
            return
        os.unlink(marker)
        subprocess.run([os.path.join(SCRIPTS, 'storage-down.sh'), state],
                       capture_output=True, timeout=120)


def _bindings_in_process():
    """rados/rbd for this already running interpreter.

    storage-up.sh adds a .pth for new processes; this one started before
    it, and glance_store's rbd driver may already have tried the import.
    """
    path = os.path.join(sys.prefix, 'lib', 'ceph-bindings')
    if path not in sys.path:
        sys.path.append(path)
    import rados
    import rbd
    from glance_store._drivers import rbd as rbd_driver
    if rbd_driver.rados is None:
        rbd_driver.rados, rbd_driver.rbd = rados, rbd


def store_overrides(settings, directory, default='ceph', **extra):
    """glance-api.conf overrides for the four-store deployment."""
    overrides = {
        'enabled_backends': 'ceph:rbd, objects:s3, swift:swift, local:file',
        'glance_store.default_backend': default,
        'ceph.store_description': 'Ceph RBD pool images',
        'ceph.weight': 30,
        'ceph.rbd_store_ceph_conf': settings['GI_CEPH_CONF'],
        'ceph.rbd_store_user': settings['GI_RBD_USER'],
        'ceph.rbd_store_pool': settings['GI_RBD_POOL'],
        'ceph.rbd_store_chunk_size': 4,
        'ceph.rados_connect_timeout': 30,
        'objects.store_description': 'S3 on radosgw',
        'objects.weight': 20,
        'objects.s3_store_host': settings['GI_S3_URL'],
        'objects.s3_store_access_key': settings['GI_S3_ACCESS_KEY'],
        'objects.s3_store_secret_key': settings['GI_S3_SECRET_KEY'],
        'objects.s3_store_bucket': settings['GI_S3_BUCKET'],
        'objects.s3_store_bucket_url_format': 'path',
        'swift.store_description': 'Swift',
        'swift.weight': 10,
        'swift.default_swift_reference': 'ref1',
        'swift.swift_store_config_file': settings['GI_SWIFT_STORE_CONFIG'],
        'swift.swift_store_container': settings['GI_SWIFT_CONTAINER'],
        'swift.swift_store_create_container_on_put': True,
        'local.store_description': 'Local disk',
        'local.filesystem_store_datadir': os.path.join(directory, 'local'),
    }
    overrides.update(extra)
    return overrides


# Direct access to the backends, to check what the service left there.

def rbd_images(settings):
    import rados
    import rbd
    cluster = rados.Rados(conffile=settings['GI_CEPH_CONF'],
                          rados_id=settings['GI_RBD_USER'])
    cluster.connect(timeout=30)
    try:
        with cluster.open_ioctx(settings['GI_RBD_POOL']) as ioctx:
            return set(rbd.RBD().list(ioctx))
    finally:
        cluster.shutdown()


@contextlib.contextmanager
def rbd_clone(settings, image_id):
    """A clone of the image's protected snapshot, as Nova or Cinder make
    for a server's or a volume's disk; removed on exit."""
    import rados
    import rbd
    cluster = rados.Rados(conffile=settings['GI_CEPH_CONF'],
                          rados_id=settings['GI_RBD_USER'])
    cluster.connect(timeout=30)
    name = 'clone-%s' % image_id
    try:
        with cluster.open_ioctx(settings['GI_RBD_POOL']) as ioctx:
            rbd.RBD().clone(ioctx, image_id, 'snap', ioctx, name,
                            features=rbd.RBD_FEATURE_LAYERING)
            try:
                yield name
            finally:
                rbd.RBD().remove(ioctx, name)
    finally:
        cluster.shutdown()


def s3_client(settings):
    import boto3
    from botocore import config
    return boto3.client(
        's3', endpoint_url=settings['GI_S3_URL'],
        aws_access_key_id=settings['GI_S3_ACCESS_KEY'],
        aws_secret_access_key=settings['GI_S3_SECRET_KEY'],
        region_name='us-east-1',
        config=config.Config(s3={'addressing_style': 'path'},
                             retries={'max_attempts': 1}))


def s3_keys(settings):
    s3 = s3_client(settings)
    keys = set()
    for page in s3.get_paginator('list_objects_v2').paginate(
            Bucket=settings['GI_S3_BUCKET']):
        keys.update(o['Key'] for o in page.get('Contents', []))
    return keys


def swift_connection(settings):
    import swiftclient
    project, user = settings['GI_SWIFT_USER'].split(':')
    return swiftclient.Connection(
        authurl=settings['GI_SWIFT_AUTH_URL'], user=user,
        key=settings['GI_SWIFT_KEY'], auth_version='3',
        os_options={'project_name': project, 'user_domain_id': 'default',
                    'project_domain_id': 'default'})


def swift_objects(settings):
    import swiftclient
    try:
        _headers, listing = swift_connection(settings).get_container(
            settings['GI_SWIFT_CONTAINER'], full_listing=True)
    except swiftclient.ClientException as e:
        if e.http_status == 404:
            return set()
        raise
    return {o['name'] for o in listing}


def objects_of(settings, store, image_id, directory=None):
    """Names in *store* that belong to *image_id* (segments included)."""
    if store == 'ceph':
        names = rbd_images(settings)
    elif store == 'objects':
        names = s3_keys(settings)
    elif store == 'swift':
        names = swift_objects(settings)
    else:
        path = os.path.join(directory, 'local')
        names = set(os.listdir(path)) if os.path.isdir(path) else set()
    return sorted(n for n in names if image_id in n)


# Stopping and restarting one daemon, for failure tests.

def _pid(settings, name):
    with open(os.path.join(settings['GI_STORAGE_DIR'], 'pids',
                           name + '.pid')) as f:
        return int(f.read())


def kill(settings, name):
    pid = _pid(settings, name)
    os.kill(pid, signal.SIGKILL)
    fixtures.wait_until(lambda: not _alive(pid), 20,
                        message='%s to exit' % name)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A killed child of ours stays a zombie until reaped.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def restart(settings, name, ready):
    """Start daemon *name* again with its recorded command line."""
    pids = os.path.join(settings['GI_STORAGE_DIR'], 'pids')
    with open(os.path.join(pids, name + '.cmd')) as f:
        command = f.read()
    with open(os.path.join(pids, name + '.log')) as f:
        log_path = f.read().strip()
    with open(log_path, 'ab') as log:
        proc = subprocess.Popen(['bash', '-c', 'exec ' + command],
                                stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)
    with open(os.path.join(pids, name + '.pid'), 'w') as f:
        f.write(str(proc.pid))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.3)
    raise RuntimeError('%s did not come back' % name)


# Large bodies and the memory of the process that moves them --------------

_PATTERN = (hashlib.sha256(b'pattern').digest() * 32768)[:1 << 20]


class PatternBody:
    """*size* bytes of a repeating 1 MiB pattern, read like a file: a
    known length that requests streams without holding it."""

    def __init__(self, size):
        self.len = size
        self._left = size

    def read(self, size=-1):
        size = min(self._left, len(_PATTERN) if size < 0 else size,
                   len(_PATTERN))
        self._left -= size
        return _PATTERN[:size]


def pattern_digests(size):
    """(md5, sha512) hex digests of ``PatternBody(size)``."""
    md5, sha512 = hashlib.md5(), hashlib.sha512()
    for offset in range(0, size, len(_PATTERN)):
        piece = _PATTERN[:min(len(_PATTERN), size - offset)]
        md5.update(piece)
        sha512.update(piece)
    return md5.hexdigest(), sha512.hexdigest()


class PeakRss:
    """Highest summed RSS of a process and its children, and the time
    spent, while the ``with`` block runs."""

    def __init__(self, pid):
        import psutil
        self._proc = psutil.Process(pid)
        self.peak = 0
        self.seconds = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self):
        import psutil
        total = 0
        for proc in [self._proc] + self._proc.children(recursive=True):
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)

    def __enter__(self):
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self._started
        self._stop.set()
        self._thread.join(5)

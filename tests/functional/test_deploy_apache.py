"""glance_import under Apache httpd and mod_wsgi.

The vhost sample etc/apache-glance-import.conf is used with only its
site-specific values replaced (port, paths, the daemon user, the Python
environment). Debian's mod_wsgi
embeds the system Python 3.11, so the test environment's site-packages is
given as ``python-path``; ``python-home`` only works when the virtualenv
was made from that same interpreter. Apache refuses to run WSGI daemons as
root, so the daemon runs as ``www-data`` and its state lives in a
directory that user can write.

Apache and mod_wsgi come from the system packages ``apache2`` and
``libapache2-mod-wsgi-py3`` (installed by .ci/run).
"""

import contextlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time

import pytest

import glance_import.api
from tests import fixtures
from tests.functional import test_deploy_uwsgi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, 'etc', 'apache-glance-import.conf')
APACHE = '/usr/sbin/apache2'
MODULES = '/usr/lib/apache2/modules'
DAEMON_USER = 'www-data'
SAMPLE_VENV = '/opt/glance_import/.venv'
SAMPLE_API_DIR = (SAMPLE_VENV +
                  '/lib/python3.11/site-packages/glance_import/api')

SERVER = """\
ServerRoot /etc/apache2
ServerName 127.0.0.1
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule wsgi_module {modules}/mod_wsgi.so
LoadModule reqtimeout_module {modules}/mod_reqtimeout.so
PidFile {directory}/httpd.pid
ErrorLog {directory}/error.log
DefaultRuntimeDir {directory}
User {user}
Group {user}
"""


def _missing():
    if not os.path.exists(APACHE):
        return 'apache2 is not installed'
    if not os.path.exists(os.path.join(MODULES, 'mod_wsgi.so')):
        return 'libapache2-mod-wsgi-py3 is not installed'
    # site-packages of this interpreter must suit mod_wsgi's Python.
    built_for = 'mod_wsgi.so-%d.%d' % sys.version_info[:2]
    if not os.path.exists(os.path.join(MODULES, built_for)):
        return 'mod_wsgi is not built for Python %d.%d' % sys.version_info[:2]
    try:
        pwd.getpwnam(DAEMON_USER)
    except KeyError:
        return 'no %s user' % DAEMON_USER
    return None


def vhost(port, directory, api_dir, site_packages):
    """The sample vhost with this machine's values."""
    with open(SAMPLE) as f:
        text = f.read()
    replacements = [
        ('9292', str(port)),
        ('user=glance group=glance',
         'user=%s group=%s' % (DAEMON_USER, DAEMON_USER)),
        ('processes=4', 'processes=2'),
        (SAMPLE_API_DIR + '/wsgi.py', os.path.join(api_dir, 'wsgi.py')),
        (SAMPLE_API_DIR, api_dir),
        ('python-home=' + SAMPLE_VENV, 'python-path=' + site_packages),
        ('${APACHE_LOG_DIR}', directory),
    ]
    for old, new in replacements:
        assert old in text, 'the Apache sample no longer contains %r' % old
        text = text.replace(old, new)
    return text


@pytest.fixture
def apache_service(keystone, test_db_url):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    api_dir = os.path.dirname(os.path.abspath(glance_import.api.__file__))
    site_packages = sysconfig.get_paths()['purelib']
    with _reachable_by_daemon_user([api_dir, site_packages]):
        yield from _apache(keystone, test_db_url, api_dir, site_packages)


def _readable(path):
    return subprocess.run(['runuser', '-u', DAEMON_USER, '--', 'test', '-r',
                           path], check=False).returncode == 0


@contextlib.contextmanager
def _reachable_by_daemon_user(paths):
    """Let the daemon user through the directories above *paths* (a
    checkout under a private home or mktemp directory), for the test."""
    changed = []
    try:
        for path in paths:
            if _readable(path):
                continue
            parent = os.path.dirname(path)
            while parent != os.path.dirname(parent):
                mode = os.stat(parent).st_mode
                if not mode & stat.S_IXOTH:
                    os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
                    changed.append((parent, stat.S_IMODE(mode)))
                parent = os.path.dirname(parent)
            assert _readable(path), '%s cannot read %s' % (DAEMON_USER,
                                                           path)
        yield
    finally:
        for path, mode in reversed(changed):
            os.chmod(path, mode)


def _apache(keystone, test_db_url, api_dir, site_packages):
    # Under /tmp, reachable by the daemon user (pytest's tmp_path is not).
    directory = tempfile.mkdtemp(prefix='glance-import-apache-')
    os.chmod(directory, 0o755)
    state = os.path.join(directory, 'state')
    os.mkdir(state)
    os.chmod(state, 0o777)
    config_file = fixtures.write_config(state, test_db_url,
                                        keystone.service_overrides())
    os.chmod(config_file, 0o644)
    if test_db_url:
        fixtures.migrate(test_db_url)
    port = fixtures.free_port()
    conf = os.path.join(directory, 'httpd.conf')
    with open(conf, 'w') as f:
        f.write(SERVER.format(modules=MODULES, directory=directory,
                              user=DAEMON_USER))
        f.write(vhost(port, directory, api_dir, site_packages))
    # mod_wsgi daemons inherit Apache's environment: that is how the
    # application finds its configuration file.
    env = dict(os.environ, GLANCE_IMPORT_CONFIG_FILES=config_file)
    command = [APACHE, '-f', conf]
    started = subprocess.run(command + ['-k', 'start'], env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    url = 'http://127.0.0.1:%d' % port
    try:
        fixtures.wait_for(url + '/versions', 60)
        yield url, directory
    finally:
        subprocess.run(command + ['-k', 'graceful-stop'], env=env,
                       capture_output=True, timeout=60)
        pid_file = os.path.join(directory, 'httpd.pid')
        fixtures.wait_until(lambda: not os.path.exists(pid_file), 60,
                            message='Apache to stop')
        shutil.rmtree(directory, ignore_errors=True)


def test_import_workflow_under_apache_mod_wsgi(keystone, apache_service):
    url, directory = apache_service
    client = keystone.client(url, 'alpha-member')
    assert client.get('/versions').status_code == 200
    assert fixtures.Client(url).get('/v2/images').status_code == 401
    data = os.urandom(512 * 1024 + 5)
    for _ in range(2):
        test_deploy_uwsgi.import_workflow(client, data)
    with open(os.path.join(directory, 'error.log')) as f:
        assert 'Traceback' not in f.read()



def test_apache_bounds_heads_and_cuts_slow_ones(keystone, apache_service):
    """The sample's limits: an oversize header line is refused at once,
    and a head that stops arriving is cut with 408 (mod_reqtimeout)."""
    url, _ = apache_service
    port = int(url.rsplit(':', 1)[1])
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(b'GET /versions HTTP/1.1\r\nHost: x\r\nX-Big: '
                     + b'a' * 20000 + b'\r\n\r\n')
        assert sock.recv(4096).startswith(b'HTTP/1.1 400 ')
    with socket.create_connection(('127.0.0.1', port), timeout=60) as sock:
        sock.sendall(b'GET /versions HTTP/1.1\r\nHost: x\r\n')
        started = time.monotonic()
        answer = b''
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        waited = time.monotonic() - started
    assert answer.startswith(b'HTTP/1.1 408 '), answer[:200]
    assert 15 <= waited <= 45, waited

"""glance_import under uwsgi, configured from etc/glance-import-uwsgi.ini.

The sample ini is used as shipped except for what is site-specific (the
listening address, the configuration file, the Python environment and the
number of processes). The service authenticates against the test run's
Keystone. One worker is killed with SIGKILL: the master starts a new one
and the import workflow keeps working throughout.
"""

import configparser
import hashlib
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, 'etc', 'glance-import-uwsgi.ini')
OCTETS = {'Content-Type': 'application/octet-stream'}


def uwsgi_binary():
    return os.path.join(os.path.dirname(sys.executable), 'uwsgi')


def worker_pids(master_pid):
    """Pids of the processes whose parent is the uwsgi master."""
    pids = set()
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name.
        fields = stat.rsplit(')', 1)[1].split()
        if fields[0] != 'Z' and int(fields[1]) == master_pid:
            pids.add(int(entry))
    return pids


class UwsgiService:
    """uwsgi running the sample ini with a test glance-api.conf."""

    def __init__(self, directory, config_file, processes=2):
        self.directory = directory
        self.port = fixtures.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.log_path = os.path.join(directory, 'uwsgi.log')
        parser = configparser.ConfigParser(interpolation=None,
                                           strict=False)
        parser.read(SAMPLE)
        section = parser['uwsgi']
        section['http-socket'] = '127.0.0.1:%d' % self.port
        section['env'] = 'GLANCE_IMPORT_CONFIG_FILES=%s' % config_file
        section['virtualenv'] = sys.prefix
        section['processes'] = str(processes)
        section['threads'] = '4'
        section['pidfile'] = os.path.join(directory, 'uwsgi.pid')
        self.ini = os.path.join(directory, 'uwsgi.ini')
        with open(self.ini, 'w') as f:
            parser.write(f)
        self.proc = None

    def start(self):
        self.log = open(self.log_path, 'ab')  # noqa: SIM115 (kept open)
        self.proc = subprocess.Popen(
            [uwsgi_binary(), '--ini', self.ini], cwd=self.directory,
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        fixtures.wait_for(self.url + '/versions', 60, self.proc,
                          self.log_path)
        return self

    def workers(self):
        return worker_pids(self.proc.pid)

    def stop(self):
        # die-on-term in the sample: SIGTERM stops master and workers.
        fixtures.terminate(self.proc, 30)
        if self.proc:
            self.log.close()


def test_sample_ini_names_the_wsgi_application():
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(SAMPLE)
    assert parser['uwsgi']['module'] == 'glance_import.api.wsgi:application'
    assert parser['uwsgi'].getboolean('master')


class SlowSource:
    """An HTTP server sending *data* slowly, so an import stays in flight.
    """

    def __init__(self, data, seconds=4.0, chunks=40):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                step = -(-len(data) // chunks)
                for offset in range(0, len(data), step):
                    self.wfile.write(data[offset:offset + step])
                    self.wfile.flush()
                    time.sleep(seconds / chunks)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.url = 'http://127.0.0.1:%d/slow.raw' % self.port
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


SLOW_DATA = os.urandom(2 * 1024 * 1024 + 11)


@pytest.fixture
def slow_source():
    source = SlowSource(SLOW_DATA)
    yield source
    source.stop()


@pytest.fixture
def uwsgi_service(keystone, tmp_path, test_db_url, slow_source):
    directory = str(tmp_path)
    overrides = keystone.service_overrides()
    overrides.update({
        'import_filtering_opts.allowed_hosts': '127.0.0.1',
        'import_filtering_opts.allowed_ports': slow_source.port,
    })
    config_file = fixtures.write_config(directory, test_db_url, overrides)
    if test_db_url:
        fixtures.migrate(test_db_url)
    service = UwsgiService(directory, config_file)
    try:
        yield service.start()
    finally:
        service.stop()


def import_workflow(client, data):
    """Create, stage, import (glance-direct), download; returns the id."""
    resp = client.post('/v2/images', json={
        'name': 'uwsgi-%s' % uuid.uuid4().hex[:8], 'disk_format': 'raw',
        'container_format': 'bare'})
    assert resp.status_code == 201, resp.text
    image_id = resp.json()['id']
    path = '/v2/images/%s' % image_id
    resp = client.put(path + '/stage', data=data, headers=OCTETS)
    assert resp.status_code == 204, resp.text
    resp = client.post(path + '/import',
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text

    def active():
        image = client.get(path).json()
        assert image['status'] in ('uploading', 'importing', 'active'), image
        return image['status'] == 'active' and image
    image = fixtures.wait_until(active, 60, message='import of %s' % image_id)
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    resp = client.get(path + '/file')
    assert resp.status_code == 200
    assert resp.content == data
    return image_id


def test_import_keeps_working_when_a_worker_is_killed(keystone,
                                                      uwsgi_service):
    client = keystone.client(uwsgi_service.url, 'alpha-member')
    data = os.urandom(1024 * 1024 + 3)
    workers = fixtures.wait_until(
        lambda: len(uwsgi_service.workers()) == 2 and
        uwsgi_service.workers(), 30, message='two uwsgi workers')
    import_workflow(client, data)

    victim = sorted(workers)[0]
    os.kill(victim, signal.SIGKILL)
    # Requests keep succeeding while the master replaces the worker.
    for _ in range(20):
        assert client.get('/v2/images').status_code == 200
    import_workflow(client, data)

    respawned = fixtures.wait_until(
        lambda: len(uwsgi_service.workers()) == 2 and
        uwsgi_service.workers(), 30, message='uwsgi respawn')
    assert victim not in respawned
    assert uwsgi_service.proc.poll() is None
    # Both the survivor and the new worker serve imports.
    for _ in range(3):
        import_workflow(client, data)
    with open(uwsgi_service.log_path) as f:
        assert 'Traceback' not in f.read()


def test_import_in_flight_survives_a_killed_worker(keystone, uwsgi_service,
                                                   slow_source):
    """SIGKILL one worker while a web-download import runs.

    Whichever worker ran the import, it completes: either the survivor
    keeps running it, or the respawned worker finds the task of a dead
    process at start-up and resumes (or reverts and the test sees why).
    """
    client = keystone.client(uwsgi_service.url, 'alpha-member')
    workers = fixtures.wait_until(
        lambda: len(uwsgi_service.workers()) == 2 and
        uwsgi_service.workers(), 30, message='two uwsgi workers')
    resp = client.post('/v2/images', json={
        'name': 'uwsgi-inflight', 'disk_format': 'raw',
        'container_format': 'bare'})
    assert resp.status_code == 201, resp.text
    path = '/v2/images/%s' % resp.json()['id']
    resp = client.post(path + '/import', json={
        'method': {'name': 'web-download', 'uri': slow_source.url}})
    assert resp.status_code == 202, resp.text
    fixtures.wait_until(
        lambda: client.get(path).json()['status'] == 'importing', 30,
        interval=0.05, message='import to start')

    os.kill(sorted(workers)[0], signal.SIGKILL)

    def finished():
        tasks = client.get(path + '/tasks').json()['tasks']
        return tasks and tasks[0]['status'] in ('success', 'failure') \
            and tasks[0]
    task = fixtures.wait_until(finished, 180, interval=0.5,
                               message='the interrupted import')
    assert task['status'] == 'success', task['message']
    image = client.get(path).json()
    assert image['status'] == 'active'
    assert image['checksum'] == hashlib.md5(SLOW_DATA).hexdigest()
    assert client.get(path + '/file').content == SLOW_DATA

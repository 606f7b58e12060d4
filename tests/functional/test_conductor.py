"""Imports on a Redis jobboard, run by glance-import-conductor processes.

Needs Redis on 127.0.0.1:6379 (every test uses its own key namespace).
"""

import subprocess
import sys
import uuid

import pytest
import redis

from tests import fixtures
from tests.functional import importutil
from tests.functional import test_crash_recovery as crash

REDIS_URL = 'redis://127.0.0.1:6379'


@pytest.fixture
def board_name():
    name = 'gi_test_%s' % uuid.uuid4().hex[:10]
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=name + ':*'):
        client.delete(key)


class Conductor:
    """``glance-import-conductor`` as a child process."""

    def __init__(self, config_file, log_path):
        self.config_file = config_file
        self.log_path = log_path
        self.proc = None

    def start(self):
        self.log = open(self.log_path, 'ab')  # noqa: SIM115 (kept open)
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'glance_import.cmd.conductor',
             '--config-file', self.config_file],
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        fixtures.wait_until(self._ready, 30, message='conductor start')
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            with open(self.log_path) as f:
                raise AssertionError('conductor exited with %s:\n%s'
                                     % (self.proc.returncode,
                                        f.read()[-4000:]))
        with open(self.log_path) as f:
            return 'waiting for import jobs' in f.read()

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            fixtures.terminate(self.proc, 30)
            self.log.close()


@pytest.fixture
def cluster(tmp_path, test_db_url, process_factory, board_name):
    """Start the API and conductors sharing database, store and staging."""
    redis.Redis.from_url(REDIS_URL).ping()   # a clear error if it is down
    db_url = test_db_url or 'sqlite:///%s/shared.sqlite' % tmp_path
    conductors = []

    def overrides(source):
        return dict(crash._overrides(source), **{
            'database.connection': db_url,
            'node_staging_uri': 'file://%s' % (tmp_path / 'staging'),
            'glance_store.filesystem_store_datadir': str(tmp_path / 'store'),
            'taskflow_executor.jobboard_url': REDIS_URL,
            'taskflow_executor.jobboard_name': board_name,
            'taskflow_executor.job_claim_expiry': 5})

    def api(source):
        return process_factory(overrides(source), name='api')

    def conductor(source):
        directory = tmp_path / ('conductor%d' % len(conductors))
        directory.mkdir()
        config = fixtures.write_config(str(directory), db_url,
                                       overrides(source))
        worker = Conductor(config, str(directory / 'conductor.log'))
        conductors.append(worker)
        return worker.start()

    yield api, conductor
    for worker in conductors:
        worker.stop()


def _jobs(board_name):
    return redis.Redis.from_url(REDIS_URL).hlen(board_name + ':listings')


def _residue(tmp_path):
    return (importutil.files_in(str(tmp_path / 'staging')),
            importutil.files_in(str(tmp_path / 'store')))


def test_api_posts_jobs_conductor_runs_them(cluster, board_name, tmp_path):
    api, conductor = cluster
    with crash.held_source() as source:
        source.release.set()
        proc = api(source)
        client = fixtures.Client(proc.url)
        image = crash.start_import_from(source, client, 'job')
        # Nobody runs it until a conductor is there.
        assert _jobs(board_name) == 1
        assert importutil.tasks(client, image['id'])[0]['status'] == \
            'pending'
        assert source.requests == 0
        conductor(source)
        importutil.wait_status(client, image['id'], 'active')
        assert importutil.wait_task(client, image['id'])['status'] == \
            'success'
        assert importutil.download(client, image['id']) == source.data
        fixtures.wait_until(lambda: _jobs(board_name) == 0,
                            message='job consumed')
        assert _residue(tmp_path) == ([], [image['id']])


def test_killed_conductor_job_is_finished_by_another(cluster, board_name,
                                                     tmp_path):
    api, conductor = cluster
    with crash.held_source() as source:
        proc = api(source)
        client = fixtures.Client(proc.url)
        first = conductor(source)
        image = importutil.create(client, name='job')
        uri = 'http://127.0.0.1:%d/x' % source.server_address[1]
        resp = importutil.start_import(
            client, image['id'], {'name': 'web-download', 'uri': uri})
        assert resp.status_code == 202, resp.text
        assert source.holding.wait(30), 'the first conductor never started'
        second = conductor(source)
        assert importutil.tasks(client, image['id'])[0]['status'] == \
            'processing'
        first.kill()
        source.release.set()
        image = importutil.wait_status(client, image['id'], 'active',
                                       timeout=90)
        task = importutil.wait_task(client, image['id'])
        assert task['status'] == 'success', task
        assert importutil.download(client, image['id']) == source.data
        # The second conductor ran the download again, from saved state.
        assert source.requests == 2
        fixtures.wait_until(lambda: _jobs(board_name) == 0,
                            message='job consumed')
        assert _residue(tmp_path) == ([], [image['id']])
        assert second.proc.poll() is None

"""An API process killed (SIGKILL) in the middle of an import.

The import is a web-download from a local server that sends part of the
image and then holds the rest until the test releases it, so the kill
always lands inside the flow. After a restart the service resumes the
saved flow (image active, correct data) or, with resuming turned off,
reverts it (image queued, failure recorded); no staged or stored file
is left behind either way.
"""

import contextlib
import hashlib
import http.server
import os
import threading

from tests import fixtures
from tests.functional import importutil

SIZE = 8 * (1 << 20)
HEAD = 1 << 20


class _HeldSource(http.server.BaseHTTPRequestHandler):
    """Serves the image; the first request stops after HEAD bytes."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests += 1
            first = server.requests == 1
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(len(server.data)))
        self.end_headers()
        try:
            self.wfile.write(server.data[:HEAD])
            self.wfile.flush()
            if first:
                server.holding.set()
                server.release.wait(60)
            self.wfile.write(server.data[HEAD:])
        except OSError:
            pass    # the importing process was killed


@contextlib.contextmanager
def held_source():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _HeldSource)
    server.daemon_threads = True
    server.data = os.urandom(SIZE)
    server.requests = 0
    server.lock = threading.Lock()
    server.holding = threading.Event()
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _overrides(source, **extra):
    overrides = {'import_filtering_opts.allowed_hosts': ['127.0.0.1'],
                 'import_filtering_opts.allowed_ports':
                     [source.server_address[1]],
                 'taskflow_executor.recovery_interval': 1}
    overrides.update(extra)
    return overrides


def start_import_from(source, client, name):
    """A web-download import of *source*'s image, accepted; the image."""
    image = importutil.create(client, name=name)
    uri = 'http://127.0.0.1:%d/image.raw' % source.server_address[1]
    resp = importutil.start_import(
        client, image['id'], {'name': 'web-download', 'uri': uri})
    assert resp.status_code == 202, resp.text
    return image


def _kill_during_download(process_factory, source, **extra):
    proc = process_factory(_overrides(source, **extra), name='api')
    client = fixtures.Client(proc.url)
    image = start_import_from(source, client, 'crash')
    assert source.holding.wait(30), 'the download never started'
    staged = os.path.join(proc.directory, 'staging', image['id'])
    fixtures.wait_until(lambda: os.path.exists(staged),
                        message='partial staged data')
    assert importutil.image(client, image['id'])['status'] == 'importing'
    proc.kill()
    source.release.set()
    return proc, client, image['id']


def _residue(proc):
    return (importutil.files_in(os.path.join(proc.directory, 'staging')),
            importutil.files_in(os.path.join(proc.directory, 'images')))


def test_restart_resumes_interrupted_import(process_factory):
    with held_source() as source:
        proc, client, image_id = _kill_during_download(process_factory,
                                                       source)
        proc.start()
        image = importutil.wait_status(client, image_id, 'active')
        assert image['checksum'] == hashlib.md5(source.data).hexdigest()
        assert image['size'] == SIZE
        assert importutil.download(client, image_id) == source.data
        task = importutil.wait_task(client, image_id)
        assert task['status'] == 'success', task
        # The flow went on from the download, which ran a second time.
        assert source.requests == 2
        assert _residue(proc) == ([], [image_id])
        # The lock is gone with the task.
        image = importutil.image(client, image_id)
        assert 'os_glance_import_task' not in image


def test_restart_reverts_when_resuming_is_off(process_factory):
    with held_source() as source:
        proc, client, image_id = _kill_during_download(
            process_factory, source,
            **{'taskflow_executor.resume_interrupted_imports': False})
        proc.start()
        task = importutil.wait_task(client, image_id)
        assert task['status'] == 'failure'
        assert 'interrupted' in task['message']
        image = importutil.image(client, image_id)
        assert image['status'] == 'queued'
        assert image['size'] is None and image['checksum'] is None
        assert source.requests == 1
        assert _residue(proc) == ([], [])
        # The image is usable again: a new import succeeds.
        uri = 'http://127.0.0.1:%d/image.raw' % source.server_address[1]
        resp = importutil.start_import(
            client, image_id, {'name': 'web-download', 'uri': uri})
        assert resp.status_code == 202, resp.text
        importutil.wait_status(client, image_id, 'active')
        assert importutil.download(client, image_id) == source.data


def test_import_of_a_killed_worker_resumes_in_its_replacement(
        process_factory):
    """With prefork workers, the scanning worker's replacement resumes."""
    import signal

    with held_source() as source:
        proc = process_factory(_overrides(source, workers=2), name='api')
        client = fixtures.Client(proc.url)
        image = start_import_from(source, client, 'worker-crash')
        assert source.holding.wait(30), 'the download never started'
        parent = proc.proc.pid
        path = '/proc/%d/task/%d/children' % (parent, parent)
        with open(path) as f:
            workers = [int(pid) for pid in f.read().split()]
        assert len(workers) == 2
        # Whichever worker runs the import, both die; the parent starts
        # two new ones, and the scanning one takes the import over.
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        source.release.set()
        # The old keep-alive connection died with its worker.
        client = fixtures.Client(proc.url)
        image = importutil.wait_status(client, image['id'], 'active')
        assert image['checksum'] == hashlib.md5(source.data).hexdigest()
        assert source.requests == 2
        assert importutil.download(client, image['id']) == source.data

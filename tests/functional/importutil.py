"""Helpers for the import tests: images, stage, import, waits, HTTP source."""

import contextlib
import hashlib
import html
import http.server
import os
import subprocess
import threading
import uuid

from tests import fixtures


def project():
    return 'p-%s' % uuid.uuid4().hex[:12]


def message(resp):
    return html.unescape(resp.text)


def create(client, **body):
    body.setdefault('disk_format', 'raw')
    body.setdefault('container_format', 'bare')
    resp = client.post('/v2/images', json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def stage(client, image_id, data):
    resp = client.put('/v2/images/%s/stage' % image_id, data=data,
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    return resp


def start_import(client, image_id, method='glance-direct', headers=None,
                 **body):
    body = dict(body)
    if isinstance(method, str):
        method = {'name': method}
    body.setdefault('method', method)
    return client.post('/v2/images/%s/import' % image_id, json=body,
                       headers=headers)


def run_client(command, timeout=300):
    """Run a stock command-line client; its standard output.

    OS_* variables of the caller are dropped, and stdin is a terminal:
    without --file the image clients read image data from a stdin that
    is not one.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    primary, terminal = os.openpty()
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=timeout, env=env, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(primary)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def image(client, image_id):
    resp = client.get('/v2/images/%s' % image_id)
    assert resp.status_code == 200, resp.text
    return resp.json()


def tasks(client, image_id):
    resp = client.get('/v2/images/%s/tasks' % image_id)
    assert resp.status_code == 200, resp.text
    return resp.json()['tasks']


def wait_task(client, image_id, timeout=60):
    """Wait until the image's newest task is finished; return it."""
    def finished():
        found = tasks(client, image_id)
        if found and found[0]['status'] in ('success', 'failure'):
            return found[0]
        return None
    return fixtures.wait_until(finished, timeout,
                               message='import task of %s' % image_id)


def wait_status(client, image_id, status, timeout=60):
    return fixtures.wait_until(
        lambda: image(client, image_id)['status'] == status and
        image(client, image_id), timeout,
        message='image %s to become %s' % (image_id, status))


def download(client, image_id):
    resp = client.get('/v2/images/%s/file' % image_id)
    assert resp.status_code == 200, resp.text
    return resp.content


def digests(data):
    return (hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest())


def files_in(directory):
    """Names of the regular files in *directory* (recursively)."""
    found = []
    for root, _dirs, names in os.walk(directory):
        found.extend(os.path.relpath(os.path.join(root, n), directory)
                     for n in names)
    return sorted(found)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_HEAD(self):
        # glance_store's http store asks for the size of a location.
        path = self.path.split('?', 1)[0]
        data = self.server.routes.get(path)
        self.send_response(200 if data is not None else 404)
        self.send_header('Content-Length', str(len(data or b'')))
        self.end_headers()

    def do_GET(self):
        routes = self.server.routes
        path = self.path.split('?', 1)[0]
        if path in self.server.redirects:
            self.send_response(302)
            self.send_header('Location', self.server.redirects[path])
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        if path not in routes:
            self.send_response(404)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        data = routes[path]
        self.server.hits.append(path)
        if path in self.server.broken:
            self.send_response(500)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        if path in self.server.delays:
            self.server.delays[path].wait(30)
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        if path not in self.server.chunked:
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for i in range(0, len(data), 65536):
                piece = data[i:i + 65536]
                self.wfile.write(b'%x\r\n%s\r\n' % (len(piece), piece))
            self.wfile.write(b'0\r\n\r\n')


@contextlib.contextmanager
def http_source(files=None, redirects=None, chunked=(), held=(),
                broken=()):
    """A local HTTP server in a thread serving *files* {path: bytes}.

    Requests for *held* paths wait until ``server.release(path)``; GET
    requests for *broken* paths fail with 500 (HEAD still answers).
    """
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.delays = {p: threading.Event() for p in held}
    server.release = lambda p: server.delays[p].set()
    server.routes = dict(files or {})
    server.redirects = dict(redirects or {})
    server.chunked = set(chunked)
    server.broken = set(broken)
    server.hits = []
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.port = server.server_address[1]
    server.url = 'http://127.0.0.1:%d' % server.port
    try:
        yield server
    finally:
        for event in server.delays.values():
            event.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def location_overrides(server, **extra):
    """Service options for images pointing at *server* through the http
    store: locations shown and changeable, the server's port allowed."""
    values = {'show_multiple_locations': True,
              'show_image_direct_url': True,
              'glance_store.stores': ['file', 'http'],
              'import_filtering_opts.allowed_hosts': ['127.0.0.1'],
              'import_filtering_opts.allowed_ports': [server.port]}
    values.update(extra)
    return values

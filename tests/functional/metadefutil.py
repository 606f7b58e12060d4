"""Helpers for the metadata definitions (/v2/metadefs) functional tests.

The tests talk HTTP to a base URL with identity headers only, so the same
tests run against any Glance-compatible server. By default the server is
the test's own service (``service`` fixture); ``EXTERNAL_URL``, when set
(by a pytest plugin, to check the tests against Glance 33 itself),
replaces it.
"""

import html
import http.client
import http.server
import re
import threading
import urllib.parse
import uuid

from tests import fixtures

EXTERNAL_URL = None
# Tag names are unique regardless of case (Glance on MySQL; Glance on
# SQLite compares them as given).
CASE_INSENSITIVE_TAGS = True

NAMESPACES = '/v2/metadefs/namespaces'
RESOURCE_TYPES = '/v2/metadefs/resource_types'

# Roles as Keystone hands them out (implied roles included).
ADMIN_ROLES = 'admin,member,reader'
MEMBER_ROLES = 'member,reader'
READER_ROLES = 'reader'

TIME_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
_MESSAGE = re.compile(r'</h1>\s*(.*?)<br />', re.S)


def base_url(request):
    """URL of the server under test for a pytest *request*."""
    if EXTERNAL_URL:
        return EXTERNAL_URL
    return request.getfixturevalue('service').url


def uid():
    return uuid.uuid4().hex[:12]


def project():
    return 'md-%s' % uid()


def name(prefix='ns'):
    return '%s-%s' % (prefix, uid())


class Caller(fixtures.Client):
    """A client sending the identity headers of an authenticated caller."""

    def __init__(self, url, project, roles, user=None):
        super().__init__(url, project, user, roles)
        self.headers['X-Identity-Status'] = 'Confirmed'
        self.project = project
        self.roles = roles

    def as_caller(self, project, roles=MEMBER_ROLES, user=None):
        return Caller(self.url, project, roles, user)


class Target:
    """The server under test and callers of it."""

    def __init__(self, url):
        self.url = url.rstrip('/')
        self.admin = Caller(self.url, project(), ADMIN_ROLES)

    def caller(self, project_id=None, roles=MEMBER_ROLES):
        return Caller(self.url, project_id or project(), roles)

    def anonymous(self):
        """No identity headers at all."""
        return fixtures.Client(self.url)


def message(resp):
    """The error text of a response (Glance's HTML error page or JSON)."""
    text = html.unescape(resp.text)
    found = _MESSAGE.search(text)
    if found:
        return found.group(1).strip()
    return text


def ns_path(namespace, *rest):
    return '/'.join((NAMESPACES, namespace) + rest)


def create_namespace(caller, namespace=None, **body):
    """POST a namespace; returns its JSON (asserts 201)."""
    body['namespace'] = namespace or name()
    resp = caller.post(NAMESPACES, json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def delete_namespace(caller, namespace):
    """Remove a namespace, unprotecting it first when needed."""
    path = ns_path(namespace)
    resp = caller.get(path)
    if resp.status_code != 200:
        return
    if resp.json().get('protected'):
        caller.put(path, json={'namespace': namespace, 'protected': False})
    caller.delete(path)


class HeaderProxy:
    """A local HTTP proxy adding identity headers to every request.

    Command line clients that cannot send identity headers themselves
    (openstackclient without Keystone, glanceclient's CLI) talk to the
    server under test through it.
    """

    def __init__(self, target_url, headers):
        parsed = urllib.parse.urlsplit(target_url)
        host, port = parsed.hostname, parsed.port or 80
        extra = dict(headers)
        seen = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _forward(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else None
                out = {k: v for k, v in self.headers.items()
                       if k.lower() not in ('host', 'connection',
                                            'x-auth-token')}
                out.update(extra)
                seen.append((self.command, self.path))
                conn = http.client.HTTPConnection(host, port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body,
                                 headers=out)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for key, value in resp.getheaders():
                        if key.lower() not in ('connection',
                                               'transfer-encoding',
                                               'content-length'):
                            self.send_header(key, value)
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward
            do_HEAD = _forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

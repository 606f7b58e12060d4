"""A real Barbican (the key manager) for functional tests of signatures.

Barbican comes from PyPI in its own virtualenv (it pins its own
dependencies), made once by ``tools/ci/barbican-venv.sh``. One Barbican
serves a whole test run: SQLite, the ``simple_crypto`` plugin with a KEK
made for the run, keystonemiddleware against the run's ``Keystone`` (as
its ``barbican`` service user), cheroot on a free 127.0.0.1 port. It is
registered in Keystone's catalog as ``key-manager`` (RegionOne).

Barbican's default policy lets a project's ``member`` create secrets and
read those of its project; a ``reader`` can do neither, and other
projects (their admins too) get 403 on the payload.
"""

import base64
import os
import ssl
import subprocess

import requests

from tests import fixtures
from tests.keystone import _venv_environ

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_SCRIPT = os.path.join(ROOT, 'tools', 'ci', 'barbican-venv.sh')

# Barbican reads it from every plugin's own config object, each found by
# oslo.config's search path (not argv): it is written as $HOME/barbican.conf
# and the server runs with HOME set to its directory.
CONFIG = """\
[DEFAULT]
use_stderr = true
host_href = {url}
db_auto_create = true
[database]
connection = sqlite:///{directory}/barbican.sqlite
[simple_crypto_plugin]
kek = {kek}
[oslo_policy]
# Today's defaults, stated so that another release cannot loosen them.
enforce_scope = true
enforce_new_defaults = true
[keystone_authtoken]
www_authenticate_uri = {keystone_url}/v3
auth_url = {keystone_url}
auth_type = password
username = {username}
password = {password}
project_name = service
user_domain_id = default
project_domain_id = default
service_type = key-manager
"""

# Run inside the Barbican venv; the port is the last argument. The API
# sits behind keystonemiddleware; the version document at / stays open,
# as python-barbicanclient reads it before its first call.
SERVE = """\
import signal, sys, threading
port = int(sys.argv.pop())
# Barbican first: importing it swaps oslo.config's global CONF for its
# own, where keystonemiddleware then registers its options.
from barbican.api import app as barbican_app
from barbican.api.middleware import context, microversion
from cheroot import wsgi
from keystonemiddleware import auth_token
from oslo_middleware import request_id
from paste import urlmap


def pipeline(app, *filter_factories):
    for make_filter in reversed(filter_factories):
        app = make_filter({})(app)
    return app


application = urlmap.URLMap()
application['/'] = pipeline(
    barbican_app.create_version_app({}), request_id.RequestId.factory,
    microversion.MicroversionMiddleware.factory)
application['/v1'] = pipeline(
    barbican_app.create_main_app({}), request_id.RequestId.factory,
    auth_token.filter_factory, context.ContextMiddleware.factory,
    microversion.MicroversionMiddleware.factory)
server = wsgi.Server(('127.0.0.1', port), application, numthreads=8)
# stop() waits for the serving loop to end: called in the main thread,
# which runs that loop, it would never return.
signal.signal(signal.SIGTERM,
              lambda *a: threading.Thread(target=server.stop).start())
server.start()
"""


def barbican_venv():
    """Path of the Barbican virtualenv, creating it when missing."""
    out = subprocess.run(['bash', VENV_SCRIPT], capture_output=True,
                         text=True, timeout=900)
    if out.returncode:
        raise RuntimeError('%s failed (%s):\n%s' % (
            VENV_SCRIPT, out.returncode, out.stderr[-4000:]))
    return out.stdout.strip().splitlines()[-1]


class Barbican:
    """A cheroot server of Barbican's API, authenticating with *keystone*."""

    SERVICE_USER = 'barbican'

    def __init__(self, directory, venv, keystone):
        self.directory = directory
        self.venv = venv
        self.keystone = keystone
        self.port = fixtures.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.config_file = os.path.join(directory, 'barbican.conf')
        self.log_path = os.path.join(directory, 'barbican.log')
        self.proc = None

    def start(self):
        service_user = self.keystone.users[self.SERVICE_USER]
        # A fresh key-encryption key per run: nothing secret is committed.
        kek = base64.urlsafe_b64encode(os.urandom(32)).decode()
        with open(self.config_file, 'w') as f:
            f.write(CONFIG.format(
                url=self.url, directory=self.directory, kek=kek,
                keystone_url=self.keystone.url,
                username=service_user['name'],
                password=service_user['password']))
        env = _venv_environ(HOME=self.directory)
        self.log = open(self.log_path, 'ab')  # noqa: SIM115 (kept open)
        self.proc = subprocess.Popen(
            [os.path.join(self.venv, 'bin', 'python'), '-c', SERVE,
             str(self.port)],
            env=env, cwd=self.directory, stdout=self.log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            fixtures.wait_for(self.url + '/', 120, self.proc, self.log_path)
        except RuntimeError as exc:
            running = self.proc.poll() is None
            self.stop()
            if not running:
                raise  # wait_for showed the log already
            raise RuntimeError('%s\n%s' % (exc, self._log_tail())) from None
        try:
            self._check_api()
        except BaseException:
            self.stop()
            raise
        self._register_in_catalog()
        return self

    def _check_api(self):
        """The authenticated API answers: a bad setup fails here, loudly."""
        resp = requests.get(self.url + '/v1/secrets', timeout=60, headers={
            'X-Auth-Token': self.keystone.token('alpha-member')})
        if resp.status_code != 200:
            raise RuntimeError('barbican GET /v1/secrets: %s %s\n%s' % (
                resp.status_code, resp.text[:500], self._log_tail()))

    def _log_tail(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()[-4000:]

    def _register_in_catalog(self):
        ks = self.keystone
        service_id = ks._admin('POST', '/services', json={'service': {
            'type': 'key-manager', 'name': 'barbican'}})['service']['id']
        for interface in ('public', 'internal', 'admin'):
            ks._admin('POST', '/endpoints', json={'endpoint': {
                'service_id': service_id, 'interface': interface,
                'url': self.url, 'region_id': 'RegionOne'}})

    def stop(self):
        fixtures.terminate(self.proc)
        if self.proc:
            self.log.close()
            self.proc = None

    # -- REST calls ------------------------------------------------------

    def store_secret(self, persona, payload, secret_type, name=None):
        """Store *payload* (bytes) in *persona*'s project; returns its UUID.
        """
        body = {
            'payload': base64.b64encode(payload).decode('ascii'),
            'payload_content_type': 'application/octet-stream',
            'payload_content_encoding': 'base64',
            'secret_type': secret_type,
        }
        if name:
            body['name'] = name
        resp = requests.post(
            self.url + '/v1/secrets', json=body, timeout=60,
            headers={'X-Auth-Token': self.keystone.token(persona)})
        if resp.status_code != 201:
            raise RuntimeError('barbican store as %s: %s %s' % (
                persona, resp.status_code, resp.text[:500]))
        return resp.json()['secret_ref'].rstrip('/').rpartition('/')[2]

    def store_certificate(self, persona, der_bytes, name=None):
        """Store an X.509 certificate (DER) as a ``certificate`` secret.

        Stored as PEM: castellan parses certificate payloads as PEM and
        hands out DER, which is what cursive loads.
        """
        pem = ssl.DER_cert_to_PEM_cert(der_bytes).encode('ascii')
        return self.store_secret(persona, pem, 'certificate', name=name)

    def payload(self, persona, secret_id):
        """GET a secret's payload as *persona*; returns the response."""
        return requests.get(
            '%s/v1/secrets/%s/payload' % (self.url, secret_id), timeout=60,
            headers={'X-Auth-Token': self.keystone.token(persona),
                     'Accept': 'application/octet-stream'})

    def service_overrides(self):
        """Config overrides making glance_import's castellan use Barbican.

        castellan builds a token plugin from the user's request context
        against ``auth_endpoint`` and talks to ``barbican_endpoint``
        (python-barbicanclient appends ``/v1``), so no catalog lookup.
        """
        return {
            'key_manager.backend': 'barbican',
            'barbican.barbican_endpoint': self.url,
            'barbican.auth_endpoint': self.keystone.url + '/v3',
        }

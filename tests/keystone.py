"""A real Keystone for functional tests, with projects, users and roles.

Keystone comes from PyPI in its own virtualenv (it pins its own
dependencies), made once by ``tools/ci/keystone-venv.sh``. One Keystone
serves a whole test run: SQLite, fernet tokens, cheroot on a free
127.0.0.1 port. Personas:

* ``admin``: the bootstrap admin, ``admin`` role on project ``admin``;
* ``alpha-member`` / ``alpha-reader``: member / reader of ``alpha``;
* ``beta-member`` / ``beta-reader``: member / reader of ``beta``;
* ``glance``: the service user of keystonemiddleware (``service`` role
  on project ``service``);
* ``barbican``: the same for the test Barbican (tests/barbican.py).
"""

import grp
import os
import pwd
import subprocess
import uuid

import requests

from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_SCRIPT = os.path.join(ROOT, 'tools', 'ci', 'keystone-venv.sh')

# persona -> (project, role)
PERSONAS = {
    'alpha-member': ('alpha', 'member'),
    'alpha-reader': ('alpha', 'reader'),
    'beta-member': ('beta', 'member'),
    'beta-reader': ('beta', 'reader'),
    'glance': ('service', 'service'),
    'barbican': ('service', 'service'),
}

CONFIG = """\
[DEFAULT]
log_file = {directory}/keystone.log
[database]
connection = sqlite:///{directory}/keystone.sqlite
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = {directory}/fernet-keys
[fernet_receipts]
key_repository = {directory}/fernet-keys
[credential]
key_repository = {directory}/credential-keys
[identity]
# The cheapest bcrypt cost keystone accepts: setup and every token
# request hash a password.
password_hash_rounds = 4
"""

# Run inside the Keystone venv. Keystone parses sys.argv as its own
# options when the app loads, so the port is taken out of argv first.
SERVE = """\
import signal, sys, threading
port = int(sys.argv.pop())
from cheroot import wsgi
from keystone.wsgi import api
server = wsgi.Server(('127.0.0.1', port), api.application, numthreads=8)
# stop() waits for the serving loop, which runs on this very thread: the
# handler must not block it.
signal.signal(signal.SIGTERM,
              lambda *a: threading.Thread(target=server.stop).start())
server.start()
"""


def keystone_venv():
    """Path of the Keystone virtualenv, creating it when missing."""
    out = subprocess.run(['bash', VENV_SCRIPT], capture_output=True,
                         text=True, timeout=900)
    if out.returncode:
        raise RuntimeError('%s failed (%s):\n%s' % (
            VENV_SCRIPT, out.returncode, out.stderr[-4000:]))
    return out.stdout.strip().splitlines()[-1]


def _venv_environ(**extra):
    """The environment for Keystone's processes: nothing of ours leaks in.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env.update(extra)
    return env


class Keystone:
    """keystone-manage set up plus a cheroot server of keystone's app."""

    def __init__(self, directory, venv):
        self.directory = directory
        self.venv = venv
        self.port = fixtures.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.admin_password = uuid.uuid4().hex
        self.config_file = os.path.join(directory, 'keystone.conf')
        self.log_path = os.path.join(directory, 'keystone-server.log')
        self.proc = None
        self.users = {}
        self.projects = {}
        self._tokens = {}

    def _manage(self, *args):
        cmd = [os.path.join(self.venv, 'bin', 'keystone-manage'),
               '--config-file', self.config_file, *args]
        result = subprocess.run(cmd, capture_output=True, text=True,
                                timeout=300, env=_venv_environ())
        if result.returncode:
            raise RuntimeError('%s failed:\n%s' % (' '.join(args[:1]),
                                                   result.stderr[-4000:]))

    def start(self):
        with open(self.config_file, 'w') as f:
            f.write(CONFIG.format(directory=self.directory))
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        self._manage('db_sync')
        self._manage('fernet_setup', '--keystone-user', user,
                     '--keystone-group', group)
        self._manage('credential_setup', '--keystone-user', user,
                     '--keystone-group', group)
        self._manage('bootstrap',
                     '--bootstrap-password', self.admin_password,
                     '--bootstrap-admin-url', self.url + '/v3',
                     '--bootstrap-public-url', self.url + '/v3',
                     '--bootstrap-internal-url', self.url + '/v3',
                     '--bootstrap-region-id', 'RegionOne')
        env = _venv_environ(OS_KEYSTONE_CONFIG_FILES=self.config_file)
        self.log = open(self.log_path, 'ab')  # noqa: SIM115 (kept open)
        self.proc = subprocess.Popen(
            [os.path.join(self.venv, 'bin', 'python'), '-c', SERVE,
             str(self.port)],
            env=env, cwd=self.directory, stdout=self.log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        fixtures.wait_for(self.url + '/v3', 120, self.proc, self.log_path)
        self._populate()
        return self

    def stop(self):
        fixtures.terminate(self.proc)
        if self.proc:
            self.log.close()
            self.proc = None

    # -- REST calls ------------------------------------------------------

    def _admin(self, method, path, **kwargs):
        headers = {'X-Auth-Token': self.token('admin')}
        resp = requests.request(method, self.url + '/v3' + path,
                                headers=headers, timeout=60, **kwargs)
        if resp.status_code >= 400:
            raise RuntimeError('keystone %s %s: %s %s' % (
                method, path, resp.status_code, resp.text[:500]))
        return resp.json() if resp.content else None

    def _find(self, collection, name):
        found = self._admin('GET', '/%s' % collection,
                            params={'name': name})[collection]
        return found[0]['id'] if found else None

    def _populate(self):
        self.users['admin'] = {
            'name': 'admin', 'password': self.admin_password,
            'project': 'admin', 'role': 'admin',
            'user_id': self._find('users', 'admin'),
            'project_id': self._find('projects', 'admin')}
        self.projects['admin'] = self.users['admin']['project_id']
        roles = {}
        for role in ('admin', 'member', 'reader', 'service'):
            roles[role] = self._find('roles', role) or self._admin(
                'POST', '/roles', json={'role': {'name': role}})['role']['id']
        for project in sorted({p for p, _ in PERSONAS.values()}):
            self.projects[project] = self._admin(
                'POST', '/projects',
                json={'project': {'name': project,
                                  'domain_id': 'default'}})['project']['id']
        for name, (project, role) in PERSONAS.items():
            password = uuid.uuid4().hex
            user_id = self._admin('POST', '/users', json={'user': {
                'name': name, 'password': password, 'domain_id': 'default',
                'default_project_id': self.projects[project]}})['user']['id']
            self._admin('PUT', '/projects/%s/users/%s/roles/%s' % (
                self.projects[project], user_id, roles[role]))
            self.users[name] = {
                'name': name, 'password': password, 'project': project,
                'role': role, 'user_id': user_id,
                'project_id': self.projects[project]}

    def token(self, persona):
        """A project-scoped token of *persona* (cached for the test run)."""
        if persona not in self._tokens:
            self._tokens[persona] = self.fresh_token(persona)
        return self._tokens[persona]

    def fresh_token(self, persona):
        """A new project-scoped token of *persona*, not cached."""
        if persona == 'admin':
            user = {'name': 'admin', 'password': self.admin_password,
                    'project': 'admin'}
        else:
            user = self.users[persona]
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user['name'], 'password': user['password'],
                'domain': {'id': 'default'}}}},
            'scope': {'project': {'name': user['project'],
                                  'domain': {'id': 'default'}}}}}
        resp = requests.post(self.url + '/v3/auth/tokens', json=body,
                             timeout=60)
        if resp.status_code != 201:
            raise RuntimeError('token for %s: %s %s' % (
                persona, resp.status_code, resp.text[:500]))
        return resp.headers['X-Subject-Token']

    def revoke(self, token):
        """Revoke *token* in Keystone."""
        resp = requests.delete(self.url + '/v3/auth/tokens', timeout=60,
                               headers={'X-Auth-Token': self.token('admin'),
                                        'X-Subject-Token': token})
        if resp.status_code != 204:
            raise RuntimeError('revoke: %s %s' % (resp.status_code,
                                                  resp.text[:500]))

    def service_overrides(self):
        """Config overrides for glance_import behind this Keystone."""
        glance = self.users['glance']
        return {
            'paste_deploy.flavor': 'keystone',
            'keystone_authtoken.www_authenticate_uri': self.url,
            'keystone_authtoken.auth_url': self.url,
            'keystone_authtoken.auth_type': 'password',
            'keystone_authtoken.username': glance['name'],
            'keystone_authtoken.password': glance['password'],
            'keystone_authtoken.project_name': 'service',
            'keystone_authtoken.user_domain_id': 'default',
            'keystone_authtoken.project_domain_id': 'default',
            'keystone_authtoken.service_type': 'image',
        }

    def client(self, url, persona):
        """A ``fixtures.Client`` sending *persona*'s token."""
        client = fixtures.Client(url)
        if persona is not None:
            client.headers['X-Auth-Token'] = self.token(persona)
        return client

    def environ(self, persona):
        """``OS_*`` variables for openstackclient acting as *persona*."""
        user = self.users[persona]
        return {
            'OS_AUTH_URL': self.url + '/v3',
            'OS_AUTH_TYPE': 'password',
            'OS_IDENTITY_API_VERSION': '3',
            'OS_USERNAME': user['name'],
            'OS_PASSWORD': user['password'],
            'OS_PROJECT_NAME': user['project'],
            'OS_USER_DOMAIN_ID': 'default',
            'OS_PROJECT_DOMAIN_ID': 'default',
            'OS_REGION_NAME': 'RegionOne',
            'OS_INTERFACE': 'public',
            'OS_IMAGE_API_VERSION': '2',
        }

def start_service(keystone, directory, db_url, overrides=None):
    """A ``glance-import-api`` process authenticating against *keystone*.

    Returns the started ``fixtures.ServiceProcess``; the caller stops it.
    """
    settings = keystone.service_overrides()
    settings.update(overrides or {})
    if db_url:
        fixtures.migrate(db_url)
    return fixtures.ServiceProcess(directory, db_url, settings).start()


class Catalog:
    """Adds and removes service catalog endpoints through the admin API."""

    def __init__(self, keystone):
        self.keystone = keystone

    def add_endpoint(self, service_type, url, region='RegionOne'):
        """Register *url* as the public endpoint; returns the endpoint id."""
        ks = self.keystone
        services = ks._admin('GET', '/services',
                             params={'type': service_type})['services']
        if services:
            service_id = services[0]['id']
        else:
            service_id = ks._admin('POST', '/services', json={'service': {
                'type': service_type, 'name': service_type}})['service']['id']
        return ks._admin('POST', '/endpoints', json={'endpoint': {
            'service_id': service_id, 'interface': 'public', 'url': url,
            'region_id': region}})['endpoint']['id']

    def remove_endpoint(self, endpoint_id):
        self.keystone._admin('DELETE', '/endpoints/%s' % endpoint_id)

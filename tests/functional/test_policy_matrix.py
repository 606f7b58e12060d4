"""Who may call what: every route, every persona, Glance's default policies.

The service runs behind the test run's real Keystone. Personas: ``admin``
(admin role on project admin), the owner project's member and reader
(project alpha), a member of another project (beta), no token, and an
invalid token. The target image is a private image of alpha. Expected
statuses follow Glance's defaults: a caller who cannot see an image gets
404, a caller who can see it but lacks the right gets 403.

After every refused call the image, as the admin sees it, is unchanged:
no project reads or writes another's images, staged data or tasks.
"""

import collections
import contextlib
import http.server
import json
import threading
import uuid

import pytest

from glance_import.api import routes
from tests import fixtures
from tests import keystone as ks

ADMIN = 'admin'
OWNER_MEMBER = 'owner-member'
OWNER_READER = 'owner-reader'
OTHER_MEMBER = 'other-member'
ANONYMOUS = 'anonymous'
INVALID_TOKEN = 'invalid-token'
PERSONAS = (ADMIN, OWNER_MEMBER, OWNER_READER, OTHER_MEMBER, ANONYMOUS,
            INVALID_TOKEN)
KEYSTONE_USERS = {ADMIN: 'admin', OWNER_MEMBER: 'alpha-member',
                  OWNER_READER: 'alpha-reader', OTHER_MEMBER: 'beta-member'}

DATA = b'policy matrix image data\n' * 64
PATCH_TYPE = 'application/openstack-images-v2.1-json-patch'
OCTETS = {'Content-Type': 'application/octet-stream'}
# A project that is not in Keystone: Glance does not check member ids.
GUEST_PROJECT = uuid.uuid4().hex


def expect(admin, member, reader, other, anonymous=401):
    """Statuses per persona; both unauthenticated personas get *anonymous*.
    """
    return {ADMIN: admin, OWNER_MEMBER: member, OWNER_READER: reader,
            OTHER_MEMBER: other, ANONYMOUS: anonymous,
            INVALID_TOKEN: anonymous}


EVERYONE = expect(200, 200, 200, 200)
TASKS_API = expect(200, 403, 403, 403)
READ_IMAGE = expect(200, 200, 200, 404)
WRITE_IMAGE = expect(204, 204, 403, 404)

Row = collections.namedtuple(
    'Row', 'method path variant setup expected request')


def row(method, path, expected, setup='none', variant='', request=None):
    return Row(method, path, variant, setup, expected,
               request or (lambda world, ctx: {}))


def _patch_name(world, ctx):
    return {'json': [{'op': 'replace', 'path': '/name',
                      'value': 'renamed'}],
            'headers': {'Content-Type': PATCH_TYPE}}


def _import(method_name, **extra):
    def request(world, ctx):
        method = {'name': method_name}
        body = {'method': method}
        if method_name == 'web-download':
            method['uri'] = world.source_url
        elif method_name == 'glance-download':
            method.update(glance_image_id=ctx['source_id'],
                          glance_region='RegionOne')
        elif method_name == 'copy-image':
            body['stores'] = ['cheap']
        return {'json': body}
    return request


def _task_body(world, ctx):
    return {'json': {'type': 'import', 'input': {
        'import_from': world.source_url, 'import_from_format': 'raw',
        'image_properties': {'disk_format': 'raw',
                             'container_format': 'bare'}}}}


IMAGE = '/v2/images/{image_id}'
ROWS = [
    row('GET', '/', expect(300, 300, 300, 300, 300)),
    row('GET', '/versions', expect(200, 200, 200, 200, 200)),
    row('GET', '/v2/images', EVERYONE, setup='queued'),
    row('POST', '/v2/images', expect(201, 201, 403, 201),
        request=lambda w, c: {'json': {'name': 'matrix-new',
                                       'disk_format': 'raw',
                                       'container_format': 'bare'}}),
    row('GET', IMAGE, READ_IMAGE, setup='queued'),
    row('PATCH', IMAGE, expect(200, 200, 403, 404), setup='queued',
        request=_patch_name),
    row('DELETE', IMAGE, WRITE_IMAGE, setup='queued'),
    row('GET', IMAGE + '/file', expect(200, 200, 403, 404),
        setup='active'),
    row('PUT', IMAGE + '/file', WRITE_IMAGE, setup='queued',
        request=lambda w, c: {'data': DATA, 'headers': OCTETS}),
    row('PUT', IMAGE + '/stage', WRITE_IMAGE, setup='queued',
        request=lambda w, c: {'data': DATA, 'headers': OCTETS}),
    row('POST', IMAGE + '/import', expect(202, 202, 403, 404),
        setup='staged', variant='glance-direct',
        request=_import('glance-direct')),
    row('POST', IMAGE + '/import', expect(202, 202, 403, 404),
        setup='queued', variant='web-download',
        request=_import('web-download')),
    row('POST', IMAGE + '/import', expect(202, 202, 403, 404),
        setup='queued_and_source', variant='glance-download',
        request=_import('glance-download')),
    # copy_image is admin-only; the owner sees the image, so 403.
    row('POST', IMAGE + '/import', expect(202, 403, 403, 404),
        setup='active', variant='copy-image', request=_import('copy-image')),
    row('GET', IMAGE + '/tasks', READ_IMAGE, setup='imported'),
    # Listing locations is the service's (or an admin's). Registering
    # one passes the policy for admins and members, but without the
    # service role only web URLs may be registered, and this site has no
    # http store: 403, as in Glance.
    row('GET', IMAGE + '/locations', expect(200, 403, 403, 404),
        setup='queued'),
    row('POST', IMAGE + '/locations', expect(403, 403, 403, 404),
        setup='queued',
        request=lambda w, c: {'json': {'url': w.source_url}}),
    row('PUT', IMAGE + '/tags/{tag}', WRITE_IMAGE, setup='queued'),
    row('DELETE', IMAGE + '/tags/{tag}', WRITE_IMAGE, setup='tagged'),
    row('POST', IMAGE + '/actions/deactivate', WRITE_IMAGE,
        setup='active'),
    row('POST', IMAGE + '/actions/reactivate', WRITE_IMAGE,
        setup='deactivated'),
    row('GET', IMAGE + '/members', READ_IMAGE, setup='shared'),
    row('POST', IMAGE + '/members', expect(200, 200, 403, 404),
        setup='shared',
        request=lambda w, c: {'json': {'member': uuid.uuid4().hex}}),
    row('GET', IMAGE + '/members/{member_id}', READ_IMAGE, setup='shared'),
    # Only the member project (or an admin) answers an invitation.
    row('PUT', IMAGE + '/members/{member_id}', expect(200, 403, 403, 404),
        setup='shared', request=lambda w, c: {'json': {
            'status': 'accepted'}}),
    row('DELETE', IMAGE + '/members/{member_id}', WRITE_IMAGE,
        setup='shared'),
    row('GET', '/v2/info/import', EVERYONE),
    row('GET', '/v2/info/stores', EVERYONE),
    # No policy, as in Glance: each caller sees its own project's usage.
    row('GET', '/v2/info/usage', EVERYONE),
    row('GET', '/v2/info/stores/detail', expect(200, 403, 403, 403)),
    # Removing data from a store needs delete_image_location (admin).
    row('DELETE', '/v2/stores/{store_id}/{image_id}',
        expect(204, 403, 403, 404), setup='in_two_stores'),
    row('GET', '/v2/tasks', TASKS_API, setup='imported'),
    row('POST', '/v2/tasks', expect(201, 403, 403, 403),
        request=_task_body),
    row('GET', '/v2/tasks/{task_id}', TASKS_API, setup='imported'),
] + [row('GET', path, EVERYONE) for path in sorted(routes.ROUTES)
     if path.startswith('/v2/schemas/')]

# Metadata definitions: reads follow the namespace's visibility (a
# private namespace of alpha here), every change is metadef_admin's.
# test_metadefs_policy.py runs these on every database.
NS = '/v2/metadefs/namespaces/{namespace}'
READ_NS = expect(200, 200, 200, 404)
ADMIN_ONLY = expect(201, 403, 403, 404)
METADEF_ROWS = [
    row('GET', '/v2/metadefs/namespaces', EVERYONE, setup='namespace',
        request=lambda w, c: {'params': {'limit': 1000}}),
    row('POST', '/v2/metadefs/namespaces', expect(201, 403, 403, 403),
        request=lambda w, c: {'json': {
            'namespace': 'matrix-%s' % uuid.uuid4().hex}}),
    row('GET', NS, READ_NS, setup='namespace'),
    row('PUT', NS, expect(200, 403, 403, 404), setup='namespace',
        request=lambda w, c: {'json': {'namespace': c['namespace'],
                                       'owner': c['owner']}}),
    row('DELETE', NS, expect(204, 403, 403, 404), setup='namespace'),
    row('GET', NS + '/objects', READ_NS, setup='namespace'),
    row('POST', NS + '/objects', ADMIN_ONLY, setup='namespace',
        request=lambda w, c: {'json': {'name': 'matrix-new-object'}}),
    row('DELETE', NS + '/objects', expect(204, 403, 403, 404),
        setup='namespace'),
    row('GET', NS + '/objects/{object_name}', READ_NS, setup='namespace'),
    row('PUT', NS + '/objects/{object_name}', expect(200, 403, 403, 404),
        setup='namespace',
        request=lambda w, c: {'json': {'name': c['object_name']}}),
    row('DELETE', NS + '/objects/{object_name}',
        expect(204, 403, 403, 404), setup='namespace'),
    row('GET', NS + '/properties', READ_NS, setup='namespace'),
    row('POST', NS + '/properties', ADMIN_ONLY, setup='namespace',
        request=lambda w, c: {'json': {'name': 'matrix_new', 'title': 'N',
                                       'type': 'string'}}),
    row('DELETE', NS + '/properties', expect(204, 403, 403, 404),
        setup='namespace'),
    row('GET', NS + '/properties/{property_name}', READ_NS,
        setup='namespace'),
    row('PUT', NS + '/properties/{property_name}',
        expect(200, 403, 403, 404), setup='namespace',
        request=lambda w, c: {'json': {'name': c['property_name'],
                                       'title': 'M', 'type': 'integer'}}),
    row('DELETE', NS + '/properties/{property_name}',
        expect(204, 403, 403, 404), setup='namespace'),
    row('GET', NS + '/tags', READ_NS, setup='namespace'),
    row('POST', NS + '/tags', ADMIN_ONLY, setup='namespace',
        request=lambda w, c: {'json': {'tags': [{'name': 'matrix-t1'}]}}),
    row('DELETE', NS + '/tags', expect(204, 403, 403, 404),
        setup='namespace'),
    row('GET', NS + '/tags/{tag_name}', READ_NS, setup='namespace'),
    row('POST', NS + '/tags/{tag_name}', ADMIN_ONLY,
        setup='namespace_untagged'),
    row('PUT', NS + '/tags/{tag_name}', expect(200, 403, 403, 404),
        setup='namespace',
        request=lambda w, c: {'json': {'name': 'matrix-renamed'}}),
    row('DELETE', NS + '/tags/{tag_name}', expect(204, 403, 403, 404),
        setup='namespace'),
    row('GET', NS + '/resource_types', READ_NS, setup='namespace'),
    row('POST', NS + '/resource_types', ADMIN_ONLY, setup='namespace',
        request=lambda w, c: {'json': {'name': 'OS::Cinder::Volume',
                                       'prefix': 'matrix_'}}),
    row('DELETE', NS + '/resource_types/{resource_type}',
        expect(204, 403, 403, 404), setup='namespace'),
    row('GET', '/v2/metadefs/resource_types', EVERYONE, setup='namespace'),
]

TASK_ROWS = [r for r in ROWS if r.path.startswith('/v2/tasks')]


def _row_id(r):
    return '%s %s%s' % (r.method, r.path,
                        ' [%s]' % r.variant if r.variant else '')


class Source:
    """A local HTTP server with image data, for web-download and tasks."""

    def __init__(self):
        body = DATA

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.url = 'http://127.0.0.1:%d/image.raw' % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def multi_store_overrides(directory, source_port):
    return {
        'enabled_import_methods': 'glance-direct,web-download,copy-image,'
                                  'glance-download',
        'enabled_backends': 'fast:file,cheap:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': '%s/fast' % directory,
        'cheap.filesystem_store_datadir': '%s/cheap' % directory,
        'import_filtering_opts.allowed_hosts': '127.0.0.1',
        'import_filtering_opts.allowed_ports': source_port,
    }


@pytest.fixture(scope='module')
def source():
    src = Source()
    yield src
    src.stop()


@contextlib.contextmanager
def keystone_service(keystone, directory, db_url, source, extra=None):
    """A service behind Keystone, listed in the catalog as ``image``."""
    overrides = multi_store_overrides(directory, source.port)
    overrides.update(extra or {})
    proc = ks.start_service(keystone, directory, db_url, overrides)
    catalog = ks.Catalog(keystone)
    endpoint = catalog.add_endpoint('image', proc.url)
    try:
        yield World(keystone, proc.url, source)
    finally:
        catalog.remove_endpoint(endpoint)
        proc.stop()


@pytest.fixture(scope='module')
def world(keystone, tmp_path_factory, test_db_url, source):
    directory = str(tmp_path_factory.mktemp('policy-matrix'))
    with keystone_service(keystone, directory, test_db_url, source) as w:
        yield w


class World:
    """Clients per persona and the set-ups the rows need."""

    def __init__(self, keystone, url, source):
        self.keystone = keystone
        self.url = url
        self.source_url = source.url
        self.owner = self.client(OWNER_MEMBER)
        self.admin = self.client(ADMIN)
        self._shared = {}

    def client(self, persona):
        if persona == ANONYMOUS:
            return fixtures.Client(self.url)
        if persona == INVALID_TOKEN:
            client = fixtures.Client(self.url)
            client.headers['X-Auth-Token'] = 'gAAAAAB-not-a-real-token'
            return client
        return self.keystone.client(self.url, KEYSTONE_USERS[persona])

    # -- set-ups, each run as the owner project's member ----------------

    def _ok(self, resp, status, what):
        assert resp.status_code == status, (
            'set-up %s: %s %s' % (what, resp.status_code, resp.text[:300]))
        return resp

    def create(self, **extra):
        body = {'name': 'matrix-%s' % uuid.uuid4().hex[:8],
                'disk_format': 'raw', 'container_format': 'bare'}
        body.update(extra)
        resp = self._ok(self.owner.post('/v2/images', json=body), 201,
                        'create image')
        return resp.json()['id']

    def namespace(self, ctx, tagged):
        """A private namespace of the owner project, with one of each
        child; metadefs are written by admins only."""
        ctx.update(namespace='matrix-%s' % uuid.uuid4().hex,
                   owner=self.keystone.projects['alpha'],
                   object_name='matrix-object',
                   property_name='matrix_property', tag_name='matrix-tag',
                   resource_type='OS::Glance::Image')
        body = {'namespace': ctx['namespace'], 'owner': ctx['owner'],
                'visibility': 'private',
                'objects': [{'name': ctx['object_name']}],
                'properties': {ctx['property_name']: {
                    'title': 'P', 'type': 'string'}},
                'resource_type_associations': [{
                    'name': ctx['resource_type'], 'prefix': 'matrix_'}]}
        if tagged:
            body['tags'] = [{'name': ctx['tag_name']}]
        self._ok(self.admin.post('/v2/metadefs/namespaces', json=body), 201,
                 'create namespace')
        return ctx

    def wait_status(self, image_id, status):
        def reached():
            resp = self.admin.get('/v2/images/%s' % image_id)
            return resp.status_code == 200 and \
                resp.json()['status'] == status and resp.json()
        return fixtures.wait_until(reached, 60, message='image %s %s' % (
            image_id, status))

    def setup(self, name):
        """Path variables (and extras) for one row's set-up."""
        ctx = {'tag': 'matrix-tag', 'member_id': GUEST_PROJECT,
               'store_id': 'cheap'}
        if name == 'none':
            return ctx
        if name.startswith('namespace'):
            return self.namespace(ctx, tagged=name == 'namespace')
        if name == 'shared':
            ctx['image_id'] = self.create(visibility='shared')
            self._ok(self.owner.post(
                '/v2/images/%s/members' % ctx['image_id'],
                json={'member': GUEST_PROJECT}), 200, 'add member')
            return ctx
        image_id = ctx['image_id'] = self.create()
        path = '/v2/images/%s' % image_id
        if name == 'queued_and_source':
            ctx['source_id'] = self.setup('active')['image_id']
        if name in ('active', 'deactivated', 'in_two_stores'):
            self._ok(self.owner.put(path + '/file', data=DATA,
                                    headers=OCTETS), 204, 'upload')
        if name == 'deactivated':
            self._ok(self.owner.post(path + '/actions/deactivate'), 204,
                     'deactivate')
        if name == 'tagged':
            self._ok(self.owner.put(path + '/tags/matrix-tag'), 204, 'tag')
        if name in ('staged', 'imported'):
            self._ok(self.owner.put(path + '/stage', data=DATA,
                                    headers=OCTETS), 204, 'stage')
        if name == 'imported':
            self._ok(self.owner.post(path + '/import', json={
                'method': {'name': 'glance-direct'}}), 202, 'import')
            ctx['task_id'] = self.wait_tasks_done(image_id)[0]['id']
        if name == 'in_two_stores':
            self._ok(self.admin.post(path + '/import', json={
                'method': {'name': 'copy-image'}, 'stores': ['cheap']}),
                202, 'copy-image')
            self.wait_tasks_done(image_id)
            stores = self.admin.get(path).json().get('stores', '')
            assert set(stores.split(',')) == {'fast', 'cheap'}, stores
        return ctx

    def shared_setup(self, name):
        """Like setup(), made once per world for read-only rows."""
        if name not in self._shared:
            self._shared[name] = self.setup(name)
        return dict(self._shared[name])

    def wait_tasks_done(self, image_id):
        """Wait until every task of the image has finished; returns them.

        The image is only final once its import task is: the task ends
        after the last change to the image (lock released).
        """
        path = '/v2/images/%s/tasks' % image_id

        def done():
            tasks = self._ok(self.admin.get(path), 200,
                             'image tasks').json()['tasks']
            finished = tasks and all(
                t['status'] in ('success', 'failure') for t in tasks)
            return finished and tasks
        tasks = fixtures.wait_until(done, 60, message='tasks of %s'
                                    % image_id)
        assert [t['status'] for t in tasks] == ['success'] * len(tasks), (
            'set-up import failed: %s' % [t['message'] for t in tasks])
        return tasks

    def snapshot(self, ctx):
        """What the admin sees of the row's image (None without one)."""
        if 'image_id' not in ctx:
            return None
        path = '/v2/images/%s' % ctx['image_id']
        state = {'image': self.admin.get(path).json()}
        if 'member_id' in ctx and state['image'].get(
                'visibility') == 'shared':
            state['members'] = self.admin.get(path + '/members').json()
        return state


def call(world, r, persona, ctx):
    client = world.client(persona)
    kwargs = r.request(world, ctx)
    return client.request(r.method, r.path.format(**ctx), **kwargs)


def check_row(world, r, persona):
    if r.method == 'GET':
        # Reads change nothing: one set-up serves every persona.
        ctx = world.shared_setup(r.setup)
    else:
        ctx = world.setup(r.setup)
    before = world.snapshot(ctx)
    resp = call(world, r, persona, ctx)
    expected = r.expected[persona]
    assert resp.status_code == expected, (
        '%s as %s: %s, expected %s: %s' % (_row_id(r), persona,
                                          resp.status_code, expected,
                                          resp.text[:300]))
    if expected >= 400 and before is not None:
        assert world.snapshot(ctx) == before, (
            'refused %s as %s changed the image' % (_row_id(r), persona))
    return resp, ctx


def test_every_route_has_a_matrix_row():
    # The cache's rows run in test_cache_policy.py, with a cache.
    from tests.functional import test_cache_policy
    covered = {(r.path, r.method) for r in
               ROWS + METADEF_ROWS + test_cache_policy.CACHE_ROWS}
    missing = sorted((path, method) for path, methods in
                     routes.ROUTES.items() for method in methods
                     if (path, method) not in covered)
    assert not missing, 'routes without a policy matrix row: %s' % missing


@pytest.mark.parametrize('persona', PERSONAS)
@pytest.mark.parametrize('r', ROWS, ids=_row_id)
def test_policy_matrix(world, r, persona):
    resp, ctx = check_row(world, r, persona)
    if resp.status_code >= 400:
        return
    if r.path == '/v2/images' and r.method == 'GET':
        listed = [i['id'] for i in resp.json()['images']]
        visible = persona in (ADMIN, OWNER_MEMBER, OWNER_READER)
        assert (ctx['image_id'] in listed) == visible
    if r.path == '/v2/tasks' and r.method == 'GET' and persona == ADMIN:
        assert ctx['task_id'] in [t['id'] for t in resp.json()['tasks']]


def test_other_project_cannot_use_owner_staged_data(world):
    """A staged image of alpha cannot be imported, read or replaced by beta.
    """
    ctx = world.setup('staged')
    path = '/v2/images/%s' % ctx['image_id']
    other = world.client(OTHER_MEMBER)
    assert other.post(path + '/import', json={
        'method': {'name': 'glance-direct'}}).status_code == 404
    assert other.put(path + '/stage', data=b'x',
                     headers=OCTETS).status_code == 404
    assert other.get(path + '/file').status_code == 404
    assert other.delete(path).status_code == 404
    # The owner's data is intact and imports fine.
    world._ok(world.owner.post(path + '/import', json={
        'method': {'name': 'glance-direct'}}), 202, 'import')
    world.wait_status(ctx['image_id'], 'active')
    resp = world.owner.get(path + '/file')
    assert resp.status_code == 200 and resp.content == DATA


def test_shared_image_member_project_reads_but_cannot_write(world):
    image_id = world.create(visibility='shared')
    path = '/v2/images/%s' % image_id
    beta = world.keystone.projects['beta']
    world._ok(world.owner.post(path + '/members', json={'member': beta}),
              200, 'add member')
    other = world.client(OTHER_MEMBER)
    assert other.get(path).status_code == 200
    assert other.put(path + '/stage', data=DATA,
                     headers=OCTETS).status_code == 403
    assert other.put(path + '/file', data=DATA,
                     headers=OCTETS).status_code == 403
    assert other.patch(path, **_patch_name(world, {})).status_code == 403
    assert other.delete(path).status_code == 403
    assert world.admin.get(path).json()['status'] == 'queued'
    # Only the member project answers its own invitation.
    resp = other.put(path + '/members/%s' % beta,
                     json={'status': 'accepted'})
    assert resp.status_code == 200, resp.text
    assert resp.json()['status'] == 'accepted'


def test_tasks_of_one_project_are_hidden_from_another(world):
    ctx = world.setup('imported')
    other = world.client(OTHER_MEMBER)
    assert other.get('/v2/images/%s/tasks' % ctx['image_id']
                     ).status_code == 404
    assert other.get('/v2/tasks/%s' % ctx['task_id']).status_code == 403
    tasks = world.owner.get('/v2/images/%s/tasks' % ctx['image_id'])
    assert [t['id'] for t in tasks.json()['tasks']] == [ctx['task_id']]


# The seed's recommended task policy (policy.json of the Pike import
# documentation): internal task objects open to everyone, the Tasks API
# admin-only. Import by ordinary users keeps working.
SEED_TASK_POLICY = {'get_task': '', 'get_tasks': '', 'add_task': '',
                    'modify_task': '', 'tasks_api_access': 'role:admin'}


@pytest.fixture(scope='module')
def seed_world(keystone, tmp_path_factory, test_db_url, source):
    directory = str(tmp_path_factory.mktemp('policy-seed'))
    policy_file = '%s/policy.json' % directory
    with open(policy_file, 'w') as f:
        json.dump(SEED_TASK_POLICY, f)
    extra = {'oslo_policy.policy_file': policy_file}
    with keystone_service(keystone, directory, test_db_url, source,
                          extra) as w:
        yield w


@pytest.mark.parametrize('persona', PERSONAS)
@pytest.mark.parametrize('r', TASK_ROWS, ids=_row_id)
def test_seed_task_policy(seed_world, r, persona):
    check_row(seed_world, r, persona)


@pytest.mark.parametrize('persona', (OWNER_MEMBER, ADMIN))
def test_seed_task_policy_keeps_import_working(seed_world, persona):
    client = seed_world.client(persona)
    ctx = seed_world.setup('staged')
    path = '/v2/images/%s' % ctx['image_id']
    resp = client.post(path + '/import',
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text
    seed_world.wait_status(ctx['image_id'], 'active')

    def task_statuses():
        tasks = client.get(path + '/tasks')
        assert tasks.status_code == 200, tasks.text
        statuses = [t['status'] for t in tasks.json()['tasks']]
        return statuses if statuses != ['processing'] else None
    assert fixtures.wait_until(task_statuses, 60,
                               message='import task') == ['success']

"""Who the caller is: trusted headers without auth, tokens with keystone."""

import uuid

import pytest

from tests import fixtures

IMAGE = {'disk_format': 'raw', 'container_format': 'bare'}
# Nothing listens on port 1: keystonemiddleware could never validate a
# token there, so these tests only exercise requests without one.
UNREACHABLE = 'http://127.0.0.1:1/identity'


def _create(client, **extra):
    body = dict(IMAGE, name='ctx-%s' % uuid.uuid4().hex, **extra)
    return client.post('/v2/images', json=body)


def test_headers_set_the_caller(client):
    alice = client.as_caller('project-alice', roles='member')
    resp = _create(alice)
    assert resp.status_code == 201, resp.text
    image = resp.json()
    assert image['owner'] == 'project-alice'
    # Another project cannot see it; the owner's reader can.
    bob = client.as_caller('project-bob', roles='member')
    assert bob.get('/v2/images/%s' % image['id']).status_code == 404
    reader = client.as_caller('project-alice', roles='reader')
    assert reader.get('/v2/images/%s' % image['id']).status_code == 200
    # A reader may not create images (add_image needs member).
    assert _create(reader).status_code == 403


def test_x_tenant_id_is_accepted_for_the_project(client):
    resp = client.post('/v2/images', json=dict(IMAGE, name='tenant'),
                       headers={'X-Tenant-Id': 'project-legacy',
                                'X-Roles': 'member'})
    assert resp.status_code == 201
    assert resp.json()['owner'] == 'project-legacy'


def test_roles_are_case_insensitive_and_implied(client):
    admin = client.as_caller('project-ops', roles='Admin')
    alice = client.as_caller('project-alice', roles='member')
    image = _create(alice).json()
    # admin implies member and reader, and sees every project's images.
    assert admin.get('/v2/images/%s' % image['id']).status_code == 200
    resp = _create(admin, owner='project-other')
    assert resp.status_code == 201
    assert resp.json()['owner'] == 'project-other'


def test_member_role_is_the_default(client):
    resp = client.post('/v2/images', json=dict(IMAGE, name='default-role'),
                       headers={'X-Project-Id': 'project-x'})
    assert resp.status_code == 201


def test_no_headers_is_admin_of_the_default_project(client):
    resp = _create(client)
    assert resp.status_code == 201
    image = resp.json()
    assert image['owner'] == 'admin'
    # An admin: publicizing is allowed.
    resp = _create(client, visibility='public')
    assert resp.status_code == 201


def test_default_project_is_configurable(service_factory):
    svc = service_factory({'noauth_default_project_id': 'operators'})
    resp = _create(fixtures.Client(svc.url))
    assert resp.status_code == 201
    assert resp.json()['owner'] == 'operators'


@pytest.fixture
def keystone_flavor(service_factory):
    def start(**overrides):
        options = {
            'paste_deploy.flavor': 'keystone',
            'keystone_authtoken.www_authenticate_uri': UNREACHABLE,
            'keystone_authtoken.auth_url': UNREACHABLE,
            'keystone_authtoken.delay_auth_decision': True,
            'keystone_authtoken.http_connect_timeout': 1,
        }
        options.update(overrides)
        return fixtures.Client(service_factory(options).url)
    return start


def test_keystone_flavor_without_token_is_401(keystone_flavor):
    client = keystone_flavor()
    resp = client.get('/v2/images')
    assert resp.status_code == 401
    assert 'WWW-Authenticate' in resp.headers
    assert _create(client).status_code == 401
    # Identity headers sent by the client are not trusted.
    spoofed = client.as_caller('project-alice', roles='admin')
    assert spoofed.get('/v2/images').status_code == 401
    resp = spoofed.get('/v2/images',
                       headers={'X-Identity-Status': 'Confirmed'})
    assert resp.status_code == 401


def test_keystone_flavor_versions_need_no_token(keystone_flavor):
    client = keystone_flavor()
    assert client.get('/versions').status_code == 200
    assert client.get('/').status_code == 300


def test_anonymous_access_is_read_only(keystone_flavor, tmp_path):
    # With the default (secure RBAC) rules an anonymous caller has no
    # reader role: it reaches the policy layer (403), not a 401.
    client = keystone_flavor(allow_anonymous_access=True)
    assert client.get('/v2/images').status_code == 403
    assert client.get('/v2/schemas/image').status_code == 200

    # Rules opened to everyone still leave anonymous callers read-only.
    policy_file = tmp_path / 'anonymous-policy.yaml'
    policy_file.write_text('"get_images": ""\n"get_image": ""\n'
                           '"add_image": ""\n"delete_image": ""\n')
    client = keystone_flavor(**{'allow_anonymous_access': True,
                                'oslo_policy.policy_file': str(policy_file)})
    resp = client.get('/v2/images')
    assert resp.status_code == 200
    assert 'images' in resp.json()
    resp = _create(client)
    assert resp.status_code == 403
    assert 'Read-only access' in resp.text
    resp = client.delete('/v2/images/%s' % uuid.uuid4())
    assert resp.status_code in (403, 404)

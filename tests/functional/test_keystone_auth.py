"""glance_import behind a real Keystone: the ``keystone`` paste flavor.

Tokens are validated by keystonemiddleware against the test run's
Keystone; the request context (project, roles) comes from the token,
never from headers the client sends.
"""

import pytest

from tests import keystone as ks

IMAGE = {'name': 'ks-auth', 'disk_format': 'raw', 'container_format': 'bare'}


@pytest.fixture(scope='module')
def api(keystone, tmp_path_factory, test_db_url):
    directory = tmp_path_factory.mktemp('keystone-auth-api')
    proc = ks.start_service(keystone, str(directory), test_db_url)
    yield proc
    proc.stop()


def as_persona(keystone, api, persona):
    return keystone.client(api.url, persona)


def test_versions_answer_without_a_token(keystone, api):
    # As in Glance, version discovery happens before authentication.
    resp = as_persona(keystone, api, None).get('/versions')
    assert resp.status_code == 200
    assert 'versions' in resp.json()


def test_missing_token_is_401_with_keystone_challenge(keystone, api):
    resp = as_persona(keystone, api, None).get('/v2/images')
    assert resp.status_code == 401
    assert keystone.url in resp.headers.get('WWW-Authenticate', '')


def test_invalid_token_is_401(keystone, api):
    client = as_persona(keystone, api, None)
    resp = client.get('/v2/images', headers={'X-Auth-Token': 'not-a-token'})
    assert resp.status_code == 401


def test_revoked_token_is_401(keystone, tmp_path, test_db_url):
    # Validation results are cached by keystonemiddleware; with the cache
    # off a revoked token stops working at once.
    proc = ks.start_service(keystone, str(tmp_path), test_db_url,
                            {'keystone_authtoken.token_cache_time': -1})
    try:
        token = keystone.fresh_token('beta-reader')
        headers = {'X-Auth-Token': token}
        client = keystone.client(proc.url, None)
        assert client.get('/v2/schemas/image',
                          headers=headers).status_code == 200
        keystone.revoke(token)
        assert client.get('/v2/schemas/image',
                          headers=headers).status_code == 401
    finally:
        proc.stop()


def test_valid_token_reaches_the_api(keystone, api):
    resp = as_persona(keystone, api, 'alpha-reader').get('/v2/schemas/image')
    assert resp.status_code == 200
    assert resp.json()['name'] == 'image'


def test_image_owner_is_the_token_project(keystone, api):
    client = as_persona(keystone, api, 'alpha-member')
    resp = client.post('/v2/images', json=IMAGE)
    assert resp.status_code == 201, resp.text
    assert resp.json()['owner'] == keystone.projects['alpha']


def test_identity_headers_from_the_client_are_ignored(keystone, api):
    # keystonemiddleware replaces X-Project-Id/X-Roles with the token's.
    client = as_persona(keystone, api, 'beta-reader')
    spoofed = {'X-Project-Id': keystone.projects['alpha'],
               'X-Roles': 'admin,member', 'X-Identity-Status': 'Confirmed'}
    resp = client.post('/v2/images', json=IMAGE, headers=spoofed)
    assert resp.status_code == 403, resp.text
    listed = client.get('/v2/images', headers=spoofed,
                        params={'owner': keystone.projects['alpha']})
    assert listed.status_code == 200
    assert listed.json()['images'] == []


def test_images_are_scoped_to_their_project(keystone, api):
    owner = as_persona(keystone, api, 'alpha-member')
    image = owner.post('/v2/images', json=dict(IMAGE, name='scoped'))
    assert image.status_code == 201, image.text
    image_id = image.json()['id']
    path = '/v2/images/%s' % image_id

    for persona in ('alpha-member', 'alpha-reader', 'admin'):
        resp = as_persona(keystone, api, persona).get(path)
        assert resp.status_code == 200, (persona, resp.text)

    other = as_persona(keystone, api, 'beta-member')
    assert other.get(path).status_code == 404
    ids = [i['id'] for i in other.get('/v2/images').json()['images']]
    assert image_id not in ids
    assert other.patch(path, json=[{'op': 'replace', 'path': '/name',
                                    'value': 'stolen'}], headers={
        'Content-Type': 'application/openstack-images-v2.1-json-patch'},
    ).status_code == 404
    assert other.delete(path).status_code == 404

    listed = owner.get('/v2/images', params={'name': 'scoped'}).json()
    assert image_id in [i['id'] for i in listed['images']]
    assert owner.get(path).json()['name'] == 'scoped'

"""GET / and /versions, version negotiation, and the import switch."""

import pytest

from tests import fixtures

IMPORT_PATHS = [
    ('PUT', '/v2/images/%s/stage'),
    ('POST', '/v2/images/%s/import'),
    ('GET', '/v2/info/import'),
]
SOME_ID = '8a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c'


def _ids(resp):
    return [(v['id'], v['status']) for v in resp.json()['versions']]


def test_versions_with_import_enabled(service_factory):
    svc = service_factory({'enable_image_import': True})
    resp = fixtures.Client(svc.url).get('/versions')
    assert resp.status_code == 200
    assert resp.headers['Content-Type'] == 'application/json'
    ids = _ids(resp)
    # Glance 33's single-store list, newest first: 2.17 is the locations
    # API, CURRENT as in Glance.
    assert ids[0] == ('v2.17', 'CURRENT')
    assert ids[1:] == [('v2.%d' % m, 'SUPPORTED')
                       for m in (15, 9, 7, 6, 5, 4, 3, 2, 1, 0)]
    for version in resp.json()['versions']:
        assert set(version) == {'id', 'status', 'links'}
        assert version['links'] == [
            {'rel': 'self', 'href': svc.url + '/v2/'}]


def test_versions_with_import_disabled(service_factory):
    svc = service_factory({'enable_image_import': False})
    client = fixtures.Client(svc.url)
    ids = _ids(client.get('/versions'))
    assert ids[0] == ('v2.5', 'CURRENT')
    assert 'v2.6' not in [i for i, _ in ids]
    for method, path in IMPORT_PATHS:
        resp = client.request(method, path.replace('%s', SOME_ID))
        assert resp.status_code == 404, (method, path)
        assert 'Image import is not supported at this site.' in resp.text
    # A v2.6 URL is not a version this server speaks.
    assert client.get('/v2.6/images').status_code == 300


def test_import_paths_exist_when_enabled(service_factory):
    svc = service_factory({'enable_image_import': True})
    resp = fixtures.Client(svc.url).get('/v2/info/import')
    assert resp.status_code == 200


def test_multi_store_versions(service_factory, tmp_path):
    svc = service_factory({
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow')})
    ids = [i for i, _ in _ids(fixtures.Client(svc.url).get('/versions'))]
    assert ids == ['v2.%d' % m for m in
                   (17, 15, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)]


def test_cache_versions(service_factory, tmp_path):
    # Glance 33 lists 2.14, 2.16 and 2.18 (the cache API) while
    # image_cache_dir is set, 2.18 being CURRENT then.
    svc = service_factory({'image_cache_dir': str(tmp_path / 'cache')})
    client = fixtures.Client(svc.url)
    ids = _ids(client.get('/versions'))
    assert ids[0] == ('v2.18', 'CURRENT')
    assert [i for i, _ in ids] == ['v2.%d' % m for m in
                                   (18, 17, 16, 15, 14, 9, 7, 6, 5, 4, 3, 2,
                                    1, 0)]
    for prefix in ('/v2.14', '/v2.16', '/v2.18'):
        assert client.get(prefix + '/schemas/image').status_code == 200


def test_cache_versions_with_multi_store(service_factory, tmp_path):
    svc = service_factory({
        'image_cache_dir': str(tmp_path / 'cache'),
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow')})
    ids = [i for i, _ in _ids(fixtures.Client(svc.url).get('/versions'))]
    assert ids == ['v2.%d' % m for m in
                   (18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3,
                    2, 1, 0)]


def test_cache_versions_need_the_import_api(service_factory, tmp_path):
    svc = service_factory({'image_cache_dir': str(tmp_path / 'cache'),
                           'enable_image_import': False})
    client = fixtures.Client(svc.url)
    assert _ids(client.get('/versions'))[0] == ('v2.5', 'CURRENT')
    assert client.get('/v2.18/schemas/image').status_code == 300


def test_root_is_multiple_choices(client, service):
    resp = client.get('/')
    assert resp.status_code == 300
    assert _ids(resp)[0][0] == 'v2.17'


@pytest.mark.parametrize('path', ['/v1/images', '/v3', '/foo', '/v2.99/x'])
def test_unknown_version_gets_versions_document(client, path):
    resp = client.get(path)
    assert resp.status_code == 300
    assert 'versions' in resp.json()


def test_versions_subpath_is_200(client):
    assert client.get('/versions/anything').status_code == 200


@pytest.mark.parametrize('prefix', ['/v2', '/v2.0', '/v2.3', '/v2.6',
                                    '/v2.15'])
def test_minor_version_prefix_maps_to_v2(client, prefix):
    resp = client.get(prefix + '/schemas/image')
    assert resp.status_code == 200


def test_accept_header_selects_v2(client):
    resp = client.get('/v2/schemas/image', headers={
        'Accept': 'application/vnd.openstack.images-v2.6'})
    assert resp.status_code == 200


def test_public_endpoint_builds_links(service_factory):
    svc = service_factory({'public_endpoint': 'https://lb.example/image'})
    resp = fixtures.Client(svc.url).get('/versions')
    assert resp.json()['versions'][0]['links'][0]['href'] == \
        'https://lb.example/image/v2/'


def test_request_id_is_returned_and_reused(client):
    resp = client.get('/versions')
    assert resp.headers['X-Openstack-Request-ID'].startswith('req-')
    resp = client.get('/versions',
                      headers={'X-Openstack-Request-ID': 'req-mine'})
    assert resp.headers['X-Openstack-Request-ID'] == 'req-mine'
    resp = client.get('/versions',
                      headers={'X-Openstack-Request-ID': 'x' * 65})
    assert resp.status_code == 431


def test_healthcheck(client):
    assert client.get('/healthcheck').status_code == 200


def test_real_server_process(process_factory):
    proc = process_factory({'enable_image_import': False})
    resp = fixtures.Client(proc.url).get('/versions')
    assert resp.status_code == 200
    assert _ids(resp)[0] == ('v2.5', 'CURRENT')

"""Image locations: JSON-patch on /locations and the 2.17 locations API
(POST/GET /v2/images/{id}/locations with background hashing), over HTTP,
with data served by a local web server through glance_store's http
store."""

import hashlib

import pytest

from tests import fixtures
from tests.functional import importutil as iu
from tests.functional.imageutil import create
from tests.functional.imageutil import message
from tests.functional.imageutil import patch

DATA_A = b'A' * 3000 + b'a'
# Same size as DATA_A: locations of one image hold data of one size.
DATA_B = b'B' * 3001


@pytest.fixture
def source():
    with iu.http_source({'/a.img': DATA_A, '/b.img': DATA_B,
                         '/empty.img': b''}) as server:
        yield server


OWNER = 'alpha'


def admin_of_owner(url):
    return fixtures.Client(url).as_caller(OWNER, roles='admin,member')


@pytest.fixture
def client(service_factory, source):
    return admin_of_owner(service_factory(iu.location_overrides(source)).url)


def new_image(client):
    return create(client, disk_format='raw', container_format='bare')


def add(client, image_id, url, index='-', **value):
    value.setdefault('metadata', {})
    return patch(client, image_id, [{'op': 'add',
                                     'path': '/locations/%s' % index,
                                     'value': dict(value, url=url)}])


def urls(body):
    return [loc['url'] for loc in body['locations']]


def show(client, image_id):
    return client.get('/v2/images/%s' % image_id).json()


# JSON-patch ------------------------------------------------------------

def test_add_activates_and_keeps_the_order_given(client, source):
    a, b = source.url + '/a.img', source.url + '/b.img'
    image = new_image(client)
    resp = add(client, image['id'], a, metadata={'k': 'v'})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body['status'] == 'active'
    # The size comes from the store, as in Glance.
    assert body['size'] == len(DATA_A)
    assert body['direct_url'] == a
    assert body['locations'] == [{'url': a, 'metadata': {'k': 'v'}}]
    # Inserted at 0: first in the answer and in every later read (Glance
    # answers so but reads back in creation order).
    resp = add(client, image['id'], b, index=0)
    assert resp.status_code == 200, resp.text
    assert urls(resp.json()) == [b, a]
    assert urls(show(client, image['id'])) == [b, a]
    assert show(client, image['id'])['direct_url'] == b
    # The data is served from the first location.
    assert iu.download(client, image['id']) == DATA_B


def test_add_refusals(client, source):
    a = source.url + '/a.img'
    image = new_image(client)
    assert add(client, image['id'], a).status_code == 200
    cases = [
        (a, '-', 400, 'The location %s already exists' % a),
        (source.url + '/missing.img', '-', 400, 'Invalid location'),
        (source.url + '/empty.img', '-', 400, 'Invalid location'),
        ('file:///etc/passwd', '-', 400, 'Invalid location'),
        ('gopher://example.com/x', '-', 400, 'Invalid location'),
        # Not an allowed port for outgoing requests.
        ('http://127.0.0.1:1/a.img', '-', 400, 'Invalid location'),
        (source.url + '/b.img', 'x', 400,
         'Invalid position for adding a location.'),
    ]
    for url, index, status, text in cases:
        resp = add(client, image['id'], url, index=index)
        assert resp.status_code == status, (url, resp.text)
        assert text in message(resp), (url, message(resp))
    assert urls(show(client, image['id'])) == [a]
    # An index past the end appends.
    resp = add(client, image['id'], source.url + '/b.img', index=7)
    assert resp.status_code == 200, resp.text
    assert urls(resp.json()) == [a, source.url + '/b.img']


def test_add_needs_metadata_and_a_settable_status(client, source):
    image = new_image(client)
    resp = patch(client, image['id'], [{'op': 'add',
                                        'path': '/locations/-',
                                        'value': {'url': source.url}}])
    assert resp.status_code == 400
    assert "'metadata' is a required property" in message(resp)
    resp = patch(client, image['id'], [{'op': 'add', 'path': '/locations',
                                        'value': {}}])
    assert resp.status_code == 400
    no_formats = create(client)
    resp = add(client, no_formats['id'], source.url + '/a.img')
    assert resp.status_code == 400
    assert 'disk_format, container_format must be set' in message(resp)


def test_replace_identical_list_changes_metadata_and_order(client, source):
    a, b = source.url + '/a.img', source.url + '/b.img'
    image = new_image(client)
    add(client, image['id'], a)
    add(client, image['id'], b)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/locations',
         'value': [{'url': b, 'metadata': {'k': 'v2'}},
                   {'url': a, 'metadata': {}}]}])
    assert resp.status_code == 200, resp.text
    assert resp.json()['locations'] == [{'url': b, 'metadata': {'k': 'v2'}},
                                        {'url': a, 'metadata': {}}]
    assert show(client, image['id'])['locations'] == resp.json()[
        'locations']
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/locations',
         'value': [{'url': a, 'metadata': {}}]}])
    assert resp.status_code == 400
    assert 'Original locations is not empty' in message(resp)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/locations', 'value': []}])
    assert resp.status_code == 403
    assert 'Cannot set locations to empty list.' in message(resp)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/locations/0',
         'value': {'url': a, 'metadata': {}}}])
    assert resp.status_code == 400
    assert 'Invalid JSON pointer' in message(resp)


def test_replace_on_queued_image_activates(client, source):
    a, b = source.url + '/a.img', source.url + '/b.img'
    image = new_image(client)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/locations',
         'value': [{'url': a, 'metadata': {}}, {'url': b, 'metadata': {}}]}])
    assert resp.status_code == 200, resp.text
    assert resp.json()['status'] == 'active'
    assert urls(resp.json()) == [a, b]
    image = new_image(client)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/locations',
         'value': [{'url': a, 'metadata': {}}, {'url': a, 'metadata': {}}]}])
    assert resp.status_code == 400
    assert 'already exists' in message(resp)
    assert show(client, image['id'])['status'] == 'queued'


def test_remove(client, source):
    a, b = source.url + '/a.img', source.url + '/b.img'
    image = new_image(client)
    add(client, image['id'], a)
    resp = patch(client, image['id'], [{'op': 'remove',
                                        'path': '/locations/0'}])
    assert resp.status_code == 403
    assert 'Cannot remove last location in the image.' in message(resp)
    add(client, image['id'], b)
    resp = patch(client, image['id'], [{'op': 'remove',
                                        'path': '/locations/5'}])
    assert resp.status_code == 400
    assert 'Invalid position for removing a location.' in message(resp)
    resp = patch(client, image['id'], [{'op': 'remove',
                                        'path': '/locations/-'}])
    assert resp.status_code == 200, resp.text
    assert urls(resp.json()) == [a]
    assert urls(show(client, image['id'])) == [a]


def test_location_changes_follow_policy_and_status(service_factory,
                                                   source):
    svc = service_factory(iu.location_overrides(source,
                                                image_location_quota=1))
    client = fixtures.Client(svc.url)
    a = source.url + '/a.img'
    image = new_image(client)
    resp = patch(client, image['id'], [
        {'op': 'replace', 'path': '/locations',
         'value': [{'url': a, 'metadata': {}},
                   {'url': source.url + '/b.img', 'metadata': {}}]}])
    assert resp.status_code == 413
    assert add(client, image['id'], a).status_code == 200
    # Members of the owning project may add but not remove locations.
    user = client.as_caller('admin', roles='member')
    resp = patch(user, image['id'], [{'op': 'remove',
                                      'path': '/locations/0'}])
    assert resp.status_code == 403
    assert 'delete_image_location' in message(resp)
    assert client.post('/v2/images/%s/actions/deactivate'
                       % image['id']).status_code == 204
    resp = add(client, image['id'], source.url + '/b.img')
    assert resp.status_code == 409
    assert "It's not allowed to add locations if image status is " \
           "deactivated." in message(resp)
    # Deactivated images hide their locations from non-admins.
    assert user.get('/v2/images/%s' % image['id']).json()[
        'locations'] == []


def test_validation_data(client, source):
    a, b = source.url + '/a.img', source.url + '/b.img'
    md5, sha512 = iu.digests(DATA_A)
    image = new_image(client)
    cases = [
        ({'os_hash_algo': 'sha256', 'os_hash_value': sha512}, 409,
         'os_hash_algo must be sha512, not sha256'),
        ({'os_hash_algo': 'sha512', 'os_hash_value': 'zz'}, 409,
         'os_hash_value (zz) is not a valid hexadecimal value'),
        ({'os_hash_algo': 'sha512', 'os_hash_value': 'ab'}, 409,
         'os_hash_value (ab) is not the correct size for sha512 (should '
         'be 64 bytes)'),
        ({'checksum': 'ab', 'os_hash_algo': 'sha512',
          'os_hash_value': sha512}, 400, "'ab' is too short"),
        ({'foo': 'x'}, 400, 'Additional properties are not allowed'),
    ]
    for data, status, text in cases:
        resp = add(client, image['id'], a, validation_data=data)
        assert resp.status_code == status, (data, resp.text)
        assert text in message(resp)
    assert show(client, image['id'])['status'] == 'queued'
    resp = add(client, image['id'], a, validation_data={
        'checksum': md5, 'os_hash_algo': 'sha512', 'os_hash_value': sha512})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body['status'], body['checksum'], body['os_hash_value']) == (
        'active', md5, sha512)
    # Later locations must agree with what the image records.
    resp = add(client, image['id'], b, validation_data={
        'os_hash_algo': 'sha512', 'os_hash_value': '0' * 128})
    assert resp.status_code == 409
    assert 'os_hash_value is already set with a different value' in \
        message(resp)
    resp = add(client, image['id'], b, validation_data={
        'os_hash_algo': 'sha512', 'os_hash_value': sha512})
    assert resp.status_code == 200, resp.text


# The 2.17 locations API -------------------------------------------------

def service(client):
    return client.as_caller(OWNER, roles='service')


def post_location(client, image_id, body):
    return client.post('/v2/images/%s/locations' % image_id, json=body)


def test_post_hashes_in_the_background(client, source):
    a = source.url + '/a.img'
    md5, sha512 = iu.digests(DATA_A)
    image = new_image(client)
    resp = post_location(service(client), image['id'], {'url': a})
    assert resp.status_code == 202, resp.text
    assert resp.content == b''
    task = iu.wait_task(client, image['id'])
    assert task['type'] == 'location_import'
    assert task['status'] == 'success', task
    body = show(client, image['id'])
    assert (body['status'], body['size'], body['checksum'],
            body['os_hash_algo'], body['os_hash_value']) == (
        'active', len(DATA_A), md5, 'sha512', sha512)
    assert iu.download(client, image['id']) == DATA_A
    resp = service(client).get('/v2/images/%s/locations' % image['id'])
    assert resp.status_code == 200
    assert resp.json() == [{'url': a, 'metadata': {}}]
    resp = post_location(service(client), image['id'], {'url': a})
    assert resp.status_code == 409
    assert "It's not allowed to add locations if image status is active." \
        in message(resp)


def test_post_with_validation_data(client, source):
    a = source.url + '/a.img'
    _md5, sha512 = iu.digests(DATA_A)
    sha256 = hashlib.sha256(DATA_A).hexdigest()
    image = new_image(client)
    resp = post_location(service(client), image['id'], {
        'url': a, 'validation_data': {'os_hash_algo': 'sha256',
                                      'os_hash_value': sha256}})
    assert resp.status_code == 202, resp.text
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    body = show(client, image['id'])
    assert (body['status'], body['os_hash_algo'], body['os_hash_value']) \
        == ('active', 'sha256', sha256)
    # A hash that does not match: the task fails, the image is queued
    # again without the location (Glance keeps http locations there).
    image = new_image(client)
    resp = post_location(service(client), image['id'], {
        'url': a, 'validation_data': {'os_hash_algo': 'sha512',
                                      'os_hash_value': '0' * 128}})
    assert resp.status_code == 202
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'failure'
    assert 'not matched with actual os_hash_value: (%s)' % sha512 in \
        task['message']
    body = show(client, image['id'])
    assert (body['status'], body['locations'], body['checksum'],
            body['size']) == ('queued', [], None, None)


def test_post_unreachable_url_fails_the_task(service_factory, source):
    svc = service_factory(iu.location_overrides(source, http_retries=2))
    client = admin_of_owner(svc.url)
    image = new_image(client)
    resp = post_location(service(client), image['id'],
                         {'url': source.url + '/gone.img'})
    assert resp.status_code == 202
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'failure'
    assert 'Invalid location' in task['message']
    assert show(client, image['id'])['status'] == 'queued'


def test_post_hash_failure_after_activation_is_visible(service_factory,
                                                       source):
    svc = service_factory(iu.location_overrides(source, http_retries=2))
    client = admin_of_owner(svc.url)
    # The store finds the data (HEAD), then every read of it fails.
    source.routes['/unreadable.img'] = DATA_B
    source.broken.add('/unreadable.img')
    image = new_image(client)
    resp = post_location(service(client), image['id'],
                         {'url': source.url + '/unreadable.img'})
    assert resp.status_code == 202
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'failure'
    assert 'Hash calculation failed for image %s data' % image['id'] in \
        task['message']
    # Two attempts (http_retries), then the image stays usable.
    assert source.hits.count('/unreadable.img') == 2
    body = show(client, image['id'])
    assert (body['status'], body['size'], body['os_hash_value']) == (
        'active', len(DATA_B), None)


def test_post_refusals(client, source):
    a = source.url + '/a.img'
    image = new_image(client)
    url = '/v2/images/%s/locations' % image['id']
    svc = service(client)
    resp = svc.post(url)
    assert resp.status_code == 400
    assert 'Body expected in request.' in message(resp)
    cases = [
        ({}, 400, "'url' is a required property"),
        ({'url': a, 'validation_data': {'os_hash_value': 'ab'}}, 400,
         "'os_hash_algo' is a dependency of 'os_hash_value'"),
        ({'url': a, 'validation_data': {'os_hash_algo': 'sha512'}}, 400,
         "'os_hash_value' is a dependency of 'os_hash_algo'"),
        ({'url': a, 'validation_data': {'os_hash_algo': 'crc',
                                        'os_hash_value': 'ab'}}, 400,
         "'crc' is not one of"),
        ({'url': a, 'validation_data': {'os_hash_algo': 'sha512',
                                        'os_hash_value': 'ab'}}, 400,
         'os_hash_value: (ab) is not the correct size for (sha512) '
         '(should be (64) bytes)'),
        ({'url': a, 'validation_data': {'os_hash_algo': 'sha512',
                                        'os_hash_value': 'zz'}}, 400,
         'os_hash_value (zz) is not a valid hexadecimal value'),
        ({'url': 'http://127.0.0.1:1/a.img'}, 400,
         'URI for add location does not pass filtering'),
    ]
    for body, status, text in cases:
        resp = svc.post(url, json=body)
        assert resp.status_code == status, (body, resp.text)
        assert text in message(resp), (body, message(resp))
    missing = '/v2/images/6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c/locations'
    assert svc.post(missing, json={'url': a}).status_code == 404
    assert svc.get(missing).status_code == 404
    assert show(client, image['id'])['status'] == 'queued'
    assert iu.tasks(client, image['id']) == []


def test_post_and_get_policy(client, source):
    a = source.url + '/a.img'
    owner = OWNER
    image = new_image(client)
    url = '/v2/images/%s/locations' % image['id']
    member = client.as_caller(owner, roles='member')
    reader = client.as_caller(owner, roles='reader')
    other = client.as_caller('someone-else', roles='member')
    # Only the service may list locations.
    for caller in (member, reader):
        resp = caller.get(url)
        assert resp.status_code == 403, caller.headers
    assert other.get(url).status_code == 404
    assert service(client).get(url).json() == []
    # Members of the owner may register web locations; readers and other
    # projects may not register anything.
    assert reader.post(url, json={'url': a}).status_code == 403
    assert other.post(url, json={'url': a}).status_code == 404
    resp = member.post(url, json={'url': 'rbd://fsid/pool/image/snap'})
    assert resp.status_code == 403
    assert 'http store must be enabled to use location API by normal ' \
        'user.' in message(resp)
    resp = member.post(url, json={'url': a})
    assert resp.status_code == 202, resp.text
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    # Another project's member, on an image it can see: refused too.
    public = create(client, disk_format='raw', container_format='bare',
                    visibility='public')
    public_url = '/v2/images/%s/locations' % public['id']
    resp = other.post(public_url, json={'url': a})
    assert resp.status_code == 403
    assert other.get(public_url).status_code == 403
    assert iu.tasks(client, public['id']) == []


def test_post_while_hashing_is_refused(service_factory):
    with iu.http_source({'/slow.img': DATA_A}, held=['/slow.img']) as slow:
        svc = service_factory(iu.location_overrides(slow))
        client = admin_of_owner(svc.url)
        image = new_image(client)
        resp = post_location(service(client), image['id'], {
            'url': slow.url + '/slow.img',
            'validation_data': {'os_hash_algo': 'sha512',
                                'os_hash_value': iu.digests(DATA_A)[1]}})
        assert resp.status_code == 202
        iu.wait_status(client, image['id'], 'importing')
        resp = post_location(service(client), image['id'],
                             {'url': slow.url + '/slow.img'})
        assert resp.status_code == 409
        assert "It's not allowed to add locations if image status is " \
            "importing." in message(resp)
        slow.release('/slow.img')
        assert iu.wait_task(client, image['id'])['status'] == 'success'
    assert show(client, image['id'])['status'] == 'active'


def test_versions_list_2_17(client):
    versions = [v['id'] for v in client.get('/versions').json()['versions']]
    assert versions[0] == 'v2.17'
    assert 'v2.16' not in versions and 'v2.13' not in versions

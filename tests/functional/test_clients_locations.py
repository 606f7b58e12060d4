"""Image locations driven by unmodified python-glanceclient (its
location-add/-update/-delete and add-location commands, and its Python
add_location, add_image_location and get_image_locations) and
openstacksdk (add_image_location, image_locations).

openstackclient 10.5.0, the pinned release, has no image location
commands; its users reach the same calls through openstacksdk.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.functional import importutil as iu

DATA = b'location data ' * 1000


@pytest.fixture
def source():
    with iu.http_source({'/one.img': DATA, '/two.img': DATA,
                         '/three.img': DATA}) as server:
        yield server


@pytest.fixture
def service(service_factory, source):
    return service_factory(iu.location_overrides(source))


@pytest.fixture
def glance(service):
    import glanceclient
    return glanceclient.Client('2', endpoint=service.url, token='x')


def _cli(service, *args):
    command = [os.path.join(os.path.dirname(sys.executable), 'glance'),
               '--os-image-url', service.url, '--os-auth-token', 'x',
               '--os-image-api-version', '2', *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def _new_image(glance):
    return glance.images.create(disk_format='raw', container_format='bare')


def test_glanceclient_location_commands(glance, service, source):
    one, two = source.url + '/one.img', source.url + '/two.img'
    image = _new_image(glance)
    _cli(service, 'location-add', '--url', one, '--metadata',
         json.dumps({'k': 'v'}), image.id)
    shown = glance.images.get(image.id)
    assert shown.status == 'active'
    assert shown.size == len(DATA)
    assert shown.locations == [{'url': one, 'metadata': {'k': 'v'}}]
    _cli(service, 'location-add', '--url', two, image.id)
    _cli(service, 'location-update', '--url', one, '--metadata',
         json.dumps({'k': 'v2'}), image.id)
    assert glance.images.get(image.id).locations == [
        {'url': one, 'metadata': {'k': 'v2'}},
        {'url': two, 'metadata': {}}]
    _cli(service, 'location-delete', '--url', one, image.id)
    assert glance.images.get(image.id).locations == [
        {'url': two, 'metadata': {}}]
    assert b''.join(glance.images.data(image.id)) == DATA


def test_glanceclient_add_location(glance, service, source):
    image = _new_image(glance)
    _, sha512 = iu.digests(DATA)
    _cli(service, 'add-location', '--url', source.url + '/three.img',
         '--validation-data', json.dumps({'os_hash_algo': 'sha512',
                                          'os_hash_value': sha512}),
         image.id)
    client = iu.fixtures.Client(service.url)
    assert iu.wait_task(client, image.id)['status'] == 'success'
    shown = glance.images.get(image.id)
    assert (shown.status, shown.os_hash_value) == ('active', sha512)
    assert b''.join(glance.images.data(image.id)) == DATA
    # The Python API's add_location on an active image: a new location.
    glance.images.add_location(image.id, source.url + '/one.img', {})
    assert [loc['url'] for loc in glance.images.get(image.id).locations] == [
        source.url + '/three.img', source.url + '/one.img']


def test_glanceclient_locations_api(glance, service, source):
    """The 2.17 calls of glanceclient's Python API, as Nova and Cinder
    make them."""
    image = _new_image(glance)
    md5, sha512 = iu.digests(DATA)
    glance.images.add_image_location(
        image.id, source.url + '/one.img',
        validation_data={'os_hash_algo': 'sha512',
                         'os_hash_value': sha512})
    client = iu.fixtures.Client(service.url)
    assert iu.wait_task(client, image.id)['status'] == 'success'
    shown = glance.images.get(image.id)
    assert (shown.status, shown.checksum) == ('active', md5)
    assert glance.images.get_image_locations(image.id) == [
        {'url': source.url + '/one.img', 'metadata': {}}]


def test_openstacksdk_locations(service, source):
    import openstack.connection
    conn = openstack.connection.Connection(
        auth_type='none', image_endpoint_override=service.url,
        image_api_version='2')
    try:
        image = conn.image.create_image(
            name='sdk-location', disk_format='raw', container_format='bare',
            allow_duplicates=True)
        md5, sha512 = iu.digests(DATA)
        conn.image.add_image_location(
            image, source.url + '/two.img',
            validation_data={'os_hash_algo': 'sha512',
                             'os_hash_value': sha512})
        client = iu.fixtures.Client(service.url)
        assert iu.wait_task(client, image.id)['status'] == 'success'
        shown = conn.image.get_image(image.id)
        assert (shown.status, shown.checksum) == ('active', md5)
        found = list(conn.image.image_locations(image))
        assert [(loc.url, loc.metadata) for loc in found] == [
            (source.url + '/two.img', {})]
        assert b''.join(conn.image.download_image(
            image, stream=True).iter_content(65536)) == DATA
    finally:
        conn.close()

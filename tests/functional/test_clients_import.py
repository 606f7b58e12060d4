"""Unmodified clients drive the import workflow end to end."""

import hashlib
import os
import sys

import pytest

from tests import fixtures
from tests.functional import importutil as iu

DATA = os.urandom(1536 * 1024 + 11)
MD5 = hashlib.md5(DATA).hexdigest()
SHA512 = hashlib.sha512(DATA).hexdigest()


@pytest.fixture
def source():
    with iu.http_source({'/disk.raw': DATA}) as server:
        yield server


@pytest.fixture
def service(service_factory, source):
    return service_factory({
        'import_filtering_opts.allowed_hosts': '127.0.0.1',
        'import_filtering_opts.allowed_ports': source.port})


def _cli(service, *args):
    command = [os.path.join(os.path.dirname(sys.executable), 'glance'),
               '--os-image-url', service.url, '--os-auth-token', 'x',
               '--os-image-api-version', '2', *args]
    return iu.run_client(command, timeout=180)


def _field(output, name):
    for line in output.splitlines():
        cells = [c.strip() for c in line.split('|')]
        if len(cells) > 2 and cells[1] == name:
            return cells[2]
    raise AssertionError('no field %s in:\n%s' % (name, output))


def _check_image(client, image_id):
    shown = iu.wait_status(client, image_id, 'active')
    assert shown['checksum'] == MD5
    assert shown['os_hash_algo'] == 'sha512'
    assert shown['os_hash_value'] == SHA512
    assert iu.download(client, image_id) == DATA


def test_glance_create_via_import_glance_direct(service, tmp_path):
    path = tmp_path / 'disk.raw'
    path.write_bytes(DATA)
    out = _cli(service, 'image-create-via-import', '--name', 'gd',
               '--disk-format', 'raw', '--container-format', 'bare',
               '--import-method', 'glance-direct', '--file', str(path))
    image_id = _field(out, 'id')
    _check_image(fixtures.Client(service.url), image_id)
    target = tmp_path / 'back.raw'
    _cli(service, 'image-download', '--file', str(target), image_id)
    assert target.read_bytes() == DATA


def test_glance_create_via_import_web_download(service, source):
    out = _cli(service, 'image-create-via-import', '--name', 'wd',
               '--disk-format', 'raw', '--container-format', 'bare',
               '--import-method', 'web-download',
               '--uri', source.url + '/disk.raw')
    _check_image(fixtures.Client(service.url), _field(out, 'id'))


def test_glance_stage_then_import(service, tmp_path):
    path = tmp_path / 'disk.raw'
    path.write_bytes(DATA)
    out = _cli(service, 'image-create', '--name', 'staged',
               '--disk-format', 'raw', '--container-format', 'bare')
    image_id = _field(out, 'id')
    _cli(service, 'image-stage', '--file', str(path), image_id)
    client = fixtures.Client(service.url)
    assert iu.image(client, image_id)['status'] == 'uploading'
    _cli(service, 'image-import', '--import-method', 'glance-direct',
         image_id)
    _check_image(client, image_id)
    assert iu.wait_task(client, image_id)['status'] == 'success'
    info = ''.join(_cli(service, 'import-info').split())
    assert 'glance-direct' in info.replace('|', '')


@pytest.fixture
def sdk(service):
    import openstack.connection
    conn = openstack.connection.Connection(
        auth_type='none', image_endpoint_override=service.url,
        image_api_version='2')
    yield conn
    conn.close()


def test_openstacksdk_create_image_use_import(sdk, service, tmp_path):
    path = tmp_path / 'disk.raw'
    path.write_bytes(DATA)
    image = sdk.create_image('sdk-import', filename=str(path),
                             disk_format='raw', container_format='bare',
                             use_import=True, wait=True, timeout=120)
    _check_image(fixtures.Client(service.url), image.id)


def test_openstacksdk_stage_and_import(sdk, service, source):
    client = fixtures.Client(service.url)
    image = sdk.image.create_image(name='sdk-stage', disk_format='raw',
                                   container_format='bare')
    image.data = DATA
    sdk.image.stage_image(image, data=DATA)
    assert iu.image(client, image.id)['status'] == 'uploading'
    sdk.image.import_image(image, method='glance-direct')
    _check_image(client, image.id)

    web = sdk.image.create_image(name='sdk-web', disk_format='raw',
                                 container_format='bare')
    sdk.image.import_image(web, method='web-download',
                           uri=source.url + '/disk.raw')
    _check_image(client, web.id)
    assert sdk.image.get_import_info().import_methods['value'] == [
        'glance-direct', 'web-download', 'copy-image']

"""glance-download from another region: a second service process."""

import json
import os
import uuid

import pytest

from tests import fixtures
from tests.functional import importutil as iu

DATA = os.urandom(800 * 1024 + 1)
METHODS = 'glance-direct,web-download,copy-image,glance-download'


@pytest.fixture
def regions(service_factory, process_factory):
    """(local client, remote client, remote url); the remote is a process.

    The remote starts first and gets its rows only after the local
    service started (which empties a shared test database).
    """
    remote = process_factory(name='remote')
    local = service_factory({
        'enabled_import_methods': METHODS,
        'import_filtering_opts.allowed_hosts': '127.0.0.1',
        'import_filtering_opts.allowed_ports': remote.port})
    project = iu.project()
    return (fixtures.Client(local.url).as_caller(project),
            fixtures.Client(remote.url).as_caller(project), remote.url)


def catalog(url, region='RegionTwo'):
    return json.dumps([{
        'type': 'image', 'name': 'glance',
        'endpoints': [{'interface': 'public', 'region': region,
                       'region_id': region, 'url': url},
                      {'interface': 'internal', 'region': region,
                       'region_id': region, 'url': url + '/v2'}]}])


def remote_image(remote):
    image = iu.create(remote, name='remote', hw_disk_bus='scsi',
                      os_distro='cirros', custom_note='stays home')
    resp = remote.put('/v2/images/%s/file' % image['id'], data=DATA,
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    return image


def download_from(local, remote_url, remote_id, region='RegionTwo',
                  interface=None, **image):
    image.setdefault('disk_format', 'qcow2')
    created = iu.create(local, **image)
    method = {'name': 'glance-download', 'glance_image_id': remote_id,
              'glance_region': region}
    if interface:
        method['glance_service_interface'] = interface
    resp = local.post('/v2/images/%s/import' % created['id'],
                      json={'method': method},
                      headers={'X-Service-Catalog': catalog(remote_url),
                               'X-Auth-Token': 'token-1'})
    assert resp.status_code == 202, resp.text
    return created['id'], iu.wait_task(local, created['id'])


def test_download_from_other_region(regions):
    local, remote, remote_url = regions
    source = remote_image(remote)
    image_id, task = download_from(local, remote_url, source['id'],
                                   region='regiontwo')
    assert task['status'] == 'success', task['message']
    assert task['input']['import_req']['method'][
        'glance_service_interface'] == 'public'
    shown = iu.image(local, image_id)
    md5, sha512 = iu.digests(DATA)
    assert shown['status'] == 'active'
    assert (shown['checksum'], shown['os_hash_value']) == (md5, sha512)
    assert shown['disk_format'] == 'raw'
    assert shown['hw_disk_bus'] == 'scsi'
    assert shown['os_distro'] == 'cirros'
    assert 'custom_note' not in shown
    assert iu.download(local, image_id) == DATA


def test_internal_interface(regions):
    local, remote, remote_url = regions
    source = remote_image(remote)
    _image_id, task = download_from(local, remote_url, source['id'],
                                    interface='internal')
    assert task['status'] == 'success', task['message']


@pytest.mark.parametrize('case', ['missing', 'not-active', 'no-region',
                                  'no-interface'])
def test_failures_revert(regions, case):
    """Accepted with 202, as in Glance; the task says what was wrong."""
    local, remote, remote_url = regions
    region = 'RegionTwo'
    interface = None
    if case == 'missing':
        remote_id = str(uuid.uuid4())
        text = 'HTTP status 404'
    elif case == 'not-active':
        remote_id = iu.create(remote)['id']
        text = 'is queued, not active'
    elif case == 'no-region':
        remote_id = remote_image(remote)['id']
        region = 'Elsewhere'
        text = "No 'public' image endpoint for region 'Elsewhere'"
    else:
        remote_id = remote_image(remote)['id']
        interface = 'sideways'
        text = "No 'sideways' image endpoint for region 'RegionTwo'"
    image_id, task = download_from(local, remote_url, remote_id,
                                   region=region, interface=interface,
                                   hw_cpu_cores='2')
    assert task['status'] == 'failure'
    assert text in task['message']
    shown = iu.image(local, image_id)
    assert shown['status'] == 'queued'
    assert shown['disk_format'] == 'qcow2'
    assert shown['hw_cpu_cores'] == '2'
    assert 'os_glance_import_task' not in shown


def test_remote_port_must_pass_filter(service_factory, process_factory):
    remote_url = process_factory(name='remote').url
    local = service_factory({
        'enabled_import_methods': METHODS,
        'import_filtering_opts.allowed_hosts': '127.0.0.1'})
    project = iu.project()
    remote = fixtures.Client(remote_url).as_caller(project)
    source = remote_image(remote)
    client = fixtures.Client(local.url).as_caller(project)
    image_id, task = download_from(client, remote_url, source['id'])
    assert task['status'] == 'failure'
    assert 'does not pass filtering' in task['message']
    assert iu.image(client, image_id)['status'] == 'queued'

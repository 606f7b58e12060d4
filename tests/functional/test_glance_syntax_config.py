"""An operator's glance-api.conf in Glance's own syntax, on the quick start.

The shipped etc/glance-api.conf plus a second file written the way
Glance's documentation writes it: a bracketed method list, a quoted
plugin list, empty ``[]`` filter lists, bracketed hosts and roles. The
real server process is driven over HTTP and with the stock command-line
clients (openstack, glance), without authentication.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests import fixtures
from tests.functional import importutil as iu

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHIPPED = os.path.join(ROOT, 'etc', 'glance-api.conf')
BIN = os.path.dirname(sys.executable)
RAW = os.urandom(1 << 20) + b'\0' * (1 << 20)

GLANCE_STYLE = """\
[DEFAULT]
state_path = %(state)s
bind_port = %(port)d
enabled_import_methods = [glance-direct,web-download,copy-image]

[image_import_opts]
image_import_plugins = ['image_conversion', 'inject_image_metadata']

[image_conversion]
output_format = raw

[import_filtering_opts]
allowed_schemes = [http,https]
disallowed_schemes = []
allowed_hosts = [127.0.0.1]
disallowed_hosts = []
allowed_ports = []
disallowed_ports = []

[inject_metadata_properties]
ignore_user_roles = [admin]
inject = os_distro:cirros,hw_qemu_guest_agent:yes
"""


@pytest.fixture(scope='module')
def disks(tmp_path_factory):
    directory = tmp_path_factory.mktemp('disks')
    raw = directory / 'disk.raw'
    raw.write_bytes(RAW)
    qcow = directory / 'disk.qcow2'
    subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2',
                    str(raw), str(qcow)], check=True, capture_output=True)
    return {'raw': raw, 'qcow2': qcow}


@pytest.fixture(scope='module')
def source(disks):
    with iu.http_source({'/disk.raw': disks['raw'].read_bytes(),
                         '/disk.qcow2': disks['qcow2'].read_bytes()}) as s:
        yield s


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('glance-style')
    port = fixtures.free_port()
    operator_file = directory / 'glance-api.conf'
    operator_file.write_text(GLANCE_STYLE % {
        'state': directory / 'state', 'port': port})
    log_path = directory / 'api.log'
    command = [os.path.join(BIN, 'glance-import-api'), '--config-file',
               SHIPPED, '--config-file', str(operator_file)]
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    url = 'http://127.0.0.1:%d' % port
    try:
        fixtures.wait_for(url + '/versions', 60, proc, str(log_path))
        yield url
    finally:
        fixtures.terminate(proc)
    assert 'Traceback' not in log_path.read_text()


def member(url):
    return fixtures.Client(url).as_caller(iu.project(), roles='member')


def web_download(client, uri, **image):
    image.setdefault('disk_format', 'qcow2')
    created = iu.create(client, **image)
    resp = iu.start_import(client, created['id'],
                           {'name': 'web-download', 'uri': uri})
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, created['id'])
    assert task['status'] == 'success', task['message']
    return iu.wait_status(client, created['id'], 'active')


def test_bracketed_methods_are_listed(server):
    resp = fixtures.Client(server).get('/v2/info/import')
    assert resp.status_code == 200, resp.text
    assert resp.json()['import-methods']['value'] == [
        'glance-direct', 'web-download', 'copy-image']


def test_web_download_converts_and_injects(server, source):
    client = member(server)
    shown = web_download(client, source.url + '/disk.qcow2')
    assert shown['disk_format'] == 'raw'
    assert shown['size'] == len(RAW)
    assert iu.download(client, shown['id']) == RAW
    assert shown['os_distro'] == 'cirros'
    assert shown['hw_qemu_guest_agent'] == 'yes'


def test_admin_gets_no_injected_properties(server, source):
    admin = fixtures.Client(server).as_caller(iu.project(), roles='admin')
    shown = web_download(admin, source.url + '/disk.qcow2')
    assert shown['disk_format'] == 'raw'
    assert 'os_distro' not in shown
    assert 'hw_qemu_guest_agent' not in shown


def test_port_filter_names_the_rule(tmp_path):
    """[] is an empty list, not a list holding "[]": here it refuses."""
    port = fixtures.free_port()
    conf = tmp_path / 'glance-api.conf'
    conf.write_text(GLANCE_STYLE.replace(
        'allowed_ports = []', 'allowed_ports = [80, 443]') % {
        'state': tmp_path / 'state', 'port': port})
    service = fixtures.ServiceProcess(str(tmp_path), None, port=port)
    service.config_file = str(conf)
    service.start(timeout=60)
    try:
        client = member(service.url)
        image = iu.create(client)
        uri = 'http://127.0.0.1:8080/disk.raw'
        resp = iu.start_import(client, image['id'],
                               {'name': 'web-download', 'uri': uri})
        assert resp.status_code == 400, resp.text
        assert ('does not pass filtering: %s (port 8080 is not in '
                'allowed_ports)' % uri) in iu.message(resp)
    finally:
        service.stop()


# The stock command-line clients, unchanged, without authentication.

def openstack(url, *args):
    found = os.path.join(BIN, 'openstack')
    command = [found if os.path.exists(found) else shutil.which('openstack'),
               '--os-auth-type', 'none', '--os-endpoint', url,
               '--os-image-api-version', '2', *args]
    json_output = args[:2] in (('image', 'create'), ('image', 'show'),
                               ('image', 'import'))
    output = iu.run_client(command + (['-f', 'json'] if json_output else []))
    return json.loads(output) if json_output else output


def wait_active(url, image_id):
    client = fixtures.Client(url)

    def active():
        status = iu.image(client, image_id)['status']
        assert status not in ('killed', 'deleted', 'queued'), status
        return status == 'active'
    fixtures.wait_until(active, 120, message='image %s active' % image_id)
    return openstack(url, 'image', 'show', image_id)


def test_openstack_image_import_glance_direct(server, disks):
    created = openstack(server, 'image', 'create', '--disk-format', 'raw',
                        '--container-format', 'bare', 'osc-direct')
    assert created['status'] == 'queued'
    openstack(server, 'image', 'stage', '--file', str(disks['raw']),
              created['id'])
    openstack(server, 'image', 'import', '--method', 'glance-direct',
              created['id'])
    shown = wait_active(server, created['id'])
    assert shown['size'] == len(RAW)
    assert iu.download(fixtures.Client(server), created['id']) == RAW


def test_openstack_image_import_web_download(server, source):
    created = openstack(server, 'image', 'create', '--disk-format', 'raw',
                        '--container-format', 'bare', 'osc-web')
    openstack(server, 'image', 'import', '--method', 'web-download',
              '--uri', source.url + '/disk.raw', created['id'])
    shown = wait_active(server, created['id'])
    assert shown['size'] == len(RAW)


def test_glance_image_create_via_import(server, disks):
    output = iu.run_client([
        os.path.join(BIN, 'glance'), '--os-image-url', server,
        '--os-auth-token', 'x', '--os-image-api-version', '2',
        'image-create-via-import', '--name', 'gc-direct',
        '--disk-format', 'raw', '--container-format', 'bare',
        '--import-method', 'glance-direct', '--file', str(disks['raw'])])
    rows = [[cell.strip() for cell in line.split('|')]
            for line in output.splitlines()]
    image_id = next(row[2] for row in rows if len(row) > 2 and row[1] == 'id')
    wait_active(server, image_id)
    assert iu.download(fixtures.Client(server), image_id) == RAW

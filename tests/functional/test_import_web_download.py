"""web-download: filtering at the API and on every redirect, streaming."""

import os

import pytest

from tests import fixtures
from tests.functional import importutil as iu

DATA = os.urandom(2 * 1024 * 1024 + 5)
FILTER_MESSAGE = 'URI for web-download does not pass filtering: %s'


@pytest.fixture
def source():
    with iu.http_source({'/image.raw': DATA, '/chunked.raw': DATA},
                        chunked=['/chunked.raw']) as server:
        yield server


def allow(server, hosts=('127.0.0.1',), **extra):
    overrides = {'import_filtering_opts.allowed_hosts': list(hosts),
                 'import_filtering_opts.allowed_ports': [server.port]}
    overrides.update(extra)
    return overrides


def web(uri):
    return {'name': 'web-download', 'uri': uri}


def caller(svc):
    return fixtures.Client(svc.url).as_caller(iu.project())


@pytest.mark.parametrize('path', ['/image.raw', '/chunked.raw'])
def test_download_activates_image(service_factory, source, path):
    client = caller(service_factory(allow(source)))
    image = iu.create(client, name='web')
    resp = iu.start_import(client, image['id'], web(source.url + path))
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image['id'])
    md5, sha512 = iu.digests(DATA)
    assert (shown['status'], shown['checksum'], shown['os_hash_value'],
            shown['size']) == ('active', md5, sha512, len(DATA))
    assert iu.download(client, image['id']) == DATA
    assert task['progress'] >= len(DATA)


def test_loopback_refused_by_default(service_factory, source):
    client = caller(service_factory(
        {'import_filtering_opts.allowed_ports': [source.port]}))
    image = iu.create(client)
    uri = source.url + '/image.raw'
    resp = iu.start_import(client, image['id'], web(uri))
    assert resp.status_code == 400
    assert FILTER_MESSAGE % uri in iu.message(resp)
    # The client is told which rule refused it.
    assert "host '127.0.0.1' resolves only to refused addresses" in \
        iu.message(resp)
    assert iu.image(client, image['id'])['status'] == 'queued'
    assert iu.tasks(client, image['id']) == []
    assert source.hits == []


REFUSED_ADDRESSES = 'resolves only to refused addresses'
NOT_A_HOST = 'is not a name or a canonical address'


@pytest.mark.parametrize('uri, reason', [
    # a name resolving to loopback
    ('http://localhost:%(port)d/image.raw', REFUSED_ADDRESSES),
    ('http://0.0.0.0:%(port)d/image.raw', REFUSED_ADDRESSES),  # unspecified
    # link-local metadata
    ('http://169.254.169.254/latest/meta-data', REFUSED_ADDRESSES),
    ('http://127.1:%(port)d/image.raw', NOT_A_HOST),  # non-canonical IPv4
    ('http://2130706433:%(port)d/image.raw', NOT_A_HOST),  # decimal IPv4
    ('http://0x7f.0.0.1:%(port)d/image.raw', NOT_A_HOST),  # hex IPv4
    ('http://[::1]:%(port)d/image.raw', REFUSED_ADDRESSES),  # IPv6 loopback
    ('http://[::ffff:127.0.0.1]:%(port)d/image.raw', REFUSED_ADDRESSES),
    ('ftp://127.0.0.1:%(port)d/image.raw',
     "scheme 'ftp' is not in allowed_schemes"),
    ('file:///etc/passwd', "scheme 'file' is not in allowed_schemes"),
    ('http://127.0.0.1:1/image.raw', 'port 1 is not in allowed_ports'),
    ('http:///image.raw', NOT_A_HOST),                     # no host
    ('http://no-such-host.invalid/image.raw', 'does not resolve'),
])
def test_refused_uris(service_factory, source, uri, reason):
    overrides = {'import_filtering_opts.allowed_ports': [source.port, 80]}
    client = caller(service_factory(overrides))
    image = iu.create(client)
    uri = uri % {'port': source.port}
    resp = iu.start_import(client, image['id'], web(uri))
    assert resp.status_code == 400, uri
    assert FILTER_MESSAGE % uri in iu.message(resp)
    assert reason in iu.message(resp)
    assert source.hits == []


def test_name_allowed_when_listed(service_factory, source):
    client = caller(service_factory(allow(source, hosts=['localhost'])))
    image = iu.create(client)
    uri = 'http://localhost:%d/image.raw' % source.port
    assert iu.start_import(client, image['id'], web(uri)).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    # 127.0.0.1 itself is not in the list.
    other = iu.create(client)
    resp = iu.start_import(client, other['id'],
                           web(source.url + '/image.raw'))
    assert resp.status_code == 400


def test_disallowed_host_wins_without_allow_list(service_factory, source):
    client = caller(service_factory({
        'import_filtering_opts.allowed_ports': [source.port],
        'import_filtering_opts.disallowed_hosts': ['127.0.0.1']}))
    image = iu.create(client)
    resp = iu.start_import(client, image['id'],
                           web(source.url + '/image.raw'))
    assert resp.status_code == 400


def test_redirect_to_disallowed_host_fails_task(service_factory, source):
    source.redirects['/jump'] = 'http://169.254.169.254/latest/meta-data'
    source.redirects['/jump-local'] = \
        'http://localhost:%d/image.raw' % source.port
    client = caller(service_factory(allow(source)))
    for path in ('/jump', '/jump-local'):
        image = iu.create(client)
        resp = iu.start_import(client, image['id'], web(source.url + path))
        assert resp.status_code == 202, resp.text
        task = iu.wait_task(client, image['id'])
        assert task['status'] == 'failure'
        assert 'does not pass filtering' in task['message']
        shown = iu.image(client, image['id'])
        assert shown['status'] == 'queued'
        assert 'os_glance_import_task' not in shown
    assert source.hits == []


def test_redirect_to_allowed_target_is_followed(service_factory, source):
    source.redirects['/jump'] = '/image.raw'
    client = caller(service_factory(allow(source)))
    image = iu.create(client)
    assert iu.start_import(client, image['id'],
                           web(source.url + '/jump')).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    assert iu.download(client, image['id']) == DATA


def test_size_cap_enforced_while_downloading(service_factory, source):
    svc = service_factory(allow(source, image_size_cap=1024 * 1024))
    client = caller(svc)
    for path in ('/image.raw', '/chunked.raw'):
        image = iu.create(client)
        assert iu.start_import(client, image['id'],
                               web(source.url + path)).status_code == 202
        task = iu.wait_task(client, image['id'])
        assert task['status'] == 'failure'
        assert 'too large' in task['message']
        assert iu.image(client, image['id'])['status'] == 'queued'
        assert not os.path.exists(os.path.join(svc.directory, 'staging',
                                               image['id']))


def test_missing_remote_file_fails_task(service_factory, source):
    svc = service_factory(allow(source))
    client = caller(svc)
    image = iu.create(client)
    assert iu.start_import(client, image['id'],
                           web(source.url + '/nope')).status_code == 202
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'failure'
    assert 'HTTP status 404' in task['message']
    assert iu.image(client, image['id'])['status'] == 'queued'
    assert iu.files_in(os.path.join(svc.directory, 'staging')) == []
    # A retry with a good URI works.
    assert iu.start_import(client, image['id'],
                           web(source.url + '/image.raw')).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'


def test_format_mismatch_refused(service_factory, source, tmp_path):
    import subprocess
    qcow = tmp_path / 'disk.qcow2'
    subprocess.run(['qemu-img', 'create', '-f', 'qcow2', str(qcow), '1M'],
                   check=True, capture_output=True)
    source.routes['/disk.qcow2'] = qcow.read_bytes()
    svc = service_factory(allow(source))
    client = caller(svc)
    raw = iu.create(client, disk_format='raw')
    # Declared raw, qcow2 detected: accepted (as Glance does).
    assert iu.start_import(client, raw['id'],
                           web(source.url + '/disk.qcow2')).status_code == 202
    assert iu.wait_task(client, raw['id'])['status'] == 'success'
    image = iu.create(client, disk_format='vmdk')
    assert iu.start_import(client, image['id'],
                           web(source.url + '/disk.qcow2')).status_code == 202
    task = iu.wait_task(client, image['id'])
    assert task['status'] == 'failure'
    assert 'does not match stream data qcow2' in task['message']
    assert iu.image(client, image['id'])['status'] == 'queued'
    # Nothing of the refused image reached the store.
    assert iu.files_in(os.path.join(svc.directory, 'images')) == [raw['id']]
    assert iu.files_in(os.path.join(svc.directory, 'staging')) == []

"""Import plugins and format safety, with real images made by qemu-img."""

import gzip
import hashlib
import io
import os
import subprocess
import zipfile

import pytest

from tests import fixtures
from tests.functional import importutil as iu

RAW = os.urandom(512 * 1024) + b'\0' * (512 * 1024) + os.urandom(4096)


def qemu_img(*args):
    subprocess.run(['qemu-img', *args], check=True, capture_output=True)


@pytest.fixture
def disks(tmp_path):
    """A raw disk, its qcow2 form, and unsafe qcow2/vmdk variants."""
    raw = tmp_path / 'disk.raw'
    raw.write_bytes(RAW)
    qcow = tmp_path / 'disk.qcow2'
    qemu_img('convert', '-f', 'raw', '-O', 'qcow2', str(raw), str(qcow))
    backed = tmp_path / 'backed.qcow2'
    qemu_img('create', '-f', 'qcow2', '-b', str(raw), '-F', 'raw',
             str(backed))
    datafile = tmp_path / 'datafile.qcow2'
    qemu_img('create', '-f', 'qcow2', '-o',
             'data_file=%s' % (tmp_path / 'external.raw'), str(datafile),
             '1M')
    flat = tmp_path / 'flat.vmdk'
    qemu_img('create', '-f', 'vmdk', '-o', 'subformat=monolithicFlat',
             str(flat), '1M')
    expected = tmp_path / 'expected.raw'
    qemu_img('convert', '-f', 'qcow2', '-O', 'raw', str(qcow),
             str(expected))
    return {name: path.read_bytes() for name, path in [
        ('raw', raw), ('qcow2', qcow), ('backed', backed),
        ('datafile', datafile), ('flat_vmdk', flat),
        ('expected', expected)]}


def import_direct(client, data, **image):
    created = iu.create(client, **image)
    iu.stage(client, created['id'], data)
    assert iu.start_import(client, created['id']).status_code == 202
    return created['id'], iu.wait_task(client, created['id'])


def plugins(service_factory, names, **extra):
    overrides = {'image_import_opts.image_import_plugins': names}
    overrides.update(extra)
    svc = service_factory(overrides)
    return svc, fixtures.Client(svc.url).as_caller(iu.project())


def assert_refused(client, svc, image_id, task, *texts, stored=()):
    assert task['status'] == 'failure'
    for text in texts:
        assert text in task['message'], task['message']
    shown = iu.image(client, image_id)
    assert shown['status'] == 'queued'
    assert iu.files_in(os.path.join(svc.directory, 'images')) == \
        list(stored)
    assert iu.files_in(os.path.join(svc.directory, 'staging')) == []


def test_conversion_matches_qemu_img(service_factory, disks):
    svc, client = plugins(service_factory, 'image_conversion')
    image_id, task = import_direct(client, disks['qcow2'],
                                   disk_format='qcow2')
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image_id)
    expected = disks['expected']
    assert shown['disk_format'] == 'raw'
    assert shown['container_format'] == 'bare'
    assert shown['size'] == len(expected)
    assert shown['checksum'] == hashlib.md5(expected).hexdigest()
    assert shown['os_hash_value'] == hashlib.sha512(expected).hexdigest()
    assert iu.download(client, image_id) == expected


def test_conversion_to_qcow2_output(service_factory, disks):
    svc, client = plugins(service_factory, 'image_conversion',
                          **{'image_conversion.output_format': 'qcow2'})
    image_id, task = import_direct(client, disks['raw'], disk_format='raw')
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image_id)
    assert shown['disk_format'] == 'qcow2'
    assert iu.download(client, image_id)[:4] == b'QFI\xfb'
    assert shown['virtual_size'] == len(RAW)


@pytest.mark.parametrize('names', ['image_conversion', ''])
def test_qcow2_with_backing_file_refused(service_factory, disks, names):
    svc, client = plugins(service_factory, names)
    image_id, task = import_direct(client, disks['backed'],
                                   disk_format='qcow2')
    assert_refused(client, svc, image_id, task, 'safety checks',
                   'backing_file')


@pytest.mark.parametrize('names', ['image_conversion', ''])
def test_qcow2_with_data_file_refused(service_factory, disks, names):
    svc, client = plugins(service_factory, names)
    image_id, task = import_direct(client, disks['datafile'],
                                   disk_format='qcow2')
    assert_refused(client, svc, image_id, task, 'safety checks',
                   'data_file')


def test_vmdk_flat_descriptor_refused(service_factory, disks):
    svc, client = plugins(service_factory, '')
    image_id, task = import_direct(client, disks['flat_vmdk'],
                                   disk_format='vmdk')
    assert_refused(client, svc, image_id, task, 'safety checks (vmdk)',
                   'Unsupported subformat')


def test_declared_format_must_match(service_factory, disks):
    svc, client = plugins(service_factory, 'image_conversion')
    image_id, task = import_direct(client, disks['raw'],
                                   disk_format='qcow2')
    assert_refused(client, svc, image_id, task)


def test_qcow2_accepted_as_is_without_plugin(service_factory, disks):
    svc, client = plugins(service_factory, '')
    image_id, task = import_direct(client, disks['qcow2'],
                                   disk_format='qcow2')
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image_id)
    assert shown['virtual_size'] == len(RAW)
    assert iu.download(client, image_id) == disks['qcow2']


def test_gzip_decompression(service_factory):
    svc, client = plugins(service_factory, 'image_decompression')
    image_id, task = import_direct(client, gzip.compress(RAW))
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image_id)
    assert shown['size'] == len(RAW)
    assert shown['checksum'] == hashlib.md5(RAW).hexdigest()
    assert iu.download(client, image_id) == RAW


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def test_zip_decompression(service_factory):
    svc, client = plugins(service_factory, 'image_decompression')
    good, task = import_direct(client, _zip({'disk.raw': RAW}))
    assert task['status'] == 'success', task['message']
    assert iu.download(client, good) == RAW
    image_id, task = import_direct(client, _zip({'a': RAW, 'b': RAW}))
    assert_refused(client, svc, image_id, task,
                   'zip archive must contain exactly one file',
                   stored=[good])


def test_compressed_container_left_alone(service_factory):
    svc, client = plugins(service_factory, 'image_decompression')
    data = gzip.compress(RAW)
    image_id, task = import_direct(client, data,
                                   container_format='compressed')
    assert task['status'] == 'success', task['message']
    assert iu.download(client, image_id) == data


def test_lha_without_library_fails_clearly(service_factory):
    svc, client = plugins(service_factory, 'image_decompression')
    lha = b'\x20\x00-lh5-' + os.urandom(200)
    image_id, task = import_direct(client, lha)
    assert_refused(client, svc, image_id, task, 'LHA',
                   'lhafile library')


def test_decompression_bomb_capped(service_factory):
    svc, client = plugins(service_factory, 'image_decompression',
                          image_size_cap=300 * 1024)
    image_id, task = import_direct(client, gzip.compress(b'\0' * 10 ** 6))
    assert_refused(client, svc, image_id, task, 'image_size_cap')


def test_inject_metadata(service_factory):
    svc, client = plugins(
        service_factory, 'inject_image_metadata',
        **{'inject_metadata_properties.inject':
           'hw_cpu_policy:dedicated,os_glance_evil:x',
           'inject_metadata_properties.ignore_user_roles': 'admin'})
    image_id, task = import_direct(client, RAW)
    assert task['status'] == 'success', task['message']
    shown = iu.image(client, image_id)
    assert shown['hw_cpu_policy'] == 'dedicated'
    assert 'os_glance_evil' not in shown
    admin = client.as_caller(client.headers['X-Project-Id'], roles='admin')
    image_id, task = import_direct(admin, RAW)
    assert task['status'] == 'success'
    assert 'hw_cpu_policy' not in iu.image(admin, image_id)


def test_plugins_run_in_order(service_factory, disks):
    svc, client = plugins(service_factory,
                          'no_op,image_decompression,image_conversion')
    image_id, task = import_direct(client, gzip.compress(disks['qcow2']),
                                   disk_format='qcow2')
    assert task['status'] == 'success', task['message']
    assert iu.download(client, image_id) == disks['expected']


def test_unknown_plugin_fails_task(service_factory):
    svc, client = plugins(service_factory, 'no_such_plugin')
    image_id, task = import_direct(client, RAW)
    assert_refused(client, svc, image_id, task,
                   'Unknown import plugin(s): no_such_plugin')

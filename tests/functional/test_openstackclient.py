"""python-openstackclient against Keystone and glance_import.

The ``openstack`` command authenticates with a password at the test run's
Keystone and talks to the service it finds through the catalog, as an
operator's client would.
"""

import hashlib
import json
import os
import pty
import shutil
import subprocess
import sys
import uuid

import pytest

from tests import fixtures
from tests.functional import test_policy_matrix as matrix

DATA = os.urandom(3 * 1024 * 1024 + 17)


def openstack_command():
    found = os.path.join(os.path.dirname(sys.executable), 'openstack')
    return found if os.path.exists(found) else shutil.which('openstack')


@pytest.fixture(scope='module')
def cloud(keystone, tmp_path_factory, test_db_url):
    directory = str(tmp_path_factory.mktemp('osc'))
    source = matrix.Source()
    with matrix.keystone_service(keystone, directory, test_db_url,
                                 source) as world:
        yield world
    source.stop()


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / 'disk.raw'
    path.write_bytes(DATA)
    return str(path)


def osc(cloud, persona, *args, check=True):
    """Run ``openstack *args`` as *persona*; JSON output parsed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(cloud.keystone.environ(persona))
    cmd = [openstack_command(), *args]
    json_output = args[0] == 'image' and args[1] in (
        'create', 'show', 'list', 'import')
    if json_output:
        cmd += ['-f', 'json']
    # A terminal on stdin: "image create" without --file would otherwise
    # read image data from it.
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run(cmd, env=env, capture_output=True,
                                text=True, timeout=300, stdin=secondary)
    finally:
        os.close(primary)
        os.close(secondary)
    if check:
        assert result.returncode == 0, (
            'openstack %s failed (%s):\n%s' % (' '.join(args),
                                               result.returncode,
                                               result.stderr[-3000:]))
        return json.loads(result.stdout) if json_output else result.stdout
    return result


def wait_active(cloud, persona, image_id):
    """Poll over HTTP (cheap), then show the image with the client."""
    client = cloud.keystone.client(cloud.url, persona)

    def active():
        status = client.get('/v2/images/%s' % image_id).json()['status']
        assert status not in ('killed', 'deleted'), status
        return status == 'active'
    fixtures.wait_until(active, 120, message='image %s active' % image_id)
    return osc(cloud, persona, 'image', 'show', image_id)


def name():
    return 'osc-%s' % uuid.uuid4().hex[:8]


def test_create_with_import_then_list_show_save_delete(cloud, image_file,
                                                       tmp_path):
    image_name = name()
    created = osc(cloud, 'alpha-member', 'image', 'create', '--import',
                  '--disk-format', 'raw', '--container-format', 'bare',
                  '--file', image_file, image_name)
    image_id = created['id']
    shown = wait_active(cloud, 'alpha-member', image_id)
    assert shown['owner'] == cloud.keystone.projects['alpha']
    assert shown['size'] == len(DATA)
    assert shown['checksum'] == hashlib.md5(DATA).hexdigest()

    listed = osc(cloud, 'alpha-reader', 'image', 'list', '--name',
                 image_name)
    assert [i['ID'] for i in listed] == [image_id]

    saved = tmp_path / 'saved.raw'
    osc(cloud, 'alpha-member', 'image', 'save', '--file', str(saved),
        image_id)
    assert saved.read_bytes() == DATA
    # download_image needs the member role: a reader is refused.
    refused = osc(cloud, 'alpha-reader', 'image', 'save', '--file',
                  str(tmp_path / 'refused.raw'), image_id, check=False)
    assert refused.returncode != 0

    osc(cloud, 'alpha-member', 'image', 'delete', image_id)
    gone = osc(cloud, 'alpha-member', 'image', 'show', image_id,
               check=False)
    assert gone.returncode != 0


def test_stage_then_import_glance_direct(cloud, image_file):
    created = osc(cloud, 'alpha-member', 'image', 'create',
                  '--disk-format', 'raw', '--container-format', 'bare',
                  name())
    image_id = created['id']
    assert created['status'] == 'queued'
    osc(cloud, 'alpha-member', 'image', 'stage', '--file', image_file,
        image_id)
    staged = osc(cloud, 'alpha-member', 'image', 'show', image_id)
    assert staged['status'] == 'uploading'
    osc(cloud, 'alpha-member', 'image', 'import', '--method',
        'glance-direct', image_id)
    shown = wait_active(cloud, 'alpha-member', image_id)
    assert shown['checksum'] == hashlib.md5(DATA).hexdigest()


def test_import_web_download(cloud):
    created = osc(cloud, 'beta-member', 'image', 'create',
                  '--disk-format', 'raw', '--container-format', 'bare',
                  name())
    osc(cloud, 'beta-member', 'image', 'import', '--method',
        'web-download', '--uri', cloud.source_url, created['id'])
    shown = wait_active(cloud, 'beta-member', created['id'])
    assert shown['size'] == len(matrix.DATA)


def test_copy_image_to_another_store_as_admin(cloud, image_file):
    created = osc(cloud, 'alpha-member', 'image', 'create', '--import',
                  '--disk-format', 'raw', '--container-format', 'bare',
                  '--file', image_file, name())
    image_id = created['id']
    wait_active(cloud, 'alpha-member', image_id)
    tasks_path = '/v2/images/%s/tasks' % image_id
    owner = cloud.client(matrix.OWNER_MEMBER)
    tasks_before = owner.get(tasks_path).json()['tasks']
    # copy_image is admin-only. The client prints the image and exits 0
    # even though the service answers 403, so the proof is that no copy
    # task exists. (--store takes several values: the image goes first.)
    osc(cloud, 'alpha-member', 'image', 'import', image_id, '--method',
        'copy-image', '--store', 'cheap', check=False)
    assert owner.get(tasks_path).json()['tasks'] == tasks_before
    osc(cloud, 'admin', 'image', 'import', image_id, '--method',
        'copy-image', '--store', 'cheap')

    admin = cloud.client(matrix.ADMIN)

    def copied():
        shown = admin.get('/v2/images/%s' % image_id).json()
        return set(shown['stores'].split(',')) == {'fast', 'cheap'}
    fixtures.wait_until(copied, 120, message='copy-image')


def test_other_project_cannot_see_the_image(cloud):
    created = osc(cloud, 'alpha-member', 'image', 'create',
                  '--disk-format', 'raw', '--container-format', 'bare',
                  name())
    image_id = created['id']
    listed = osc(cloud, 'beta-member', 'image', 'list')
    assert image_id not in [i['ID'] for i in listed]
    hidden = osc(cloud, 'beta-member', 'image', 'show', image_id,
                 check=False)
    assert hidden.returncode != 0
    refused = osc(cloud, 'beta-member', 'image', 'delete', image_id,
                  check=False)
    assert refused.returncode != 0
    assert osc(cloud, 'alpha-member', 'image', 'show',
               image_id)['status'] == 'queued'


def test_reader_cannot_create(cloud):
    refused = osc(cloud, 'alpha-reader', 'image', 'create',
                  '--disk-format', 'raw', '--container-format', 'bare',
                  name(), check=False)
    assert refused.returncode != 0
    assert '403' in refused.stderr or 'orbidden' in refused.stderr


"""The image API driven by unmodified python-glanceclient and openstacksdk.

Both clients build models from our schemas, follow our paging links and
parse our errors, so these tests prove interoperability end to end.
"""

import hashlib
import io
import os
import subprocess
import sys

import pytest

from tests.functional import imageutil

DATA = os.urandom(300 * 1024 + 7)


@pytest.fixture
def glance(service):
    import glanceclient
    return glanceclient.Client('2', endpoint=service.url, token='x')


def _glance_as(service, project):
    import glanceclient
    return glanceclient.Client('2', endpoint=service.url, identity_headers={
        'X-Auth-Token': 'x', 'X-Project-Id': project,
        'X-Roles': 'member'})


# python-glanceclient, Python API ----------------------------------------

def test_glanceclient_image_life_cycle(glance, service):
    image = glance.images.create(name='gc-image', disk_format='raw',
                                 container_format='bare', os_distro='debian',
                                 tags=['one'])
    assert image.status == 'queued'
    assert image.os_distro == 'debian'
    glance.images.upload(image.id, io.BytesIO(DATA))
    shown = glance.images.get(image.id)
    assert shown.status == 'active'
    assert shown.size == len(DATA)
    assert shown.checksum == hashlib.md5(DATA).hexdigest()
    assert shown.os_hash_algo == 'sha512'
    assert shown.os_hash_value == hashlib.sha512(DATA).hexdigest()
    downloaded = glance.images.data(image.id)
    assert b''.join(downloaded) == DATA

    updated = glance.images.update(image.id, name='gc-renamed',
                                   os_version='12', remove_props=['os_distro'])
    assert updated.name == 'gc-renamed'
    assert updated.os_version == '12'
    assert 'os_distro' not in updated

    glance.image_tags.update(image.id, 'two')
    glance.image_tags.delete(image.id, 'one')
    assert glance.images.get(image.id).tags == ['two']

    glance.images.deactivate(image.id)
    assert glance.images.get(image.id).status == 'deactivated'
    glance.images.reactivate(image.id)
    assert glance.images.get(image.id).status == 'active'

    glance.images.delete(image.id)
    import glanceclient.exc
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        glance.images.get(image.id)


def test_glanceclient_list_filters_and_paging(glance):
    project = imageutil.project()
    made = [glance.images.create(name='gc-%02d' % i, owner=project,
                                 disk_format='qcow2' if i % 2 else 'raw',
                                 container_format='bare')
            for i in range(7)]
    listed = list(glance.images.list(filters={'owner': project},
                                     page_size=2))
    assert sorted(i.id for i in listed) == sorted(i.id for i in made)
    ordered = list(glance.images.list(filters={'owner': project},
                                      sort_key='name', sort_dir='asc',
                                      page_size=3))
    assert [i.name for i in ordered] == ['gc-%02d' % i for i in range(7)]
    qcow = list(glance.images.list(filters={'owner': project,
                                            'disk_format': 'qcow2'}))
    assert sorted(i.name for i in qcow) == ['gc-01', 'gc-03', 'gc-05']
    limited = list(glance.images.list(filters={'owner': project},
                                      limit=4, page_size=3))
    assert len(limited) == 4
    by_sort = list(glance.images.list(filters={'owner': project},
                                      sort='name:desc'))
    assert by_sort[0].name == 'gc-06'


def test_glanceclient_sharing(glance, service):
    member_project = imageutil.project()
    member = _glance_as(service, member_project)
    image = glance.images.create(name='gc-shared', visibility='shared')
    created = glance.image_members.create(image.id, member_project)
    assert created.status == 'pending'
    listed = list(member.images.list(filters={'name': 'gc-shared'}))
    assert listed == []
    member.image_members.update(image.id, member_project, 'accepted')
    listed = list(member.images.list(filters={'name': 'gc-shared'}))
    assert [i.id for i in listed] == [image.id]
    members = list(glance.image_members.list(image.id))
    assert [(m.member_id, m.status) for m in members] == [
        (member_project, 'accepted')]
    glance.image_members.delete(image.id, member_project)
    assert list(member.images.list(filters={'name': 'gc-shared'})) == []


def test_glanceclient_reports_errors(glance):
    import glanceclient.exc
    image = glance.images.create(name='gc-protected', protected=True)
    with pytest.raises(glanceclient.exc.HTTPForbidden):
        glance.images.delete(image.id)
    with pytest.raises(glanceclient.exc.HTTPConflict):
        glance.images.create(id=image.id)


# python-glanceclient, command line -------------------------------------

def _cli(service, *args, check=True):
    command = [os.path.join(os.path.dirname(sys.executable), 'glance'),
               '--os-image-url', service.url, '--os-auth-token', 'x',
               '--os-image-api-version', '2', *args]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('OS_')}
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=120, env=env)
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def _field(output, name):
    for line in output.splitlines():
        cells = [c.strip() for c in line.split('|')]
        if len(cells) > 2 and cells[1] == name:
            return cells[2]
    raise AssertionError('no field %s in:\n%s' % (name, output))


def test_glance_cli(service, tmp_path):
    source = tmp_path / 'disk.raw'
    source.write_bytes(DATA)
    out = _cli(service, 'image-create', '--name', 'cli-image',
               '--disk-format', 'raw', '--container-format', 'bare',
               '--property', 'os_distro=fedora', '--file', str(source)).stdout
    image_id = _field(out, 'id')
    assert _field(out, 'status') == 'active'
    assert _field(out, 'os_distro') == 'fedora'
    assert _field(out, 'checksum') == hashlib.md5(DATA).hexdigest()

    listing = _cli(service, 'image-list', '--property-filter',
                   'os_distro=fedora', '--page-size', '1').stdout
    assert image_id in listing and 'cli-image' in listing

    shown = _cli(service, 'image-show', image_id).stdout
    assert _field(shown, 'size') == str(len(DATA))

    out = _cli(service, 'image-update', image_id, '--name', 'cli-renamed',
               '--property', 'os_version=40').stdout
    assert _field(out, 'name') == 'cli-renamed'
    assert _field(out, 'os_version') == '40'

    _cli(service, 'image-tag-update', image_id, 'cli-tag')
    assert 'cli-tag' in _field(_cli(service, 'image-show', image_id).stdout,
                               'tags')

    target = tmp_path / 'download.raw'
    _cli(service, 'image-download', '--file', str(target), image_id)
    assert target.read_bytes() == DATA

    _cli(service, 'image-update', image_id, '--visibility', 'shared')
    out = _cli(service, 'member-create', image_id, 'cli-member').stdout
    assert 'cli-member' in out and 'pending' in out
    out = _cli(service, 'member-update', image_id, 'cli-member',
               'accepted').stdout
    assert 'accepted' in out
    assert 'cli-member' in _cli(service, 'member-list', '--image-id',
                                image_id).stdout

    _cli(service, 'image-deactivate', image_id)
    assert _field(_cli(service, 'image-show', image_id).stdout,
                  'status') == 'deactivated'
    _cli(service, 'image-reactivate', image_id)

    _cli(service, 'image-delete', image_id)
    result = _cli(service, 'image-show', image_id, check=False)
    assert result.returncode != 0
    assert 'No image found' in result.stderr + result.stdout


# openstacksdk ----------------------------------------------------------

@pytest.fixture
def sdk(service):
    import openstack.connection
    conn = openstack.connection.Connection(
        auth_type='none', image_endpoint_override=service.url,
        image_api_version='2')
    yield conn
    conn.close()


def test_openstacksdk_image_life_cycle(sdk):
    image = sdk.image.create_image(
        name='sdk-image', disk_format='raw', container_format='bare',
        data=DATA, allow_duplicates=True, validate_checksum=True,
        properties={'os_distro': 'arch'})
    image = sdk.image.get_image(image.id)
    assert image.status == 'active'
    assert image.size == len(DATA)
    assert image.checksum == hashlib.md5(DATA).hexdigest()
    assert image.properties.get('os_distro') == 'arch' or \
        image.os_distro == 'arch'

    response = sdk.image.download_image(image.id)
    assert response.content == DATA

    image = sdk.image.update_image(image, name='sdk-renamed', min_ram=64)
    assert image.name == 'sdk-renamed' and image.min_ram == 64

    sdk.image.add_tag(image, 'sdk-tag')
    assert 'sdk-tag' in sdk.image.get_image(image.id).tags
    sdk.image.remove_tag(image, 'sdk-tag')
    assert 'sdk-tag' not in sdk.image.get_image(image.id).tags

    sdk.image.deactivate_image(image)
    assert sdk.image.get_image(image.id).status == 'deactivated'
    sdk.image.reactivate_image(image)
    assert sdk.image.get_image(image.id).status == 'active'

    sdk.image.delete_image(image, ignore_missing=False)
    assert sdk.image.find_image(image.id) is None


def test_openstacksdk_list_and_members(sdk):
    project = imageutil.project()
    made = [sdk.image.create_image(name='sdk-%02d' % i, owner=project,
                                   disk_format='raw', container_format='bare',
                                   allow_duplicates=True, wait=False)
            for i in range(5)]
    listed = list(sdk.image.images(owner=project, limit=2))
    assert sorted(i.id for i in listed) == sorted(i.id for i in made)
    ordered = list(sdk.image.images(owner=project, sort_key='name',
                                    sort_dir='asc', limit=2))
    assert [i.name for i in ordered] == ['sdk-%02d' % i for i in range(5)]
    named = list(sdk.image.images(owner=project, name='sdk-03'))
    assert [i.name for i in named] == ['sdk-03']

    image = made[0]
    sdk.image.update_image(image, visibility='shared')
    member = sdk.image.add_member(image, member_id='sdk-member')
    assert member.status == 'pending'
    member = sdk.image.update_member(member, image, status='accepted')
    assert member.status == 'accepted'
    members = list(sdk.image.members(image))
    assert [(m.member_id, m.status) for m in members] == [
        ('sdk-member', 'accepted')]
    sdk.image.remove_member(member, image, ignore_missing=False)
    assert list(sdk.image.members(image)) == []

"""Image members: sharing, accepting, listing, removing, and refusals."""

import re

import pytest

from tests import fixtures
from tests.functional import imageutil
from tests.functional.imageutil import create
from tests.functional.imageutil import message

TIME_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


@pytest.fixture
def world(client):
    owner = client.as_caller(imageutil.project())
    member = client.as_caller(imageutil.project())
    stranger = client.as_caller(imageutil.project())
    image = create(owner, name='shared-one', visibility='shared')
    return owner, member, stranger, image


def _pid(caller):
    return caller.headers['X-Project-Id']


def _members(image):
    return '/v2/images/%s/members' % image['id']


def test_share_accept_and_remove(world):
    owner, member, stranger, image = world
    resp = owner.post(_members(image), json={'member': _pid(member)})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {'image_id', 'member_id', 'status', 'created_at',
                         'updated_at', 'schema'}
    assert body['image_id'] == image['id']
    assert body['member_id'] == _pid(member)
    assert body['status'] == 'pending'
    assert body['schema'] == '/v2/schemas/member'
    assert TIME_RE.match(body['created_at'])
    path = _members(image) + '/' + _pid(member)
    # A pending member can already see the image and its membership.
    assert member.get('/v2/images/%s' % image['id']).status_code == 200
    assert member.get(path).json()['status'] == 'pending'
    resp = member.put(path, json={'status': 'accepted'})
    assert resp.status_code == 200
    assert resp.json()['status'] == 'accepted'
    assert owner.get(path).json()['status'] == 'accepted'
    listed = owner.get(_members(image)).json()
    assert listed['schema'] == '/v2/schemas/members'
    assert [m['member_id'] for m in listed['members']] == [_pid(member)]
    assert stranger.get('/v2/images/%s' % image['id']).status_code == 404
    resp = owner.delete(path)
    assert resp.status_code == 204
    assert owner.get(_members(image)).json()['members'] == []
    assert member.get('/v2/images/%s' % image['id']).status_code == 404
    assert owner.delete(path).status_code == 404


def test_members_see_only_their_own_membership(world):
    owner, member, stranger, image = world
    for caller in (member, stranger):
        assert owner.post(_members(image),
                          json={'member': _pid(caller)}).status_code == 200
    assert len(owner.get(_members(image)).json()['members']) == 2
    seen = member.get(_members(image)).json()['members']
    assert [m['member_id'] for m in seen] == [_pid(member)]
    other = _members(image) + '/' + _pid(stranger)
    assert member.get(other).status_code == 404


def test_only_the_member_decides(world, client):
    owner, member, stranger, image = world
    owner.post(_members(image), json={'member': _pid(member)})
    path = _members(image) + '/' + _pid(member)
    resp = owner.put(path, json={'status': 'accepted'})
    assert resp.status_code == 403
    assert 'modify_member' in message(resp)
    assert stranger.put(path, json={'status': 'accepted'}).status_code == 404
    for status in ('rejected', 'pending', 'accepted'):
        resp = member.put(path, json={'status': status})
        assert resp.status_code == 200
        assert resp.json()['status'] == status
    resp = client.put(path, json={'status': 'rejected'})
    assert resp.status_code == 200


def test_only_the_owner_shares(world):
    owner, member, stranger, image = world
    owner.post(_members(image), json={'member': _pid(member)})
    resp = member.post(_members(image), json={'member': _pid(stranger)})
    assert resp.status_code == 403
    assert 'add_member' in message(resp)
    resp = member.delete(_members(image) + '/' + _pid(member))
    assert resp.status_code == 403
    assert 'delete_member' in message(resp)
    resp = stranger.post(_members(image), json={'member': _pid(stranger)})
    assert resp.status_code == 404


@pytest.mark.parametrize('visibility', ['private', 'public', 'community'])
def test_only_shared_images_have_members(client, visibility):
    image = create(client, visibility=visibility)
    resp = client.post(_members(image), json={'member': 'someone'})
    assert resp.status_code == 403
    assert 'Only shared images have members.' in message(resp)
    resp = client.get(_members(image))
    assert resp.status_code == 403
    assert 'Only shared images have members.' in message(resp)
    assert client.get(_members(image) + '/someone').status_code == 404


def test_duplicate_member(world):
    owner, member, _, image = world
    assert owner.post(_members(image),
                      json={'member': _pid(member)}).status_code == 200
    resp = owner.post(_members(image), json={'member': _pid(member)})
    assert resp.status_code == 409
    assert 'is duplicated for image' in message(resp)


def test_member_quota(service_factory):
    svc = service_factory({'image_member_quota': 1})
    client = fixtures.Client(svc.url)
    image = create(client)
    assert client.post(_members(image),
                       json={'member': 'one'}).status_code == 200
    resp = client.post(_members(image), json={'member': 'two'})
    assert resp.status_code == 413
    assert 'Maximum number of image members exceeded' in message(resp)


@pytest.mark.parametrize('body, text', [
    ({}, 'Member to be added not specified'),
    ({'member': ''}, 'Member to be added not specified'),
    ({'member': 5}, 'Member must be a string.'),
    ({'member': ['a']}, 'Member must be a string.'),
    ({'member': 'm' * 256}, 'at most 255 characters'),
    ({'member': 'a\x00'}, 'at most 255 characters'),
])
def test_bad_create_bodies(client, body, text):
    image = create(client)
    resp = client.post(_members(image), json=body)
    assert resp.status_code == 400
    assert text in message(resp)


@pytest.mark.parametrize('body, text', [
    ({}, 'Status not specified'),
    ({'status': 'maybe'}, 'Invalid status: maybe'),
    ({'status': 1}, 'Invalid status: int'),
    ({'status': None}, 'Invalid status: NoneType'),
])
def test_bad_update_bodies(world, body, text):
    owner, member, _, image = world
    owner.post(_members(image), json={'member': _pid(member)})
    resp = member.put(_members(image) + '/' + _pid(member), json=body)
    assert resp.status_code == 400
    assert text in message(resp)


def test_unknown_members_and_images(client):
    image = create(client)
    assert client.get(_members(image) + '/nobody').status_code == 404
    resp = client.put(_members(image) + '/nobody',
                      json={'status': 'accepted'})
    assert resp.status_code == 404
    assert client.delete(_members(image) + '/nobody').status_code == 404
    missing = '/v2/images/6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c/members'
    assert client.get(missing).status_code == 404
    assert client.post(missing, json={'member': 'x'}).status_code == 404


def test_body_refused_on_member_show_and_delete(client):
    image = create(client)
    client.post(_members(image), json={'member': 'x'})
    for method in ('GET', 'DELETE'):
        resp = client.request(method, _members(image) + '/x', data=b'{}')
        assert resp.status_code == 400
        assert 'A body is not expected' in message(resp)


def test_deleting_the_image_removes_memberships(world):
    owner, member, _, image = world
    owner.post(_members(image), json={'member': _pid(member)})
    assert owner.delete('/v2/images/%s' % image['id']).status_code == 204
    assert member.get(_members(image)).status_code == 404

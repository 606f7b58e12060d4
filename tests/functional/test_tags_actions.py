"""Tags (PUT/DELETE /v2/images/{id}/tags/{tag}) and the image actions."""

import urllib.parse

import pytest

from tests import fixtures
from tests.functional import imageutil
from tests.functional.imageutil import create
from tests.functional.imageutil import message


def _tag_path(image, tag):
    return '/v2/images/%s/tags/%s' % (image['id'],
                                      urllib.parse.quote(tag, safe=''))


def _tags(client, image):
    return sorted(client.get('/v2/images/%s' % image['id']).json()['tags'])


def test_add_and_delete_tags(client):
    image = create(client, tags=['keep'])
    for tag in ('new', 'new', 'ünïcode', 'with space'):
        resp = client.put(_tag_path(image, tag))
        assert resp.status_code == 204
        assert resp.text == ''
    assert _tags(client, image) == sorted(
        ['keep', 'new', 'ünïcode', 'with space'])
    assert client.delete(_tag_path(image, 'ünïcode')).status_code == 204
    assert client.delete(_tag_path(image, 'new')).status_code == 204
    assert _tags(client, image) == ['keep', 'with space']
    resp = client.delete(_tag_path(image, 'new'))
    assert resp.status_code == 404
    assert 'Tag new not found' in message(resp)


def test_tag_errors(client):
    image = create(client)
    resp = client.put(_tag_path(image, 't' * 256))
    assert resp.status_code == 400
    assert 'longer than 255 characters' in message(resp)
    resp = client.put(_tag_path(image, 't') + '%00')
    assert resp.status_code == 400
    assert 'must not contain NUL characters' in message(resp)
    resp = client.put(_tag_path(image, 't') + '%ff')
    assert resp.status_code == 400
    assert 'not valid UTF-8' in message(resp)
    resp = client.put(_tag_path(image, 'x'), data=b'body')
    assert resp.status_code == 400
    assert 'A body is not expected' in message(resp)
    missing = {'id': '6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c'}
    assert client.put(_tag_path(missing, 'x')).status_code == 404
    assert client.delete(_tag_path(missing, 'x')).status_code == 404
    resp = client.post(_tag_path(image, 'x'))
    assert resp.status_code == 405
    assert resp.headers['Allow'] == 'DELETE, PUT'


def test_tag_quota(service_factory):
    svc = service_factory({'image_tag_quota': 2})
    client = fixtures.Client(svc.url)
    image = create(client, tags=['a', 'b'])
    resp = client.put(_tag_path(image, 'c'))
    assert resp.status_code == 413
    assert 'Maximum number of image tags exceeded' in message(resp)
    # Re-adding an existing tag is not growth.
    assert client.put(_tag_path(image, 'a')).status_code == 204


def test_tag_policy_and_visibility(client):
    owner = client.as_caller(imageutil.project())
    other = client.as_caller(imageutil.project())
    private = create(owner, visibility='private')
    public = create(client, visibility='public')
    assert other.put(_tag_path(private, 'x')).status_code == 404
    resp = other.put(_tag_path(public, 'x'))
    assert resp.status_code == 403
    assert 'modify_image' in message(resp)
    resp = other.delete(_tag_path(public, 'x'))
    assert resp.status_code == 403


def _action(client, image, action):
    return client.post('/v2/images/%s/actions/%s' % (image['id'], action))


def test_deactivate_and_reactivate(client):
    project = imageutil.project()
    owner = client.as_caller(project)
    image = imageutil.active_image(owner, data=b'payload')
    resp = _action(owner, image, 'deactivate')
    assert resp.status_code == 204
    assert owner.get('/v2/images/%s' % image['id']).json()['status'] == \
        'deactivated'
    # Deactivating twice is a no-op.
    assert _action(owner, image, 'deactivate').status_code == 204
    resp = owner.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 403
    assert client.get('/v2/images/%s/file' % image['id']).content == \
        b'payload'
    assert _action(owner, image, 'reactivate').status_code == 204
    assert _action(owner, image, 'reactivate').status_code == 204
    assert owner.get('/v2/images/%s' % image['id']).json()['status'] == \
        'active'
    assert owner.get('/v2/images/%s/file' % image['id']).content == \
        b'payload'


@pytest.mark.parametrize('action', ['deactivate', 'reactivate'])
def test_actions_need_a_suitable_status(client, action):
    image = create(client)
    resp = _action(client, image, action)
    assert resp.status_code == 403
    assert "Not allowed to %s image in status 'queued'" % action in \
        message(resp)


@pytest.mark.parametrize('action', ['deactivate', 'reactivate'])
def test_action_policies(client, action):
    owner = client.as_caller(imageutil.project())
    image = imageutil.active_image(owner, visibility='community')
    if action == 'reactivate':
        assert _action(owner, image, 'deactivate').status_code == 204
    other = client.as_caller(imageutil.project())
    resp = _action(other, image, action)
    assert resp.status_code == 403
    assert action in message(resp)
    reader = client.as_caller(owner.headers['X-Project-Id'], roles='reader')
    assert _action(reader, image, action).status_code == 403
    private = create(owner, visibility='private')
    assert _action(other, private, action).status_code == 404


def test_action_errors(client):
    image = create(client)
    resp = client.post('/v2/images/%s/actions/deactivate' % image['id'],
                       data=b'{}')
    assert resp.status_code == 400
    assert 'A body is not expected' in message(resp)
    resp = client.get('/v2/images/%s/actions/deactivate' % image['id'])
    assert resp.status_code == 405
    assert resp.headers['Allow'] == 'POST'
    resp = client.post('/v2/images/6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c/'
                       'actions/reactivate')
    assert resp.status_code == 404

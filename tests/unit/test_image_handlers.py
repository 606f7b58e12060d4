"""Image API handlers refuse writes from read-only (anonymous) contexts."""

import pytest
import webob

from glance_import import context
from glance_import import exception
from glance_import.api import image_patch
from glance_import.api import image_query
from glance_import.api import images
from glance_import.api import members
from glance_import.api import util

IMAGE_ID = '6a1c4b2e-1d5e-4f6a-9b7c-0d1e2f3a4b5c'
MUTATING = [
    (images.create_image, 'POST', {}, b'{}'),
    (images.update_image, 'PATCH', {'image_id': IMAGE_ID}, b'[]'),
    (images.delete_image, 'DELETE', {'image_id': IMAGE_ID}, b''),
    (images.add_tag, 'PUT', {'image_id': IMAGE_ID, 'tag': 't'}, b''),
    (images.delete_tag, 'DELETE', {'image_id': IMAGE_ID, 'tag': 't'}, b''),
    (images.deactivate_image, 'POST', {'image_id': IMAGE_ID}, b''),
    (images.reactivate_image, 'POST', {'image_id': IMAGE_ID}, b''),
    (members.create_member, 'POST', {'image_id': IMAGE_ID}, b'{}'),
    (members.update_member, 'PUT',
     {'image_id': IMAGE_ID, 'member_id': 'm'}, b'{}'),
    (members.delete_member, 'DELETE',
     {'image_id': IMAGE_ID, 'member_id': 'm'}, b''),
]


@pytest.mark.parametrize('handler, method, kwargs, body', MUTATING)
def test_read_only_context_is_refused(handler, method, kwargs, body):
    req = webob.Request.blank('/v2/images', method=method)
    if body:
        req.body = body
        req.content_type = image_patch.PATCH_V21 if method == 'PATCH' \
            else 'application/json'
    req.environ[util.CONTEXT_KEY] = context.RequestContext(
        project_id=None, roles=[], read_only=True, overwrite=False)
    with pytest.raises(exception.ReadOnlyContext) as e:
        handler(req, **kwargs)
    assert e.value.status == 403
    assert e.value.msg == 'Read-only access'


@pytest.mark.parametrize('text, values', [
    ('a,b', ['a', 'b']),
    ('"a,b",c', ['a,b', 'c']),
    ('single', ['single']),
    ('', ['']),
    ('a,,b', ['a', '', 'b']),
])
def test_split_in_list(text, values):
    assert image_query.split_in_list(text) == values


def test_split_in_list_unbalanced():
    with pytest.raises(exception.BadRequest):
        image_query.split_in_list('"a,b')


@pytest.mark.parametrize('params, keys, dirs', [
    ([], ['created_at'], ['desc']),
    ([('sort_key', 'name')], ['name'], ['desc']),
    ([('sort_key', 'name'), ('sort_key', 'size'), ('sort_dir', 'asc')],
     ['name', 'size'], ['asc', 'asc']),
    ([('sort_dir', 'asc')], ['created_at'], ['asc']),
    ([('sort', 'name:asc,size')], ['name', 'size'], ['asc', 'desc']),
    ([('sort', 'name'), ('sort', 'id:asc')], ['name', 'id'],
     ['desc', 'asc']),
])
def test_parse_sorting(params, keys, dirs):
    assert image_query.parse_sorting(params) == (keys, dirs)

"""Image members: sharing an image with other projects (API v2.1+).

Only ``shared`` images have members. The owner adds and removes them;
each member project accepts or rejects the image for itself, and sees it
in its default image list once accepted.
"""

from oslo_config import cfg

from glance_import import exception
from glance_import import images as image_domain
from glance_import import notifications
from glance_import import policy
from glance_import.api import util
from glance_import.db import members as db_members

CONF = cfg.CONF

MEMBER_ID_MAX = 255


def member_view(member):
    return {'image_id': member['image_id'],
            'member_id': member['member_id'],
            'status': member['status'],
            'created_at': util.iso8601(member['created_at']),
            'updated_at': util.iso8601(member['updated_at']),
            'schema': '/v2/schemas/member'}


def _shared_image(ctx, image_id, rule):
    image = util.load_image(ctx, image_id, (policy.GET_IMAGE, rule))
    if image.visibility != 'shared':
        raise exception.Forbidden('Only shared images have members.')
    return image


def _member_id(value):
    member_id = util.path_text(value)
    if '\x00' in member_id or len(member_id) > MEMBER_ID_MAX:
        raise exception.MemberNotFound(image_id=member_id)
    return member_id


@util.no_body
def list_members(req, image_id):
    """200: the members of a shared image the caller may see."""
    ctx = util.context(req)
    image = _shared_image(ctx, image_id, policy.GET_MEMBERS)
    members = db_members.image_member_find(ctx, image.id)
    return util.json_response({
        'members': [member_view(m) for m in members],
        'schema': '/v2/schemas/members'})


def create_member(req, image_id):
    """200: the new membership, pending until the member accepts."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    body = util.json_body(req)
    member_id = body.get('member')
    if member_id is None or member_id == '':
        raise exception.BadRequest('Member to be added not specified')
    if not isinstance(member_id, str):
        raise exception.BadRequest('Member must be a string.')
    if len(member_id) > MEMBER_ID_MAX or '\x00' in member_id:
        raise exception.BadRequest(
            'Member must be a project id of at most %d characters.'
            % MEMBER_ID_MAX)
    image = _shared_image(ctx, image_id, policy.ADD_MEMBER)
    member = db_members.image_member_create(ctx, image.id, member_id,
                                            CONF.image_member_quota)
    notifications.send('image.member.create',
                       lambda: notifications.member_payload(member))
    return util.json_response(member_view(member))


@util.no_body
def show_member(req, image_id, member_id):
    """200: one membership; anything the caller may not see is a 404."""
    ctx = util.context(req)
    member_id = _member_id(member_id)
    try:
        image = _shared_image(ctx, image_id, policy.GET_MEMBER)
    except exception.Forbidden:
        raise exception.MemberNotFound(image_id=image_id)
    member = db_members.image_member_get(ctx, image.id, member_id)
    return util.json_response(member_view(member))


def update_member(req, image_id, member_id):
    """200: the member project accepted, rejected or reset the share."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    member_id = _member_id(member_id)
    body = util.json_body(req)
    if 'status' not in body:
        raise exception.BadRequest('Status not specified')
    status = body['status']
    if status not in image_domain.MEMBER_STATUSES:
        raise exception.BadRequest(
            'Invalid status: %s. Valid statuses are pending, accepted and '
            'rejected.' % (status if isinstance(status, str)
                           else type(status).__name__))
    image = _shared_image(ctx, image_id, policy.GET_IMAGE)
    # Only the member project itself (or an admin) decides.
    target = policy.image_target(image, member_id)
    if not policy.check(ctx, policy.MODIFY_MEMBER, target):
        raise exception.PolicyNotAuthorized(action=policy.MODIFY_MEMBER)
    db_members.image_member_get(ctx, image.id, member_id)
    member = db_members.image_member_update(ctx, image.id, member_id, status)
    notifications.send('image.member.update',
                       lambda: notifications.member_payload(member))
    return util.json_response(member_view(member))


@util.no_body
def delete_member(req, image_id, member_id):
    """204: the image is no longer shared with *member_id*."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    member_id = _member_id(member_id)
    image = _shared_image(ctx, image_id, policy.DELETE_MEMBER)
    member = db_members.image_member_get(ctx, image.id, member_id)
    db_members.image_member_delete(ctx, image.id, member_id)
    notifications.send('image.member.delete', lambda: dict(
        notifications.member_payload(member), deleted=True,
        deleted_at=notifications.now()))
    return util.empty_response()

"""The image resource: its JSON view and the handlers for create, show,
list, PATCH, delete, tags and the deactivate/reactivate actions.

Handlers parse, check policy, make one domain/db call and serialize; the
list query language is in ``image_query``, JSON-patch in ``image_patch``.
"""

import logging

from oslo_config import cfg

from glance_import import exception
from glance_import import images as image_domain
from glance_import import notifications
from glance_import import policy
from glance_import import property_protections
from glance_import.api import forwarding
from glance_import.api import image_patch
from glance_import.api import image_query
from glance_import.api import image_writes
from glance_import.api import schemas
from glance_import.api import util
from glance_import.cache import image_cache
from glance_import.db import image_lists
from glance_import.db import images as db_images
from glance_import.quota import unified_limits
from glance_import.store import backends
from glance_import.store import discovery
from glance_import.store import staging

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


# View ------------------------------------------------------------------

def _locations_visible(ctx, image):
    """Locations are shown to callers allowed get_image_location, except
    for deactivated images, whose data only admins may reach."""
    if image_domain.data_for_admins_only(image) and not ctx.is_admin:
        return False
    return policy.check(ctx, policy.GET_IMAGE_LOCATION,
                        policy.image_target(image, image.member))


def _preferred_location(locations, conf):
    """The location read first: the heaviest store, then oldest."""
    if not backends.is_multi_store(conf):
        return locations[0]
    return max(locations, key=lambda loc: discovery.store_weight(
        conf, loc['metadata'].get('store')))


def image_view(ctx, image, conf):
    """The image as Glance clients expect it."""
    view = {attr: getattr(image, attr)
            for attr in image_domain.BASE_ATTRIBUTES}
    view['created_at'] = util.iso8601(image.created_at)
    view['updated_at'] = util.iso8601(image.updated_at)
    properties = property_protections.readable(ctx, image.properties)
    for name, value in properties.items():
        if name not in image_domain.HIDDEN_PROPERTIES \
                and name not in view:
            view[name] = '' if value is None else value
    view['tags'] = list(image.tags)
    view['self'] = '/v2/images/%s' % image.id
    view['file'] = '/v2/images/%s/file' % image.id
    view['schema'] = '/v2/schemas/image'
    if conf.show_multiple_locations or conf.show_image_direct_url:
        locations = (image.locations if _locations_visible(ctx, image)
                     else [])
        if conf.show_multiple_locations:
            view['locations'] = [{'url': loc['url'],
                                  'metadata': loc['metadata']}
                                 for loc in locations]
        if conf.show_image_direct_url and locations:
            view['direct_url'] = _preferred_location(locations, conf)['url']
    if backends.is_multi_store(conf) and image.stores:
        view['stores'] = ','.join(image.stores)
    return view


# Create ----------------------------------------------------------------

def create_image(req):
    """201: a new queued image from the JSON body."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    body = util.json_body(req)
    # Read-only keys are refused before schema validation, so a client
    # echoing a whole image back learns which key is the problem.
    for key in sorted(body):
        if key in image_domain.READ_ONLY and key not in image_writes.WRITABLE:
            raise exception.ReadOnlyAttribute(attribute=key)
    util.check_no_nul(body)
    schemas.validate_image(body, CONF)
    values, properties = {}, {}
    for key, value in body.items():
        if key in image_writes.WRITABLE:
            values[key] = value
        elif key == 'locations':
            raise exception.ReservedAttribute(attribute=key)
        else:
            image_domain.check_property_name(key)
            properties[key] = value
    tags = values.pop('tags', [])
    owner = values.get('owner') or ctx.project_id
    if owner != ctx.project_id and not ctx.is_admin:
        raise exception.Forbidden(
            "You are not permitted to create images owned by '%s'."
            % owner)
    values['owner'] = owner
    values.setdefault('visibility', 'shared')
    target = {'project_id': owner, 'owner': owner,
              'visibility': values['visibility']}
    policy.authorize(ctx, policy.ADD_IMAGE, target)
    unified_limits.enforce(CONF, ctx, ctx.project_id,
                           unified_limits.IMAGE_COUNT_TOTAL, delta=1)
    for name in properties:
        property_protections.check(ctx, name, 'create')
    draft = image_domain.Image(id=values.get('id') or '', owner=owner,
                               visibility=values['visibility'],
                               properties=properties)
    image_writes.check_visibility_policy(ctx, draft, values['visibility'])
    for name in ('min_disk', 'min_ram'):
        image_writes.check_int32(name, values.get(name))
    image_writes.check_quotas(properties, tags, CONF)
    values.setdefault('min_disk', 0)
    values.setdefault('min_ram', 0)
    values.setdefault('protected', False)
    values.setdefault('os_hidden', False)
    image = db_images.image_create(ctx, values, properties, tags)
    image.member = None
    notifications.image_event('image.create', image)
    return util.json_response(
        image_view(ctx, image, CONF), status=201,
        headers=_create_headers(req, image, CONF))


def _create_headers(req, image, conf):
    headers = {'Location': '%s/v2/images/%s' % (req.application_url,
                                                image.id)}
    if conf.enable_image_import and conf.enabled_import_methods:
        headers['OpenStack-image-import-methods'] = ','.join(
            conf.enabled_import_methods)
    if backends.is_multi_store(conf):
        headers['OpenStack-image-store-ids'] = ','.join(
            backends.store_ids(conf))
    return headers


# Show ------------------------------------------------------------------

@util.no_body
def show_image(req, image_id):
    """200: one image."""
    ctx = util.context(req)
    image = util.load_image(ctx, image_id)
    return util.json_response(image_view(ctx, image, CONF))


# List ------------------------------------------------------------------

@util.no_body
def list_images(req):
    """200: a page of the images the caller may see."""
    ctx = util.context(req)
    policy.authorize(ctx, policy.GET_IMAGES, {'project_id': ctx.project_id})
    params = util.query_params(req)
    images, full_page = image_lists.image_get_all(
        ctx, **image_query.parse_list_query(params, CONF))
    # The database already applied visibility; the get_image rule may be
    # customised by the operator, so it has the last word per image.
    shown = [image for image in images if policy.check(
        ctx, policy.GET_IMAGE, policy.image_target(image, image.member))]
    body = {'images': [image_view(ctx, image, CONF) for image in shown],
            'first': image_query.page_link(params),
            'schema': '/v2/schemas/images'}
    if full_page and shown:
        body['next'] = image_query.page_link(params, marker=images[-1].id)
    return util.json_response(body)


# PATCH -----------------------------------------------------------------

def update_image(req, image_id):
    """200: the image after applying a JSON-patch document."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    media_type, operations = image_patch.parse_patch(req, CONF)
    image = util.load_image(ctx, image_id,
                            (policy.GET_IMAGE, policy.MODIFY_IMAGE))
    image = image_patch.apply_patch(ctx, image, media_type, operations,
                                    CONF)
    notifications.image_event('image.update', image)
    return util.json_response(image_view(ctx, image, CONF))


# Delete ----------------------------------------------------------------

@util.no_body
def delete_image(req, image_id):
    """204: the image is deleted, its data removed from stores/staging."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    image = util.load_image(ctx, image_id,
                            (policy.GET_IMAGE, policy.DELETE_IMAGE))
    # Staged on another API node: that node deletes it and its residue.
    forwarded = forwarding.forward_delete(req, image)
    if forwarded is not None:
        return forwarded
    if image.protected:
        raise exception.Forbidden(
            'Image %s is protected and cannot be deleted.' % image.id)
    image_domain.check_transition(image, image_domain.DELETED)
    # With delayed delete the data stays for the scrubber (or a restore).
    delayed = CONF.delayed_delete and bool(image.locations)
    tried = set() if delayed else _delete_remote_data_first(ctx, image)
    try:
        locations = db_images.image_delete(ctx, image.id, delayed=delayed)
    except exception.ImageNotFound:
        if forwarding.stage_host(req, image) is None:
            raise
        # The stage host deleted the record, then failed or timed out
        # answering: the image is gone, as the caller asked.
        LOG.info('Image %s was deleted by its stage host', image.id)
        return util.empty_response()
    backends.delete_all(loc for loc in locations if loc['id'] not in tried)
    staging.delete(CONF, image.id)
    _evict_from_cache(image.id)
    notifications.image_event(
        'image.delete', image, deleted=True, deleted_at=notifications.now(),
        status=(image_domain.PENDING_DELETE if delayed
                else image_domain.DELETED))
    return util.empty_response()


def _evict_from_cache(image_id):
    """Drop a deleted image from this node's cache (other nodes' cleaners
    drop theirs; no node serves it meanwhile, the image being gone)."""
    cache = image_cache.current()
    if cache is None:
        return
    try:
        cache.delete_cached(image_id)
        cache.delete_queued(image_id)
    except Exception as e:  # the image is deleted; the cleaner retries
        LOG.warning('Cannot remove image %s from the cache: %s',
                    image_id, e)


def _delete_remote_data_first(ctx, image):
    """Delete the data in glance_store backends before the record.

    As in Glance, a store that keeps the data for someone else (an RBD
    image with clones used by servers or volumes) refuses, and then the
    image stays with a 409. Any other failure is logged and the image is
    deleted all the same, as before. Returns the locations tried.
    """
    tried = set()
    for location in image.locations:
        if backends.local_path(location) is not None:
            continue    # our own files are never in use elsewhere
        try:
            backends.delete(location, context=ctx)
        except exception.InUseByStore as e:
            raise exception.Conflict(
                'Image %s could not be deleted because it is in use: %s'
                % (image.id, e.msg))
        except exception.GlanceImportError as e:
            LOG.warning('Could not delete the data of image %s at %s: %s',
                        image.id, location['url'], e.msg)
        tried.add(location['id'])
    return tried


# Tags ------------------------------------------------------------------

def _tag(tag):
    tag = util.without_nul(util.path_text(tag), 'Tag')
    if len(tag) > 255:
        raise exception.BadRequest(
            "Provided object does not match schema 'image': tag is longer "
            "than 255 characters.")
    return tag


@util.no_body
def add_tag(req, image_id, tag):
    """204: *tag* is on the image (adding it twice is harmless)."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    tag = _tag(tag)
    image = util.load_image(ctx, image_id,
                            (policy.GET_IMAGE, policy.MODIFY_IMAGE))
    db_images.image_add_tag(ctx, image.id, tag, CONF.image_tag_quota)
    _notify_update(ctx, image.id)
    return util.empty_response()


@util.no_body
def delete_tag(req, image_id, tag):
    """204: *tag* removed; 404 when the image does not have it."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    tag = _tag(tag)
    image = util.load_image(ctx, image_id,
                            (policy.GET_IMAGE, policy.MODIFY_IMAGE))
    db_images.image_delete_tag(ctx, image.id, tag)
    _notify_update(ctx, image.id)
    return util.empty_response()


def _notify_update(ctx, image_id):
    notifications.image_event('image.update', lambda: db_images.image_get(
        ctx, image_id, check_visible=False))


# Actions ---------------------------------------------------------------

def _set_active_state(req, image_id, rule, wanted, source, verb):
    ctx = util.context(req)
    util.check_mutating(ctx)
    image = util.load_image(ctx, image_id, (policy.GET_IMAGE, rule))
    if image.status == wanted:
        return util.empty_response()
    if image.status != source:
        raise exception.Forbidden(
            "Not allowed to %s image in status '%s'" % (verb, image.status))
    image_domain.check_transition(image, wanted)
    image = db_images.image_update(ctx, image.id, {'status': wanted},
                                   from_status=source)
    notifications.image_event('image.update', image)
    return util.empty_response()


@util.no_body
def deactivate_image(req, image_id):
    """204: an active image becomes deactivated (no-op if it already is)."""
    return _set_active_state(req, image_id, policy.DEACTIVATE,
                             image_domain.DEACTIVATED, image_domain.ACTIVE,
                             'deactivate')


@util.no_body
def reactivate_image(req, image_id):
    """204: a deactivated image becomes active again."""
    return _set_active_state(req, image_id, policy.REACTIVATE,
                             image_domain.ACTIVE, image_domain.DEACTIVATED,
                             'reactivate')

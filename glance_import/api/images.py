"""Image resource: create, show, list, JSON-patch update, delete, tags and
the deactivate/reactivate actions.

Handlers parse, check policy, make one domain/db call and serialize. The
JSON view and the parsing of list queries and patch documents live here
too, since only this resource uses them.
"""

import logging
import re

from oslo_config import cfg

from glance_import import exception
from glance_import import images as image_domain
from glance_import import policy
from glance_import.api import forwarding
from glance_import.api import image_query
from glance_import.api import schemas
from glance_import.api import util
from glance_import.db import image_lists
from glance_import.db import images as db_images

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Attributes a client may set on create or change with PATCH; the other
# base attributes are read-only.
WRITABLE = ('id', 'name', 'visibility', 'protected', 'os_hidden',
            'disk_format', 'container_format', 'min_disk', 'min_ram',
            'owner', 'tags')
# Base attributes PATCH may add/replace but never remove.
PATCH_BASE = frozenset(WRITABLE) | image_domain.READ_ONLY | {'locations'}
FORMAT_ATTRS = ('disk_format', 'container_format')

PATCH_V21 = 'application/openstack-images-v2.1-json-patch'
PATCH_V20 = 'application/openstack-images-v2.0-json-patch'
ACCEPT_PATCH = {'Accept-Patch': '%s, %s' % (PATCH_V20, PATCH_V21)}
PATCH_OPS = ('add', 'remove', 'replace')


# Helpers ---------------------------------------------------------------

def _locations_visible(ctx, image):
    """Locations are shown to callers allowed get_image_location, except
    for deactivated images, whose data only admins may reach."""
    if image.status == image_domain.DEACTIVATED and not ctx.is_admin:
        return False
    return policy.check(ctx, policy.GET_IMAGE_LOCATION,
                        policy.image_target(image, image.member))


def _preferred_location(locations, conf):
    """The location read first: the heaviest store, then oldest."""
    if not util.multi_store(conf):
        return locations[0]
    from glance_import.store import backends
    return max(locations, key=lambda loc: backends.store_weight(
        conf, loc['metadata'].get('store')))


def image_view(ctx, image, conf=CONF):
    """The image as Glance clients expect it."""
    view = {attr: getattr(image, attr)
            for attr in image_domain.BASE_ATTRIBUTES}
    view['created_at'] = util.iso8601(image.created_at)
    view['updated_at'] = util.iso8601(image.updated_at)
    for name, value in image.properties.items():
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
    if util.multi_store(conf) and image.stores:
        view['stores'] = ','.join(image.stores)
    return view


def _check_int32(name, value):
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise exception.BadRequest(
                'Cannot set %s to a negative value.' % name)
        if value > image_domain.INT32_MAX:
            raise exception.BadRequest(
                '%s must be at most %d.' % (name, image_domain.INT32_MAX))


def _check_visibility_policy(ctx, image_like, visibility):
    if visibility == 'public':
        policy.authorize(ctx, policy.PUBLICIZE_IMAGE,
                         policy.image_target(image_like))
    elif visibility == 'community':
        policy.authorize(ctx, policy.COMMUNITIZE_IMAGE,
                         policy.image_target(image_like))


def _check_quotas(properties, tags, conf=CONF):
    counted = [n for n in properties
               if not n.startswith(image_domain.RESERVED_PREFIX)]
    quota = conf.image_property_quota
    if 0 <= quota < len(counted):
        raise exception.QuotaExceeded(resource='image properties',
                                      limit=quota)
    quota = conf.image_tag_quota
    if 0 <= quota < len(set(tags)):
        raise exception.QuotaExceeded(resource='image tags', limit=quota)


# Create ----------------------------------------------------------------

def create_image(req):
    """201: a new queued image from the JSON body."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    body = util.json_body(req)
    # Read-only keys are refused before schema validation, so a client
    # echoing a whole image back learns which key is the problem.
    for key in sorted(body):
        if key in image_domain.READ_ONLY and key not in WRITABLE:
            raise exception.ReadOnlyAttribute(attribute=key)
    util.check_no_nul(body)
    schemas.validate_image(body)
    values, properties = {}, {}
    for key, value in body.items():
        if key in WRITABLE:
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
    draft = image_domain.Image(id=values.get('id') or '', owner=owner,
                               visibility=values['visibility'],
                               properties=properties)
    _check_visibility_policy(ctx, draft, values['visibility'])
    for name in ('min_disk', 'min_ram'):
        _check_int32(name, values.get(name))
    _check_quotas(properties, tags)
    values.setdefault('min_disk', 0)
    values.setdefault('min_ram', 0)
    values.setdefault('protected', False)
    values.setdefault('os_hidden', False)
    image = db_images.image_create(ctx, values, properties, tags)
    image.member = None
    return util.json_response(
        image_view(ctx, image), status=201,
        headers=_create_headers(req, image))


def _create_headers(req, image, conf=CONF):
    headers = {'Location': '%s/v2/images/%s' % (req.application_url,
                                                image.id)}
    if conf.enable_image_import and conf.enabled_import_methods:
        headers['OpenStack-image-import-methods'] = ','.join(
            conf.enabled_import_methods)
    if util.multi_store(conf):
        from glance_import.store import backends
        headers['OpenStack-image-store-ids'] = ','.join(
            backends.store_ids(conf))
    return headers


# Show ------------------------------------------------------------------

@util.no_body
def show_image(req, image_id):
    """200: one image."""
    ctx = util.context(req)
    image = util.load_image(ctx, image_id)
    return util.json_response(image_view(ctx, image))


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
    body = {'images': [image_view(ctx, image) for image in shown],
            'first': image_query.page_link(params),
            'schema': '/v2/schemas/images'}
    if full_page and shown:
        body['next'] = image_query.page_link(params, marker=images[-1].id)
    return util.json_response(body)


# PATCH -----------------------------------------------------------------

def _parse_pointer(pointer):
    """Segments of a JSON pointer, un-escaped; 400 when malformed."""
    if not isinstance(pointer, str):
        raise exception.BadRequest('The path must be a string.')
    if not pointer.startswith('/'):
        raise exception.BadRequest(
            'Pointer `%s` does not start with "/".' % pointer)
    if len(pointer) > 1 and pointer.endswith('/'):
        raise exception.BadRequest('Pointer `%s` end with "/".' % pointer)
    if re.search(r'/\s*/', pointer):
        raise exception.BadRequest(
            'Pointer `%s` contains adjacent "/".' % pointer)
    if re.search(r'~[^01]', pointer) or pointer.endswith('~'):
        raise exception.BadRequest(
            'Pointer `%s` contains "~" not part of a recognized escape '
            'sequence.' % pointer)
    segments = [part.replace('~1', '/').replace('~0', '~').strip()
                for part in pointer[1:].split('/')]
    if not segments[0]:
        raise exception.BadRequest(
            'Pointer `%s` does not contain a valid token.' % pointer)
    return segments


def _parse_operation(item, media_type):
    """{'op', 'path' (segments), 'value'} from one patch element."""
    if not isinstance(item, dict):
        raise exception.BadRequest('Operations must be JSON objects.')
    if media_type == PATCH_V21:
        op = item.get('op')
        if op not in PATCH_OPS:
            raise exception.BadRequest(
                'Unable to find `op` in JSON Schema change. It must be one '
                'of the following: add, remove, replace.')
        if 'path' not in item:
            raise exception.BadRequest(
                "Unable to find '`path`' in JSON Schema change")
        pointer = item['path']
    else:
        present = [op for op in PATCH_OPS if op in item]
        if len(present) != 1:
            raise exception.BadRequest(
                'Operation objects must contain exactly one member named '
                '"add", "remove", or "replace".')
        op = present[0]
        pointer = item[op]
    if op != 'remove' and 'value' not in item:
        raise exception.BadRequest(
            'Operation "%s" requires a member named "value".' % op)
    path = _parse_pointer(pointer)
    root = path[0]
    if root == 'locations':
        depth = 1 if op == 'replace' else 2
    else:
        depth = 1
    if len(path) != depth:
        raise exception.BadRequest('Invalid JSON pointer for this '
                                   'resource: %s' % pointer)
    if root in image_domain.READ_ONLY:
        raise exception.ReadOnlyAttribute(attribute=root)
    if image_domain.is_reserved(root):
        raise exception.ReservedAttribute(attribute=root)
    value = item.get('value')
    if op != 'remove':
        if root not in PATCH_BASE:
            image_domain.check_property_name(root)
        fragment = value if len(path) == 1 else [value]
        schemas.validate_image({root: fragment}, whole=False)
    return {'op': op, 'path': path, 'value': value}


def parse_patch(req):
    """The list of operations of a PATCH request (415/400/403 early)."""
    media_type = req.content_type
    if media_type not in (PATCH_V21, PATCH_V20):
        raise exception.UnsupportedMediaType(
            'Unsupported Content-Type %s' % (media_type or '(none)'),
            headers=ACCEPT_PATCH)
    doc = util.json_body(req, allowed=(object,))
    if not isinstance(doc, list):
        raise exception.BadRequest(
            'Request body must be a JSON array of operation objects.')
    util.check_no_nul(doc)
    return media_type, [_parse_operation(item, media_type) for item in doc]


class _Changes:
    """What a PATCH does to one image, gathered before anything is saved."""

    def __init__(self, image):
        self.image = image
        self.values = {}
        self.properties = dict(image.properties)
        self.tags = list(image.tags)
        self.tags_changed = False
        self.location_ops = []

    def current(self, attr):
        return self.values.get(attr, getattr(self.image, attr))


def _apply_base(ctx, changes, op, root, value):
    image = changes.image
    if op == 'remove':
        raise exception.Forbidden('Property %s may not be removed.' % root)
    if root == 'tags':
        changes.tags = list(dict.fromkeys(value))
        changes.tags_changed = True
        return
    if root == 'owner' and not ctx.is_admin:
        raise exception.Forbidden("Owner can't be updated by non admin.")
    if root in FORMAT_ATTRS and image.status not in (
            image_domain.QUEUED, image_domain.IMPORTING):
        raise exception.Forbidden(
            'Attribute %s can be only replaced for a queued image.' % root)
    if root == 'visibility':
        _check_visibility_policy(ctx, image, value)
    if root in ('min_disk', 'min_ram'):
        _check_int32(root, value)
    changes.values[root] = value


def _apply_property(changes, op, name, value, media_type):
    props = changes.properties
    if op == 'replace' and name not in props:
        raise exception.Conflict('Property %s does not exist.' % name)
    if op == 'add' and media_type == PATCH_V20 and name in props:
        raise exception.Conflict('Property %s already present.' % name)
    if op == 'remove':
        if name not in props:
            raise exception.Conflict('Property %s does not exist.' % name)
        del props[name]
    else:
        props[name] = value


_LOCATION_VERBS = {'add': 'add', 'replace': 'update', 'remove': 'remove'}


def _apply_location(ctx, changes, op, path, value, conf=CONF):
    if not conf.show_multiple_locations:
        raise exception.Forbidden(
            "It's not allowed to %s locations if locations are invisible."
            % _LOCATION_VERBS[op])
    changes.location_ops.append((op, path, value))


def _check_location_url(url, metadata, conf=CONF):
    """400 unless a configured store understands *url*."""
    from glance_store import location as store_location
    try:
        if util.multi_store(conf) and metadata.get('store'):
            store_location.get_location_from_uri_and_backend(
                url, metadata['store'], conf=conf)
        else:
            store_location.get_location_from_uri(url, conf=conf)
    except Exception:
        raise exception.BadRequest('Invalid location: %s' % url)


def _location_index(image, segment, *, allow_end):
    if segment == '-' and allow_end:
        return len(image.locations)
    if not (segment.isascii() and segment.isdigit()):
        raise exception.BadRequest('Invalid location index: %s' % segment)
    index = int(segment)
    if index > len(image.locations) or (
            index == len(image.locations) and not allow_end):
        raise exception.BadRequest('Invalid location index: %s' % segment)
    return index


def _add_locations(ctx, image, new_locations, conf=CONF):
    """Append locations; a queued image becomes active with them."""
    policy.authorize_image(ctx, policy.SET_IMAGE_LOCATION, image)
    if image.status not in (image_domain.QUEUED, image_domain.ACTIVE):
        raise exception.Conflict(
            "It's not allowed to add locations if image status is %s."
            % image.status)
    quota = conf.image_location_quota
    if 0 <= quota < len(image.locations) + len(new_locations):
        raise exception.QuotaExceeded(resource='image locations',
                                      limit=quota)
    known = {loc['url'] for loc in image.locations}
    for loc in new_locations:
        if loc['url'] in known:
            raise exception.BadRequest('Duplicate location: %s'
                                       % loc['url'])
        known.add(loc['url'])
        _check_location_url(loc['url'], loc['metadata'])
    for loc in new_locations:
        values, from_status = None, None
        if image.status == image_domain.QUEUED:
            image_domain.check_transition(image, image_domain.ACTIVE)
            values = dict(loc.get('validation_data') or {})
            values['status'] = image_domain.ACTIVE
            from_status = image_domain.QUEUED
        elif loc.get('validation_data'):
            for key, expected in loc['validation_data'].items():
                if getattr(image, key) != expected:
                    raise exception.Conflict(
                        'Image %s does not match the validation data.'
                        % key)
        db_images.image_add_location(ctx, image.id, loc['url'],
                                     loc['metadata'], values=values,
                                     from_status=from_status)
        image = util.load_image(ctx, image.id, (), from_path=False,
                                check_visible=False)
    return image


def _location_add(ctx, image, path, value):
    # Locations are kept in the order they were added; only appending
    # is supported, not inserting in the middle.
    index = _location_index(image, path[1], allow_end=True)
    if index != len(image.locations):
        raise exception.BadRequest(
            'Locations can only be appended (path /locations/-).')
    return _add_locations(ctx, image, [value])


def _location_replace(ctx, image, path, value):
    policy.authorize_image(ctx, policy.SET_IMAGE_LOCATION, image)
    if image.status not in (image_domain.QUEUED, image_domain.ACTIVE):
        raise exception.Conflict(
            "It's not allowed to replace locations if image status is %s."
            % image.status)
    if not value:
        if image.locations:
            raise exception.Forbidden('Cannot set locations to empty list.')
        return image
    if image.locations:
        raise exception.BadRequest(
            'Cannot replace locations from a non-empty list to a '
            'non-empty list.')
    return _add_locations(ctx, image, value)


def _location_remove(ctx, image, path, value):
    policy.authorize_image(ctx, policy.DELETE_IMAGE_LOCATION, image)
    if image.status != image_domain.ACTIVE:
        raise exception.Conflict(
            "It's not allowed to remove locations if image status is %s."
            % image.status)
    index = _location_index(image, path[1], allow_end=False)
    if len(image.locations) == 1:
        raise exception.Forbidden('Cannot remove last location in the '
                                  'image.')
    location = image.locations[index]
    db_images.image_remove_location(ctx, image.id, location['id'])
    from glance_import.store import backends
    backends.delete_all([location])
    return util.load_image(ctx, image.id, (), from_path=False,
                           check_visible=False)


_LOCATION_OPS = {'add': _location_add, 'replace': _location_replace,
                 'remove': _location_remove}


def update_image(req, image_id):
    """200: the image after applying a JSON-patch document."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    media_type, operations = parse_patch(req)
    image = util.load_image(ctx, image_id,
                            (policy.GET_IMAGE, policy.MODIFY_IMAGE))
    changes = _Changes(image)
    for item in operations:
        op, path, value = item['op'], item['path'], item['value']
        root = path[0]
        if root == 'locations':
            _apply_location(ctx, changes, op, path, value)
        elif root in PATCH_BASE:
            _apply_base(ctx, changes, op, root, value)
        else:
            _apply_property(changes, op, root, value, media_type)
    _check_quotas(changes.properties, changes.tags)
    set_props = {k: v for k, v in changes.properties.items()
                 if image.properties.get(k) != v or k not in image.properties}
    removed = [k for k in image.properties if k not in changes.properties]
    # A format change is only valid in the status it was checked in.
    from_status = (image.status if any(a in changes.values
                                       for a in FORMAT_ATTRS) else None)
    if changes.values or set_props or removed or changes.tags_changed:
        image = db_images.image_update(
            ctx, image.id, changes.values, from_status=from_status,
            set_properties=set_props, remove_properties=removed,
            tags=changes.tags if changes.tags_changed else None)
    for op, path, value in changes.location_ops:
        image = _LOCATION_OPS[op](ctx, image, path, value)
    image.member = changes.image.member
    return util.json_response(image_view(ctx, image))


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
    # Imported lazily: the store layer pulls in glance_store drivers.
    from glance_import.store import backends
    from glance_import.store import staging
    tried = _delete_remote_data_first(ctx, image)
    try:
        locations = db_images.image_delete(ctx, image.id)
    except exception.ImageNotFound:
        if forwarding.stage_host(req, image) is None:
            raise
        # The stage host deleted the record, then failed or timed out
        # answering: the image is gone, as the caller asked.
        LOG.info('Image %s was deleted by its stage host', image.id)
        return util.empty_response()
    backends.delete_all(loc for loc in locations if loc['id'] not in tried)
    staging.delete(CONF, image.id)
    return util.empty_response()


def _delete_remote_data_first(ctx, image):
    """Delete the data in glance_store backends before the record.

    As in Glance, a store that keeps the data for someone else (an RBD
    image with clones used by servers or volumes) refuses, and then the
    image stays with a 409. Any other failure is logged and the image is
    deleted all the same, as before. Returns the locations tried.
    """
    from glance_import.store import backends
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
    return util.empty_response()


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
    db_images.image_update(ctx, image.id, {'status': wanted},
                           from_status=source)
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

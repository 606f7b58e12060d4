"""JSON-patch on images (the v2.0 and v2.1 media types): parsing the
document into operations, checking each, and applying them to an image.
"""

import re

from glance_import import exception
from glance_import import images as image_domain
from glance_import import property_protections
from glance_import.api import image_writes
from glance_import.api import locations
from glance_import.api import schemas
from glance_import.api import util
from glance_import.db import images as db_images

PATCH_V21 = 'application/openstack-images-v2.1-json-patch'
PATCH_V20 = 'application/openstack-images-v2.0-json-patch'
ACCEPT_PATCH = {'Accept-Patch': '%s, %s' % (PATCH_V20, PATCH_V21)}
PATCH_OPS = ('add', 'remove', 'replace')
# Base attributes PATCH may add/replace but never remove.
PATCH_BASE = (frozenset(image_writes.WRITABLE) | image_domain.READ_ONLY
              | {'locations'})
FORMAT_ATTRS = ('disk_format', 'container_format')


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


def _parse_operation(item, media_type, conf):
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
        schemas.validate_image({root: fragment}, conf, whole=False)
    return {'op': op, 'path': path, 'value': value}


def parse_patch(req, conf):
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
    return media_type, [_parse_operation(item, media_type, conf)
                        for item in doc]


class _Changes:
    """What a PATCH does to one image, gathered before anything is saved."""

    def __init__(self, ctx, image):
        self.image = image
        self.values = {}
        self.properties = dict(image.properties)
        # What the caller may read; the rest is kept as it is, unseen.
        self.visible = set(property_protections.readable(
            ctx, image.properties))
        self.tags = list(image.tags)
        self.tags_changed = False
        self.location_ops = []


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
        image_writes.check_visibility_policy(ctx, image, value)
    if root in ('min_disk', 'min_ram'):
        image_writes.check_int32(root, value)
    changes.values[root] = value


def _apply_property(ctx, changes, op, name, value, media_type):
    props = changes.properties
    # A property the caller may not read does not exist for it.
    present = name in props and name in changes.visible
    if op == 'replace' and not present:
        raise exception.Conflict('Property %s does not exist.' % name)
    if op == 'add' and media_type == PATCH_V20 and present:
        raise exception.Conflict('Property %s already present.' % name)
    if op == 'remove':
        if not present:
            raise exception.Conflict('Property %s does not exist.' % name)
        property_protections.check(ctx, name, 'delete')
        del props[name]
        changes.visible.discard(name)
    else:
        property_protections.check(ctx, name,
                                   'update' if present else 'create')
        props[name] = value
        changes.visible.add(name)


def apply_patch(ctx, image, media_type, operations, conf):
    """Apply parsed *operations* to *image* and save them; the image after.

    Attributes, properties and tags are saved in one update, then the
    location operations run in order.
    """
    changes = _Changes(ctx, image)
    for item in operations:
        op, path, value = item['op'], item['path'], item['value']
        root = path[0]
        if root == 'locations':
            locations.check_editable(op, conf)
            changes.location_ops.append((op, path, value))
        elif root in PATCH_BASE:
            _apply_base(ctx, changes, op, root, value)
        else:
            _apply_property(ctx, changes, op, root, value, media_type)
    image_writes.check_quotas(changes.properties, changes.tags, conf)
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
        image = locations.apply(ctx, image, op, path, value, conf)
    image.member = changes.image.member
    return image

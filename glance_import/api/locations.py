"""Image locations changed through PATCH: adding, replacing and removing
them, with the checks on their URLs, indexes, quota and validation data.

Which image statuses allow each change is the domain's rule
(``images.check_location_change``).
"""

from glance_import import exception
from glance_import import images as image_domain
from glance_import import policy
from glance_import.api import util
from glance_import.db import images as db_images
from glance_import.store import backends

_LOCATION_VERBS = {'add': 'add', 'replace': 'update', 'remove': 'remove'}


def check_editable(op, conf):
    """403 unless clients see locations (show_multiple_locations): they
    may only change what they are shown."""
    if not conf.show_multiple_locations:
        raise exception.Forbidden(
            "It's not allowed to %s locations if locations are invisible."
            % _LOCATION_VERBS[op])


def _check_url(url, metadata, conf):
    """400 unless a configured store understands *url*."""
    from glance_store import location as store_location
    try:
        if backends.is_multi_store(conf) and metadata.get('store'):
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


def _add_locations(ctx, image, new_locations, conf):
    """Append locations; a queued image becomes active with them."""
    policy.authorize_image(ctx, policy.SET_IMAGE_LOCATION, image)
    image_domain.check_location_change(image, 'add')
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
        _check_url(loc['url'], loc['metadata'], conf)
    for loc in new_locations:
        values, from_status = None, None
        if image_domain.location_activates(image):
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


def _add(ctx, image, path, value, conf):
    # Locations are kept in the order they were added; only appending
    # is supported, not inserting in the middle.
    index = _location_index(image, path[1], allow_end=True)
    if index != len(image.locations):
        raise exception.BadRequest(
            'Locations can only be appended (path /locations/-).')
    return _add_locations(ctx, image, [value], conf)


def _replace(ctx, image, path, value, conf):
    policy.authorize_image(ctx, policy.SET_IMAGE_LOCATION, image)
    image_domain.check_location_change(image, 'replace')
    if not value:
        if image.locations:
            raise exception.Forbidden('Cannot set locations to empty list.')
        return image
    if image.locations:
        raise exception.BadRequest(
            'Cannot replace locations from a non-empty list to a '
            'non-empty list.')
    return _add_locations(ctx, image, value, conf)


def _remove(ctx, image, path, value, conf):
    policy.authorize_image(ctx, policy.DELETE_IMAGE_LOCATION, image)
    image_domain.check_location_change(image, 'remove')
    index = _location_index(image, path[1], allow_end=False)
    if len(image.locations) == 1:
        raise exception.Forbidden('Cannot remove last location in the '
                                  'image.')
    location = image.locations[index]
    db_images.image_remove_location(ctx, image.id, location['id'])
    backends.delete_all([location])
    return util.load_image(ctx, image.id, (), from_path=False,
                           check_visible=False)


_OPS = {'add': _add, 'replace': _replace, 'remove': _remove}


def apply(ctx, image, op, path, value, conf):
    """The image after the PATCH operation *op* on /locations[/index]."""
    return _OPS[op](ctx, image, path, value, conf)

"""Image locations changed through PATCH (add at an index, replace the
whole list, remove at an index), with Glance's checks and messages.

Which image statuses allow each change is the domain's rule
(``images.check_location_change``); whether a URL is acceptable is the
store layer's (``store.external``).
"""

import hashlib

from glance_import import exception
from glance_import import images as image_domain
from glance_import import policy
from glance_import.api import util
from glance_import.db import images as db_images
from glance_import.importer import uri_filter
from glance_import.store import backends
from glance_import.store import external

_LOCATION_VERBS = {'add': 'add', 'replace': 'update', 'remove': 'remove'}


def check_editable(op, conf):
    """403 unless clients see locations (show_multiple_locations): they
    may only change what they are shown."""
    if not conf.show_multiple_locations:
        raise exception.Forbidden(
            "It's not allowed to %s locations if locations are invisible."
            % _LOCATION_VERBS[op])


def check_new_location(conf, url, metadata, *, context=None):
    """``(metadata, size)`` of a location a client adds, or 400.

    HTTP(S) URLs pass web-download's host filter first, so that adding a
    location never makes the service connect where an import may not.
    """
    if external.scheme(url) in ('http', 'https'):
        try:
            uri_filter.check_uri(conf, url, purpose='add location')
        except uri_filter.FilterError:
            raise external.InvalidLocation()
    return external.check(conf, url, metadata, context=context)


def _check_hex_digest(name, value, algo, status):
    error = exception.Conflict if status == 409 else exception.BadRequest
    try:
        digest = bytes.fromhex(value)
    except (ValueError, TypeError):
        raise error('%s (%s) is not a valid hexadecimal value'
                    % (name, value))
    want = hashlib.new(algo).digest_size
    if len(digest) != want:
        raise error('%s (%s) is not the correct size for %s (should be %d '
                    'bytes)' % (name, value, algo, want))


def validation_values(image, new_locations, conf):
    """The image columns the locations' validation data sets (409s).

    Values equal to the image's are fine; different ones are refused
    once the image has them, and new ones only land on a queued image.
    """
    given = {}
    for loc in new_locations:
        for key, value in (loc.get('validation_data') or {}).items():
            if given.get(key, value) != value:
                raise exception.Conflict('Conflicting values for %s' % key)
            given[key] = value
    new = {}
    for key, value in given.items():
        current = getattr(image, key)
        if value == current:
            continue
        if current:
            raise exception.Conflict(
                '%s is already set with a different value' % key)
        new[key] = value
    if not new:
        return {}
    if image.status != image_domain.QUEUED:
        raise exception.Conflict(
            "New value(s) for %s may only be provided when image status is "
            "'queued'" % ', '.join(new))
    if 'checksum' in new:
        _check_hex_digest('checksum', new['checksum'], 'md5', 409)
    algo = new.get('os_hash_algo')
    if algo != conf.hashing_algorithm:
        raise exception.Conflict('os_hash_algo must be %s, not %s'
                                 % (conf.hashing_algorithm, algo))
    _check_hex_digest('os_hash_value', new.get('os_hash_value'), algo, 409)
    return new


def _position(segment, count, *, adding):
    """The list index a PATCH path names, or None if it names none.

    Adding takes any index (past the end appends) or ``-``; removing an
    existing index or ``-`` (the last).
    """
    if segment == '-':
        return count if adding else count - 1
    if not (segment.isascii() and segment.isdigit()):
        return None
    index = int(segment)
    if adding:
        return min(index, count)
    return index if index < count else None


def _plain(locations):
    return [{'url': loc['url'], 'metadata': dict(loc['metadata'])}
            for loc in locations]


def _check_duplicates(existing, new_locations):
    seen = {loc['url'] for loc in existing}
    for loc in new_locations:
        if loc['url'] in seen:
            raise exception.BadRequest('The location %s already exists'
                                       % loc['url'])
        seen.add(loc['url'])


def _check_quota(count, conf):
    quota = conf.image_location_quota
    if 0 <= quota < count:
        raise exception.QuotaExceeded(resource='image locations',
                                      limit=quota)


def _save(ctx, image, new_list, vals, size):
    """Write the new list; a queued image becomes active with it."""
    values, from_status = {}, None
    if image.size is None and size:
        values['size'] = size
    if image_domain.location_activates(image) and new_list:
        image_domain.check_transition(image, image_domain.ACTIVE)
        values.update(vals)
        values['status'] = image_domain.ACTIVE
        from_status = image_domain.QUEUED
    db_images.image_set_locations(ctx, image.id, new_list,
                                  values=values or None,
                                  from_status=from_status)
    return util.load_image(ctx, image.id, (), from_path=False,
                           check_visible=False)


def _add(ctx, image, path, value, conf):
    policy.authorize_image(ctx, policy.SET_IMAGE_LOCATION, image)
    image_domain.check_location_change(image, 'add')
    vals = validation_values(image, [value], conf)
    index = _position(path[1], len(image.locations), adding=True)
    if index is None:
        raise exception.BadRequest('Invalid position for adding a location.')
    metadata, size = check_new_location(conf, value['url'],
                                        value['metadata'], context=ctx)
    _check_duplicates(image.locations, [value])
    _check_quota(len(image.locations) + 1, conf)
    new_list = _plain(image.locations)
    new_list.insert(index, {'url': value['url'], 'metadata': metadata})
    return _save(ctx, image, new_list, vals, size)


def _replace(ctx, image, path, value, conf):
    policy.authorize_image(ctx, policy.SET_IMAGE_LOCATION, image)
    image_domain.check_location_change(image, 'replace')
    if not value:
        if image.locations:
            raise exception.Forbidden('Cannot set locations to empty list.')
        return image
    vals = validation_values(image, value, conf)
    same_urls = (sorted(loc['url'] for loc in value)
                 == sorted(loc['url'] for loc in image.locations))
    if image.locations and not same_urls:
        raise exception.BadRequest(
            'Original locations is not empty: %s'
            % _plain(image.locations))
    _check_duplicates([], value)
    _check_quota(len(value), conf)
    new_list, size = [], None
    for loc in value:
        metadata = dict(loc['metadata'])
        if same_urls:
            # Only the metadata (or the order) changes: the URLs were
            # checked when they were added.
            store_id = external.store_for_url(conf, loc['url'])
            if store_id and not metadata.get('store'):
                metadata['store'] = store_id
        else:
            metadata, found = check_new_location(conf, loc['url'], metadata,
                                                 context=ctx)
            size = size or found
        new_list.append({'url': loc['url'], 'metadata': metadata})
    return _save(ctx, image, new_list, vals, size)


def _remove(ctx, image, path, value, conf):
    policy.authorize_image(ctx, policy.DELETE_IMAGE_LOCATION, image)
    image_domain.check_location_change(image, 'remove')
    if len(image.locations) == 1:
        raise exception.Forbidden('Cannot remove last location in the '
                                  'image.')
    index = _position(path[1], len(image.locations), adding=False)
    if index is None:
        raise exception.BadRequest(
            'Invalid position for removing a location.')
    location = image.locations[index]
    db_images.image_remove_location(ctx, image.id, location['id'])
    backends.delete_all([location], context=ctx)
    return util.load_image(ctx, image.id, (), from_path=False,
                           check_visible=False)


_OPS = {'add': _add, 'replace': _replace, 'remove': _remove}


def apply(ctx, image, op, path, value, conf):
    """The image after the PATCH operation *op* on /locations[/index]."""
    return _OPS[op](ctx, image, path, value, conf)

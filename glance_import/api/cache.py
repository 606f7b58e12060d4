"""The image cache management API (v2.14, 2.16, 2.18): /v2/cache.

The cache is this node's, so every answer is about the node that
serves the request. Glance's order of checks is kept, as clients see it:
the list, clear, clean, prune and nodes calls check policy before saying
that the cache is off (404); queueing and deleting one image look the
image up first, so a caller who cannot see it gets 404 before any 403.

Where Glance answers 500 this service does not: a request body is a
400 on every route (Glance fails on a JSON one), and deleting an unknown
image while the cache is off is its 404. ``x-image-cache-clear-target``
takes ``cache``, ``queue`` or nothing (both), as in Glance: clients send
no header to clear both, and ``both`` itself is refused. GET /v2/cache
lists only ``cached_images`` and ``queued_images``: the glance client
prints every other key's items as queued images.
"""

from oslo_config import cfg

from glance_import import exception
from glance_import import images
from glance_import import policy
from glance_import.api import util
from glance_import.cache import directory
from glance_import.cache import image_cache
from glance_import.cache import worker
from glance_import.db import images as db_images

CONF = cfg.CONF

CLEAR_TARGET = 'x-image-cache-clear-target'


def _not_found(image_id):
    return exception.NotFound('Image %s not found.' % image_id)


def enforce(ctx, rule, target=None):
    """The cache of this node once *ctx* may perform *rule*; 404 when the
    cache is off (after the policy check, as in Glance)."""
    if not policy.check(ctx, rule, target or {}):
        raise exception.Forbidden(
            'You are not authorized to complete %s action.' % rule)
    cache = image_cache.current()
    if cache is None:
        raise exception.NotFound(
            'Caching via API is not supported at this site.')
    return cache


def find_image(ctx, image_id):
    """The image the caller can see, or None (no policy applied: the
    cache rules are checked against it afterwards)."""
    if not directory.is_image_id(image_id):
        return None
    try:
        return db_images.image_get(ctx, image_id)
    except exception.ImageNotFound:
        return None


def _holds(image_id):
    cache = image_cache.current()
    return (cache is not None and directory.is_image_id(image_id)
            and (cache.is_cached(image_id) or cache.is_queued(image_id)))


@util.no_body
def show_cache(req):
    """200: the cached images (Glance's records) and the queued ids."""
    cache = enforce(util.context(req), policy.CACHE_LIST)
    return util.json_response({'cached_images': cache.cached_entries(),
                               'queued_images': cache.queued_ids()})


@util.no_body
def clear_cache(req):
    """204: the cache, the queue, or both emptied."""
    cache = enforce(util.context(req), policy.CACHE_DELETE)
    target = req.headers.get(CLEAR_TARGET, '').lower()
    if target not in ('', 'cache', 'queue'):
        raise exception.BadRequest(
            "If provided 'x-image-cache-clear-target' must be 'cache', "
            "'queue' or empty string.")
    if target in ('', 'cache'):
        cache.delete_all_cached()
    if target in ('', 'queue'):
        cache.delete_all_queued()
    return util.empty_response()


@util.no_body
def queue_image(req, image_id):
    """202: an active image queued; the worker caches it now."""
    ctx = util.context(req)
    image_id = util.path_text(image_id)
    image = find_image(ctx, image_id)
    if image is None:
        raise _not_found(image_id)
    cache = enforce(ctx, policy.CACHE_IMAGE,
                    policy.image_target(image, image.member))
    if image.status != images.ACTIVE:
        raise exception.BadRequest(
            'Only images with status active can be targeted for queueing')
    if cache.queue(image.id):
        worker.wake()
    return util.empty_response(202)


@util.no_body
def delete_image(req, image_id):
    """204: the image left the cache and the queue. An image the caller
    cannot see is still removed when the cache holds it."""
    ctx = util.context(req)
    image_id = util.path_text(image_id)
    image = find_image(ctx, image_id)
    if image is None and not _holds(image_id):
        raise _not_found(image_id)
    target = policy.image_target(image, image.member) if image else None
    cache = enforce(ctx, policy.CACHE_DELETE, target)
    if directory.is_image_id(image_id):
        cache.delete_cached(image_id)
        cache.delete_queued(image_id)
    return util.empty_response()


@util.no_body
def list_nodes(req, image_id):
    """200: the URLs of the API nodes that have the image cached."""
    ctx = util.context(req)
    cache = enforce(ctx, policy.LIST_CACHED_NODES)
    if CONF.image_cache_driver.lower() != 'centralized_db':
        raise exception.Conflict('Centralized caching is not enabled')
    image_id = util.path_text(image_id)
    if find_image(ctx, image_id) is None:
        raise _not_found(image_id)
    return util.json_response(cache.nodes_caching(image_id))


# No node lock around clean and prune: they only remove whole files, and
# the worker may hold the lock for as long as a big prefetch takes.

@util.no_body
def clean_cache(req):
    """200: invalid, stalled and obsolete files removed."""
    cache = enforce(util.context(req), policy.CACHE_CLEAN)
    cache.clean()
    return util.empty_response(200)


@util.no_body
def prune_cache(req):
    """200: the cache shrunk to image_cache_max_size; what was removed."""
    cache = enforce(util.context(req), policy.CACHE_PRUNE)
    files, size = cache.prune()
    return util.json_response({'total_files_pruned': files,
                               'total_bytes_pruned': size})

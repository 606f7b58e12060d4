"""Glance's legacy cache calls, /v2/cached_images and /v2/queued_images.

Served by the ``cachemanage`` paste filter of the ``cachemanagement``
flavors, all under the one ``manage_image_cache`` rule, with Glance's
answers: 200 everywhere, the JSON ``null`` where Glance returns nothing,
``{"num_deleted": n}`` for the bulk deletes. Queueing does not look the
image up (the worker drops what is gone or inactive) and leaves the
image to the worker's next periodic run; an id that cannot be an
image's is accepted and ignored (Glance queues it). Other methods on
these paths go on to the router, which answers 404 as Glance's does.
"""

import routes

from glance_import import policy
from glance_import.api import cache as cache_api
from glance_import.api import middleware
from glance_import.api import util
from glance_import.cache import directory


def _cache(req):
    return cache_api.enforce(util.context(req), policy.MANAGE_IMAGE_CACHE)


def _image_id(image_id):
    """The id if an image could have it, else None."""
    image_id = util.path_text(image_id)
    return image_id if directory.is_image_id(image_id) else None


def list_cached(req):
    return util.json_response({'cached_images': _cache(req).cached_entries()})


def delete_all_cached(req):
    return util.json_response({'num_deleted': _cache(req).delete_all_cached()})


def delete_cached(req, image_id):
    cache = _cache(req)
    image_id = _image_id(image_id)
    if image_id:
        cache.delete_cached(image_id)
    return util.json_response(None)


def list_queued(req):
    return util.json_response({'queued_images': _cache(req).queued_ids()})


def delete_all_queued(req):
    return util.json_response({'num_deleted': _cache(req).delete_all_queued()})


def queue(req, image_id):
    """The image waits for the worker's next periodic run, as in Glance
    (PUT /v2/cache/{image_id} wakes it)."""
    cache = _cache(req)
    image_id = _image_id(image_id)
    if image_id:
        cache.queue(image_id)
    return util.json_response(None)


def delete_queued(req, image_id):
    cache = _cache(req)
    image_id = _image_id(image_id)
    if image_id:
        cache.delete_queued(image_id)
    return util.json_response(None)


LEGACY_ROUTES = {
    '/v2/cached_images': {'GET': list_cached, 'DELETE': delete_all_cached},
    '/v2/cached_images/{image_id}': {'DELETE': delete_cached},
    '/v2/queued_images': {'GET': list_queued, 'DELETE': delete_all_queued},
    '/v2/queued_images/{image_id}': {'PUT': queue, 'DELETE': delete_queued},
}


class CacheManageFilter(middleware.Middleware):
    """Answers the legacy calls; passes every other request on."""

    def __init__(self, application):
        super().__init__(application)
        self.mapper = routes.Mapper()
        for path, methods in LEGACY_ROUTES.items():
            for method, handler in methods.items():
                self.mapper.connect(path, action=util.no_body(handler),
                                    conditions={'method': [method]})

    def process(self, req):
        match = self.mapper.match(environ=req.environ)
        if match is None:
            return None
        handler = match.pop('action')
        return handler(req, **match)

"""Paste filters of Glance's caching flavors.

``cache`` (flavors ``caching``, ``keystone+caching`` and the
``cachemanagement`` ones) lets image downloads be served from, and fill,
the node's image cache; the download handler does the work after its
policy checks, so the cache never serves what the caller may not read.
``cachemanage`` adds Glance's legacy ``/v2/cached_images`` and
``/v2/queued_images`` calls (see api/cache_legacy.py).
"""

from glance_import.cache import image_cache

_SERVING = 'glance_import.cache.serving'


class CacheFilter:

    def __init__(self, app):
        self.app = app

    @classmethod
    def factory(cls, global_conf, **local_conf):
        return cls

    def __call__(self, environ, start_response):
        environ[_SERVING] = True
        return self.app(environ, start_response)


def serving_cache(req):
    """The cache that downloads of *req* use, or None."""
    if not req.environ.get(_SERVING):
        return None
    return image_cache.current()

"""Locations registered from outside: data that already sits in a store
(a Ceph RBD snapshot made by Nova, a Cinder volume, an HTTP URL) and that
an image is told to point at, instead of receiving it through the API.

A URL is accepted when a configured store understands its scheme, the
scheme is not one that would expose the service's own disks, and the
store reports the data there with a size above zero.
"""

import logging
import urllib.parse

import glance_store
from glance_store import location as gs_location
from glance_store import multi_backend

from glance_import import exception
from glance_import.store import registry

LOG = logging.getLogger(__name__)

# Never accepted from clients: they would name files on the service's
# own hosts (or credentials in its configuration).
RESTRICTED_SCHEMES = frozenset(('file', 'filesystem', 'swift+config'))


class InvalidLocation(exception.BadRequest):
    message = 'Invalid location'


def scheme(url: str) -> str:
    return urllib.parse.urlsplit(url).scheme


def _known_schemes(conf) -> set:
    if registry.is_multi_store(conf):
        return set(multi_backend.get_known_schemes_for_multi_store())
    return set(glance_store.get_known_schemes())


def is_http_store_url(conf, url: str) -> bool:
    """Whether *url* is an http(s) URL and an http store is configured."""
    if scheme(url) not in ('http', 'https'):
        return False
    if registry.is_multi_store(conf):
        return 'http' in conf.enabled_backends.values()
    return 'http' in conf.glance_store.stores


def store_for_url(conf, url: str) -> str | None:
    """The id of the configured store whose URLs *url* starts with
    (several stores may share a scheme); None in single-store mode or
    when none matches."""
    if not registry.is_multi_store(conf):
        return None
    by_store = gs_location.SCHEME_TO_CLS_BACKEND_MAP.get(scheme(url), {})
    for store_id, entry in by_store.items():
        prefix = getattr(entry.get('store'), 'url_prefix', None)
        if prefix and url.startswith(prefix):
            return store_id
    return None


def check(conf, url: str, metadata: dict, *, context=None) -> tuple:
    """``(metadata, size)`` for a location clients register at *url*.

    *metadata* gains the ``store`` the URL belongs to in multi-store mode.
    Raises InvalidLocation (400) for a URL no store accepts, a restricted
    scheme, or data the store cannot find or reports as empty.
    """
    url_scheme = scheme(url)
    if (url_scheme in RESTRICTED_SCHEMES
            or url_scheme not in _known_schemes(conf)):
        raise InvalidLocation()
    metadata = dict(metadata)
    multi = registry.is_multi_store(conf)
    if multi and not metadata.get('store'):
        found = store_for_url(conf, url)
        if found is not None:
            metadata['store'] = found
    try:
        if multi:
            size = multi_backend.get_size_from_uri_and_backend(
                url, metadata.get('store'), context=context)
        else:
            size = glance_store.get_size_from_backend(url, context=context)
    except Exception as e:
        # glance_store raises its own errors and, from some drivers, the
        # client library's; any of them means the data is not usable.
        LOG.info('Location %s refused: %s: %s', url, type(e).__name__, e)
        raise InvalidLocation()
    if not size or size <= 0:
        raise InvalidLocation()
    return metadata, size

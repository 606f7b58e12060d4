"""GET / and /versions: the versions document and the version tokens.

v2.6 (image import) is offered only when ``enable_image_import`` is on;
without it the server presents itself as a v2.5 server, as Glance Pike did.
"""

from oslo_config import cfg

from glance_import.api import util

CONF = cfg.CONF

# Minor versions listed, by Glance 33's rules, among those whose features
# this service implements. Every version after 2.5 presupposes the import
# API (2.6), so all need enable_image_import. Always: 2.7 hidden images,
# 2.9 import to several stores, 2.15 store details (a 404 without
# enabled_backends, as in Glance), 2.17 the locations API. With
# enabled_backends: 2.8 stores, 2.10 delete from a store, 2.11, 2.12 the
# tasks of an image, 2.13 /v2/info/usage (served always; Glance lists it
# only then). With image_cache_dir: 2.14, 2.16 and 2.18, the cache API
# (/v2/cache, clean and prune).
BASE_MINORS = (0, 1, 2, 3, 4, 5)
IMPORT_MINORS = (6, 7, 9, 15, 17)
MULTI_STORE_MINORS = (8, 10, 11, 12, 13)
CACHE_MINORS = (14, 16, 18)


def available_minors(conf):
    """Minor versions of v2 served with this configuration, newest first."""
    minors = list(BASE_MINORS)
    if conf.enable_image_import:
        minors.extend(IMPORT_MINORS)
        if conf.enabled_backends:
            minors.extend(MULTI_STORE_MINORS)
        if conf.image_cache_dir:
            minors.extend(CACHE_MINORS)
    return sorted(minors, reverse=True)


def allowed_tokens(conf):
    """URL/Accept version tokens mapping to /v2 (v2, v2.0, v2.1 ...)."""
    return {'v2'} | {'v2.%d' % m for m in available_minors(conf)}


def _base_url(req, conf):
    base = conf.public_endpoint or req.application_url
    return base.rstrip('/') + '/'


def versions_document(req, conf):
    href = _base_url(req, conf) + 'v2/'
    minors = available_minors(conf)
    return {'versions': [
        {'id': 'v2.%d' % minor,
         'status': 'CURRENT' if i == 0 else 'SUPPORTED',
         'links': [{'rel': 'self', 'href': href}]}
        for i, minor in enumerate(minors)]}


def list_versions(req):
    """200: the versions document."""
    return util.json_response(versions_document(req, CONF))


def list_versions_root(req):
    """300: the versions document, for / and unknown version tokens."""
    return util.json_response(versions_document(req, CONF), status=300)

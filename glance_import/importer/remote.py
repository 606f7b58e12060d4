"""glance-download: reading an image from the Image service of a region.

The remote endpoint comes from the caller's service catalog (type
``image``, region matched case-insensitively, the requested interface);
requests carry the caller's token. Every URL goes through the same
filter as web-download, redirects included.
"""

import json

from glance_import import exception
from glance_import import images
from glance_import.importer import uri_filter

METADATA_LIMIT = 1 << 20
COPIED_FORMATS = ('disk_format', 'container_format')
# Attributes of the image JSON that are not custom properties.
_NOT_PROPERTIES = frozenset(images.BASE_ATTRIBUTES) | {
    'tags', 'self', 'file', 'schema', 'locations', 'direct_url', 'stores'}


def endpoint(credentials, region, interface):
    """The image endpoint for *region* and *interface* in the catalog."""
    catalog = (credentials or {}).get('service_catalog') or []
    if isinstance(catalog, dict):  # {"serviceCatalog": [...]} (v2 form)
        catalog = catalog.get('serviceCatalog', [])
    wanted = region.lower()
    for service in catalog:
        if not isinstance(service, dict) or service.get('type') != 'image':
            continue
        for ep in service.get('endpoints') or []:
            ep_region = ep.get('region_id') or ep.get('region') or ''
            if ep_region.lower() != wanted:
                continue
            if ep.get('interface') == interface and ep.get('url'):
                return _base(ep['url'])
            legacy = ep.get('%sURL' % interface)
            if legacy:
                return _base(legacy)
    raise exception.ImportTaskError(
        reason="No '%s' image endpoint for region '%s' in the service "
               "catalog" % (interface, region))


def _base(url):
    url = url.rstrip('/')
    if url.endswith('/v2'):
        url = url[:-3]
    return url


def _headers(credentials):
    token = (credentials or {}).get('auth_token')
    return {'X-Auth-Token': token} if token else {}


def image_info(conf, credentials, region, interface, remote_id):
    """The remote image's JSON; it must be active."""
    url = '%s/v2/images/%s' % (endpoint(credentials, region, interface),
                               remote_id)
    response = uri_filter.open_url(conf, url, headers=_headers(credentials))
    try:
        info = json.loads(response.read_all(METADATA_LIMIT))
    except ValueError:
        raise exception.ImportTaskError(
            reason='The remote image service answered %s with invalid JSON'
            % url)
    if not isinstance(info, dict):
        raise exception.ImportTaskError(
            reason='Unexpected answer from the remote image service')
    if info.get('status') != images.ACTIVE:
        raise exception.ImportTaskError(
            reason='Remote image %s is %s, not active'
            % (remote_id, info.get('status')))
    for field in COPIED_FORMATS:
        if not isinstance(info.get(field), str):
            raise exception.ImportTaskError(
                reason='Remote image %s has no %s' % (remote_id, field))
    if not isinstance(info.get('size'), int):
        raise exception.ImportTaskError(
            reason='Remote image %s has no size' % remote_id)
    return info


def copied_properties(conf, info):
    """Remote custom properties whose names start with a configured prefix.

    Reserved ``os_glance`` names are never copied.
    """
    prefixes = tuple(conf.glance_download_properties.extra_properties)
    props = {}
    for key, value in info.items():
        if key in _NOT_PROPERTIES or key.startswith('os_glance'):
            continue
        if prefixes and key.startswith(prefixes) and isinstance(value, str):
            props[key] = value
    return props


def open_data(conf, credentials, region, interface, remote_id):
    """An open response streaming the remote image's data."""
    url = '%s/v2/images/%s/file' % (endpoint(credentials, region, interface),
                                    remote_id)
    return uri_filter.open_url(conf, url, headers=_headers(credentials))

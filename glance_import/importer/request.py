"""The import call's body: parsing, and the rules that depend on the image.

Checks run in Glance's order (reference section 4.6), each with Glance's
message, so clients see the same first error Glance would report.
"""

import dataclasses
import uuid

from glance_import import exception
from glance_import import images
from glance_import.store import registry

STORE_HEADER = 'X-Image-Meta-Store'

# Imports word the store layer's refusals as Glance's import call does.
_STORE_REFUSALS = {
    registry.Unwritable.RESERVED:
        (exception.BadRequest, "Store '%s' is reserved for the service's "
                               "own use"),
    registry.Unwritable.UNKNOWN:
        (exception.Conflict, 'Store for identifier %s not found'),
    registry.Unwritable.READ_ONLY:
        (exception.BadRequest, "Store '%s' is read-only"),
}


@dataclasses.dataclass
class ImportRequest:
    """A validated import body."""

    method: str
    body: dict
    all_stores: bool = False
    all_stores_must_succeed: bool = True
    header_store: str | None = None

    @property
    def uri(self):
        return self.body['method'].get('uri')

    @property
    def remote(self):
        """glance-download parameters, or None for other methods."""
        if self.method != 'glance-download':
            return None
        method = self.body['method']
        return {'image_id': method['glance_image_id'],
                'region': method['glance_region'],
                'interface': method['glance_service_interface']}


def parse(conf, body, headers):
    """Steps 1-3: method present and enabled, booleans are booleans."""
    method = body.get('method')
    if method is None:
        raise exception.BadRequest(
            "Import request requires a 'method' field.")
    if not isinstance(method, dict):
        raise exception.BadRequest("'method' must be an object.")
    if 'name' not in method:
        raise exception.BadRequest(
            "Import request requires a 'name' field.")
    name = method['name']
    if not isinstance(name, str) or name not in conf.enabled_import_methods:
        raise exception.BadRequest("Unknown import method name '%s'."
                                   % (name,))
    must_succeed = body.get('all_stores_must_succeed', True)
    if not isinstance(must_succeed, bool):
        raise exception.BadRequest(
            "'all_stores_must_succeed' must be boolean value only")
    all_stores = body.get('all_stores', False)
    if not isinstance(all_stores, bool):
        raise exception.BadRequest("'all_stores' must be boolean value only")
    if 'stores' in body and not (
            isinstance(body['stores'], list)
            and all(isinstance(s, str) for s in body['stores'])):
        raise exception.BadRequest("'stores' must be a list of strings")
    return ImportRequest(method=name, body=body, all_stores=all_stores,
                         all_stores_must_succeed=must_succeed,
                         header_store=headers.get(STORE_HEADER))


def check_image(image, req):
    """Steps 6-11: the image's status and formats, glance-download input."""
    images.check_import_allowed(image, req.method)
    if req.method != 'glance-download':
        return
    method = req.body['method']
    for field in ('glance_region', 'glance_image_id'):
        if field not in method:
            raise exception.BadRequest(
                "'%s' needs to be set for glance-download import method"
                % field)
    for field in ('glance_region', 'glance_image_id',
                  'glance_service_interface'):
        if field in method and not isinstance(method[field], str):
            raise exception.BadRequest("'%s' must be a string" % field)
    try:
        uuid.UUID(method['glance_image_id'])
    except ValueError:
        raise exception.BadRequest(
            'Remote image id does not look like a UUID: %s'
            % method['glance_image_id'])
    # As in Glance, an interface the catalog lacks (like an unknown
    # region) fails the task, with its name, rather than the call.
    method.setdefault('glance_service_interface', 'public')


def available_stores(conf):
    """Stores all_stores means: those clients may write to."""
    return [store_id for store_id in registry.store_ids(conf)
            if registry.unwritable(conf, store_id) is None]


def resolve_stores(conf, image, req):
    """Steps 14-17: the target stores; [None] means the single store.

    Returns an empty list when copy-image with all_stores finds the image
    already everywhere (the call then succeeds without a task).
    """
    if not registry.is_multi_store(conf):
        if req.method == 'copy-image':
            raise exception.BadRequest(
                'copy-image needs several stores (enabled_backends); this '
                'site has one')
        # all_stores_must_succeed has nothing to say with one store.
        # Glance refuses false here, which the stock clients send; they
        # hide that 400 and leave the image in uploading.
        return [None]
    body = req.body
    if req.all_stores:
        if 'stores' in body or req.header_store is not None:
            raise exception.BadRequest(
                "All_stores parameter can't be used with x-image-meta-store "
                "header or stores parameter")
        stores = available_stores(conf)
    elif 'stores' in body:
        if req.header_store is not None:
            raise exception.BadRequest(
                "Stores parameter and x-image-meta-store header can't be "
                "both specified")
        stores = list(body['stores'])
    else:
        stores = [req.header_store or registry.default_store_id(conf)]
    stores = list(dict.fromkeys(stores))
    for store in stores:
        reason = registry.unwritable(conf, store)
        if reason is not None:
            error, message = _STORE_REFUSALS[reason]
            raise error(message % store)
    if not stores:
        raise exception.BadRequest('No store to import the image to')
    if req.method == 'copy-image':
        present = set(image.stores)
        if req.all_stores:
            stores = [s for s in stores if s not in present]
        else:
            for store in stores:
                if store in present:
                    raise exception.BadRequest(
                        "Image is already present at store '%s'" % store)
    return stores

"""Import (v2.6) and discovery handlers.

``import_image`` validates in Glance's order (the checks live in
``importer.request`` and ``importer.locks``), then creates the task,
takes the lock and marks the image in one transaction, and hands the
task to the executor: 202 means the import is accepted and locked.
"""

from oslo_config import cfg

from glance_import import exception
from glance_import import notifications
from glance_import import policy
from glance_import.api import forwarding
from glance_import.api import util
from glance_import.db import images as db_images
from glance_import.importer import executor
from glance_import.importer import locks
from glance_import.importer import request as import_request
from glance_import.importer import uri_filter
from glance_import.quota import unified_limits
from glance_import.store import backends
from glance_import.store import discovery

CONF = cfg.CONF


def import_image(req, image_id):
    """POST /v2/images/{image_id}/import: start an import; 202."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    body = util.json_body(req)
    import_req = import_request.parse(CONF, body, req.headers)
    unified_limits.enforce(CONF, ctx, ctx.project_id,
                           unified_limits.IMAGE_SIZE_TOTAL)
    # The image's state is checked before the policy, in Glance's order.
    image = util.load_image(ctx, image_id, (), from_path=False)
    import_request.check_image(image, import_req)
    copying = import_req.method == 'copy-image'
    policy.authorize_image(
        ctx, policy.COPY_IMAGE if copying else policy.MODIFY_IMAGE, image)
    policy.authorize(ctx, policy.ADD_TASK, {'project_id': ctx.project_id})
    stale_task_id = locks.stale_lock_holder(ctx, image)
    stores = import_request.resolve_stores(CONF, image, import_req)
    if not stores:
        # copy-image to all stores, and the image is in all of them.
        return util.empty_response(202)
    if import_req.method == 'web-download':
        uri_filter.check_uri(CONF, import_req.uri)
    # Staged on another API node (per-node staging): that node imports.
    forwarded = forwarding.forward_import(req, image, import_req, body)
    if forwarded is not None:
        return forwarded
    task = locks.begin(ctx, CONF, image, import_req, stores,
                       stale_task_id=stale_task_id)
    notifications.send('task.create',
                       lambda: notifications.task_payload(task))
    notifications.image_event('image.update', lambda: db_images.image_get(
        ctx, image.id, check_visible=False))
    executor.submit(CONF, task, {'auth_token': ctx.auth_token,
                                 'service_catalog': ctx.service_catalog,
                                 'roles': list(ctx.roles)})
    notifications.send('task.run', lambda: notifications.task_payload(task))
    return util.empty_response(202)


@util.no_body
def show_import_info(req):
    """GET /v2/info/import: the enabled import methods; 200."""
    return util.json_response({'import-methods': {
        'description': 'Import methods available.',
        'type': 'array',
        'value': list(CONF.enabled_import_methods)}})


def _require_multi_store():
    if not backends.is_multi_store(CONF):
        raise exception.NotFound(
            'Multi backend is not supported at this site.')


@util.no_body
def list_stores(req):
    """GET /v2/info/stores: the stores clients may name; 200."""
    _require_multi_store()
    return util.json_response({'stores': discovery.stores_info(CONF)})


@util.no_body
def list_stores_detail(req):
    """GET /v2/info/stores/detail: stores with type and settings; 200."""
    ctx = util.context(req)
    policy.authorize(ctx, policy.STORES_INFO_DETAIL,
                     {'project_id': ctx.project_id})
    _require_multi_store()
    return util.json_response(
        {'stores': discovery.stores_info(CONF, detail=True)})

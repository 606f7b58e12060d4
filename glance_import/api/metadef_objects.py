"""Metadata definition objects: /v2/metadefs/namespaces/{ns}/objects.

An object is a named group of property definitions (with the names of
those that are required) inside a namespace.
"""

from glance_import import exception
from glance_import import policy
from glance_import.api import metadef_access as access
from glance_import.api import metadef_views as views
from glance_import.api import util
from glance_import.db import metadefs as db_metadefs

READ_ONLY = ('self', 'schema', 'created_at', 'updated_at')


def _body(req):
    body = util.json_body(req)
    for key in READ_ONLY:
        if key in body:
            raise exception.Forbidden("Attribute '%s' is read-only." % key)
    access.validate(body, 'object')
    return access.object_values(body)


def _get(ctx, ns, object_name):
    try:
        return db_metadefs.object_get(ctx, ns['namespace'], object_name)
    except exception.NotFound:
        raise exception.NotFound(
            'Could not find metadata object %s' % object_name)


@util.no_body
def list_objects(req, namespace):
    """200: every object of the namespace."""
    ctx = util.context(req)
    ns = access.load_namespace(ctx, namespace, policy.GET_METADEF_OBJECTS,
                               name_missing=True)
    objects = db_metadefs.object_list(ctx, ns['namespace'])
    # The missing leading slash is Glance's; clients compare it verbatim.
    return util.json_response({
        'objects': [views.object_view(ns['namespace'], o) for o in objects],
        'schema': 'v2/schemas/metadefs/objects'})


def create_object(req, namespace):
    """201: a new object in the namespace; 409 if the name is taken."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace,
                               name_missing=True)
    values = _body(req)
    access.authorize(ctx, policy.ADD_METADEF_OBJECT, ns)
    obj = db_metadefs.object_create(ctx, ns['namespace'], values)
    return util.json_response(
        views.object_view(ns['namespace'], obj, stored=False), status=201)


@util.no_body
def show_object(req, namespace, object_name):
    ctx = util.context(req)
    ns = access.load_namespace(ctx, namespace, policy.GET_METADEF_OBJECT,
                               name_missing=True)
    obj = _get(ctx, ns, object_name)
    return util.json_response(views.object_view(ns['namespace'], obj))


def update_object(req, namespace, object_name):
    """200: the object as the body describes it (it may be renamed)."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace,
                               name_missing=True)
    values = _body(req)
    access.authorize(ctx, policy.MODIFY_METADEF_OBJECT, ns)
    _get(ctx, ns, object_name)
    obj = db_metadefs.object_update(ctx, ns['namespace'], object_name,
                                    values)
    return util.json_response(
        views.object_view(ns['namespace'], obj, stored=False))


@util.no_body
def delete_object(req, namespace, object_name):
    """204; 403 while the namespace is protected."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace, policy.DELETE_METADEF_OBJECT,
                               name_missing=True)
    _get(ctx, ns, object_name)
    if ns['protected']:
        raise exception.ProtectedMetadefObjectDelete(object_name=object_name)
    db_metadefs.object_delete(ctx, ns['namespace'], object_name)
    return util.empty_response()

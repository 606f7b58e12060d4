"""Property definitions of a namespace:
/v2/metadefs/namespaces/{ns}/properties[/{property_name}].

``resource_type`` on a GET names the property with that type's
association prefix (``hw_cpu_cores`` for ``cpu_cores`` on images).
"""

from glance_import import exception
from glance_import import metadefs
from glance_import import policy
from glance_import.api import metadef_access as access
from glance_import.api import metadef_views as views
from glance_import.api import util
from glance_import.db import metadefs as db_metadefs

READ_ONLY = ('created_at', 'updated_at')


def _body(req):
    body = util.json_body(req)
    for key in READ_ONLY:
        if key in body:
            raise exception.Forbidden("Attribute '%s' is read-only." % key)
    access.validate(body, 'property')
    name = body['name']
    return name, metadefs.property_definition(name, body)


def _get(ctx, ns, property_name):
    try:
        return db_metadefs.property_get(ctx, ns['namespace'], property_name)
    except exception.NotFound:
        raise exception.NotFound('Could not find property %s'
                                 % property_name)


@util.no_body
def list_properties(req, namespace):
    ctx = util.context(req)
    ns = access.load_namespace(ctx, namespace, policy.GET_METADEF_PROPERTIES)
    properties = db_metadefs.property_list(ctx, ns['namespace'])
    return util.json_response({'properties': views.properties_view(
        {p['name']: p['schema'] for p in properties}, named=True)})


def create_property(req, namespace):
    """201: a new property definition; 409 if the name is taken."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    name, definition = _body(req)
    access.authorize(ctx, policy.ADD_METADEF_PROPERTY, ns)
    prop = db_metadefs.property_create(ctx, ns['namespace'], name,
                                       definition)
    return util.json_response(views.property_view(prop['schema'],
                                                  prop['name']),
                              status=201)


@util.no_body
def show_property(req, namespace, property_name):
    ctx = util.context(req)
    ns = access.load_namespace(ctx, namespace, policy.GET_METADEF_PROPERTY)
    resource_type = dict(util.query_params(req)).get('resource_type')
    if resource_type:
        access.authorize(ctx, policy.GET_METADEF_RESOURCE_TYPE, ns)
        prefix = None
        for association in db_metadefs.association_list(ctx,
                                                        ns['namespace']):
            if association['name'] == resource_type:
                prefix = association.get('prefix')
                break
        else:
            raise exception.MetadefResourceTypeAssociationNotFound(
                resource_type_name=resource_type,
                namespace_name=ns['namespace'])
        property_name = metadefs.strip_prefix(property_name, prefix)
    prop = _get(ctx, ns, property_name)
    return util.json_response(views.property_view(prop['schema'],
                                                  prop['name']))


def update_property(req, namespace, property_name):
    """200: the definition as the body gives it (it may be renamed)."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    name, definition = _body(req)
    access.authorize(ctx, policy.MODIFY_METADEF_PROPERTY, ns)
    _get(ctx, ns, property_name)
    prop = db_metadefs.property_update(ctx, ns['namespace'], property_name,
                                       name, definition)
    return util.json_response(views.property_view(prop['schema'],
                                                  prop['name']))


@util.no_body
def delete_property(req, namespace, property_name):
    """204; 403 while the namespace is protected."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace,
                               policy.REMOVE_METADEF_PROPERTY)
    _get(ctx, ns, property_name)
    if ns['protected']:
        raise exception.ProtectedMetadefNamespacePropDelete(
            property_name=property_name)
    db_metadefs.property_delete(ctx, ns['namespace'], property_name)
    return util.empty_response()

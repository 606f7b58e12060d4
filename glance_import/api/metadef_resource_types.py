"""Resource types and their associations with namespaces.

``GET /v2/metadefs/resource_types`` lists the kinds of resource
(``OS::Glance::Image``, ``OS::Nova::Flavor`` ...) definitions apply to;
``/v2/metadefs/namespaces/{ns}/resource_types`` says which of them a
namespace applies to, under which property prefix.
"""

from glance_import import exception
from glance_import import policy
from glance_import.api import metadef_access as access
from glance_import.api import metadef_views as views
from glance_import.api import util
from glance_import.db import metadefs as db_metadefs

READ_ONLY = ('created_at', 'updated_at')


@util.no_body
def list_resource_types(req):
    ctx = util.context(req)
    access.authorize(ctx, policy.LIST_METADEF_RESOURCE_TYPES)
    return util.json_response({'resource_types': [
        views.resource_type_view(r)
        for r in db_metadefs.resource_type_list(ctx)]})


@util.no_body
def list_associations(req, namespace):
    ctx = util.context(req)
    ns = access.load_namespace(ctx, namespace,
                               policy.LIST_METADEF_RESOURCE_TYPES)
    return util.json_response({'resource_type_associations': [
        views.association_view(a)
        for a in db_metadefs.association_list(ctx, ns['namespace'])]})


def create_association(req, namespace):
    """201: the namespace now applies to a resource type."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    body = util.json_body(req)
    for key in READ_ONLY:
        if key in body:
            raise exception.Forbidden("Attribute '%s' is read-only." % key)
    access.validate(body, 'resource_type', 'resource_type_association')
    access.authorize(ctx, policy.ADD_METADEF_RESOURCE_TYPE_ASSOCIATION, ns)
    association = db_metadefs.association_create(
        ctx, ns['namespace'], access.association_values(body))
    return util.json_response(views.association_view(association),
                              status=201)


@util.no_body
def delete_association(req, namespace, resource_type):
    """204; 403 while the namespace is protected."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(
        ctx, namespace, policy.REMOVE_METADEF_RESOURCE_TYPE_ASSOCIATION)
    names = {a['name'] for a in db_metadefs.association_list(
        ctx, ns['namespace'])}
    if resource_type not in names:
        raise exception.NotFound(
            'Failed to find resource type %s to delete' % resource_type)
    if ns['protected']:
        raise exception.ProtectedMetadefResourceTypeAssociationDelete(
            resource_type=resource_type)
    db_metadefs.association_delete(ctx, ns['namespace'], resource_type)
    return util.empty_response()

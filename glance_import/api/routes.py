"""The URL space of the API as one table, and the router built from it.

NOTE: path variables carry no regex on purpose. A malformed image id
reaches the handler, which answers with a specific 404 instead of the
router's generic one.
"""

import routes
import webob.dec

from glance_import import exception
from glance_import.api import cache
from glance_import.api import image_data
from glance_import.api import image_locations
from glance_import.api import images
from glance_import.api import imports
from glance_import.api import members
from glance_import.api import metadef_namespaces
from glance_import.api import metadef_objects
from glance_import.api import metadef_properties
from glance_import.api import metadef_resource_types
from glance_import.api import metadef_schemas
from glance_import.api import metadef_tags
from glance_import.api import schemas
from glance_import.api import tasks
from glance_import.api import usage
from glance_import.api import versions

ROUTES = {
    '/': {'GET': versions.list_versions_root},
    '/versions': {'GET': versions.list_versions},
    '/v2/images': {
        'GET': images.list_images,
        'POST': images.create_image,
    },
    '/v2/images/{image_id}': {
        'GET': images.show_image,
        'PATCH': images.update_image,
        'DELETE': images.delete_image,
    },
    '/v2/images/{image_id}/file': {
        'GET': image_data.download_image_data,
        'PUT': image_data.upload_image_data,
    },
    '/v2/images/{image_id}/locations': {
        'GET': image_locations.get_locations,
        'POST': image_locations.add_location,
    },
    '/v2/images/{image_id}/stage': {'PUT': image_data.stage_image_data},
    '/v2/images/{image_id}/import': {'POST': imports.import_image},
    '/v2/images/{image_id}/tasks': {'GET': tasks.list_image_tasks},
    '/v2/images/{image_id}/tags/{tag}': {
        'PUT': images.add_tag,
        'DELETE': images.delete_tag,
    },
    '/v2/images/{image_id}/actions/deactivate': {
        'POST': images.deactivate_image,
    },
    '/v2/images/{image_id}/actions/reactivate': {
        'POST': images.reactivate_image,
    },
    '/v2/images/{image_id}/members': {
        'GET': members.list_members,
        'POST': members.create_member,
    },
    '/v2/images/{image_id}/members/{member_id}': {
        'GET': members.show_member,
        'PUT': members.update_member,
        'DELETE': members.delete_member,
    },
    '/v2/info/import': {'GET': imports.show_import_info},
    '/v2/info/stores': {'GET': imports.list_stores},
    '/v2/info/stores/detail': {'GET': imports.list_stores_detail},
    '/v2/info/usage': {'GET': usage.show_usage},
    '/v2/stores/{store_id}/{image_id}': {
        'DELETE': image_data.delete_from_store,
    },
    '/v2/tasks': {
        'GET': tasks.list_tasks,
        'POST': tasks.create_task,
    },
    '/v2/tasks/{task_id}': {'GET': tasks.show_task},
    # The fixed paths come before /v2/cache/{image_id}, which would
    # otherwise take "clean" and "prune" for image ids.
    '/v2/cache': {
        'GET': cache.show_cache,
        'DELETE': cache.clear_cache,
    },
    '/v2/cache/clean': {'POST': cache.clean_cache},
    '/v2/cache/prune': {'POST': cache.prune_cache},
    '/v2/cache/{image_id}': {
        'PUT': cache.queue_image,
        'DELETE': cache.delete_image,
    },
    '/v2/cache/nodes/{image_id}': {'GET': cache.list_nodes},
    '/v2/metadefs/namespaces': {
        'GET': metadef_namespaces.list_namespaces,
        'POST': metadef_namespaces.create_namespace,
    },
    '/v2/metadefs/namespaces/{namespace}': {
        'GET': metadef_namespaces.show_namespace,
        'PUT': metadef_namespaces.update_namespace,
        'DELETE': metadef_namespaces.delete_namespace,
    },
    '/v2/metadefs/namespaces/{namespace}/objects': {
        'GET': metadef_objects.list_objects,
        'POST': metadef_objects.create_object,
        'DELETE': metadef_namespaces.delete_objects,
    },
    '/v2/metadefs/namespaces/{namespace}/objects/{object_name}': {
        'GET': metadef_objects.show_object,
        'PUT': metadef_objects.update_object,
        'DELETE': metadef_objects.delete_object,
    },
    '/v2/metadefs/namespaces/{namespace}/properties': {
        'GET': metadef_properties.list_properties,
        'POST': metadef_properties.create_property,
        'DELETE': metadef_namespaces.delete_properties,
    },
    '/v2/metadefs/namespaces/{namespace}/properties/{property_name}': {
        'GET': metadef_properties.show_property,
        'PUT': metadef_properties.update_property,
        'DELETE': metadef_properties.delete_property,
    },
    '/v2/metadefs/namespaces/{namespace}/tags': {
        'GET': metadef_tags.list_tags,
        'POST': metadef_tags.create_tags,
        'DELETE': metadef_namespaces.delete_tags,
    },
    '/v2/metadefs/namespaces/{namespace}/tags/{tag_name}': {
        'GET': metadef_tags.show_tag,
        'POST': metadef_tags.create_tag,
        'PUT': metadef_tags.update_tag,
        'DELETE': metadef_tags.delete_tag,
    },
    '/v2/metadefs/namespaces/{namespace}/resource_types': {
        'GET': metadef_resource_types.list_associations,
        'POST': metadef_resource_types.create_association,
    },
    '/v2/metadefs/namespaces/{namespace}/resource_types/{resource_type}': {
        'DELETE': metadef_resource_types.delete_association,
    },
    '/v2/metadefs/resource_types': {
        'GET': metadef_resource_types.list_resource_types,
    },
    '/v2/schemas/image': {'GET': schemas.show_image_schema},
    '/v2/schemas/images': {'GET': schemas.show_images_schema},
    '/v2/schemas/member': {'GET': schemas.show_member_schema},
    '/v2/schemas/members': {'GET': schemas.show_members_schema},
    '/v2/schemas/task': {'GET': schemas.show_task_schema},
    '/v2/schemas/tasks': {'GET': schemas.show_tasks_schema},
    '/v2/schemas/metadefs/namespace': {
        'GET': metadef_schemas.show_metadef_namespace_schema,
    },
    '/v2/schemas/metadefs/namespaces': {
        'GET': metadef_schemas.show_metadef_namespaces_schema,
    },
    '/v2/schemas/metadefs/object': {
        'GET': metadef_schemas.show_metadef_object_schema,
    },
    '/v2/schemas/metadefs/objects': {
        'GET': metadef_schemas.show_metadef_objects_schema,
    },
    '/v2/schemas/metadefs/property': {
        'GET': metadef_schemas.show_metadef_property_schema,
    },
    '/v2/schemas/metadefs/properties': {
        'GET': metadef_schemas.show_metadef_properties_schema,
    },
    '/v2/schemas/metadefs/tag': {
        'GET': metadef_schemas.show_metadef_tag_schema,
    },
    '/v2/schemas/metadefs/tags': {
        'GET': metadef_schemas.show_metadef_tags_schema,
    },
    '/v2/schemas/metadefs/resource_type': {
        'GET': metadef_schemas.show_metadef_resource_type_schema,
    },
    '/v2/schemas/metadefs/resource_types': {
        'GET': metadef_schemas.show_metadef_resource_types_schema,
    },
}

# Paths that exist only with the v2.6 import API. With
# enable_image_import = False they answer 404 to every method, as on a
# v2.5 server.
IMPORT_PATHS = frozenset((
    '/v2/images/{image_id}/stage',
    '/v2/images/{image_id}/import',
    '/v2/info/import',
))


def _import_disabled(req, **kwargs):
    raise exception.ImportDisabled()


def _method_not_allowed(allowed):
    allow = ', '.join(sorted(allowed))

    def handler(req, **kwargs):
        raise exception.MethodNotAllowed(
            'The method %s is not allowed for this resource.' % req.method,
            headers={'Allow': allow})
    return handler


def make_map(conf):
    """A routes.Mapper for ROUTES; unknown methods on a path get 405."""
    mapper = routes.Mapper()
    for path, methods in ROUTES.items():
        if path in IMPORT_PATHS and not conf.enable_image_import:
            mapper.connect(path, action=_import_disabled)
            continue
        for method, handler in methods.items():
            mapper.connect(path, action=handler,
                           conditions={'method': [method]})
        mapper.connect(path, action=_method_not_allowed(methods))
    return mapper


class Router:
    """WSGI app dispatching to the handler the route table names."""

    def __init__(self, conf):
        self.mapper = make_map(conf)

    @webob.dec.wsgify
    def __call__(self, req):
        match = self.mapper.match(environ=req.environ)
        if match is None:
            raise exception.NotFound(
                'The resource could not be found.')
        handler = match.pop('action')
        match.pop('controller', None)
        # No id contains NUL, and some databases refuse it in a query.
        # Other path values (tags) are validated by their handlers.
        if any('\x00' in value for name, value in match.items()
               if name.endswith('_id') and isinstance(value, str)):
            raise exception.NotFound('The resource could not be found.')
        return handler(req, **match)

"""The JSON forms of metadata definitions, field for field as Glance's.

Absent (None) fields are left out, as Glance leaves them out.
"""

from glance_import import metadefs
from glance_import.api import util

NAMESPACES_PATH = '/v2/metadefs/namespaces'


def _compact(doc):
    return {k: v for k, v in doc.items() if v is not None}


def namespace_href(name):
    return '%s/%s' % (NAMESPACES_PATH, name)


def object_href(namespace, name):
    return '%s/objects/%s' % (namespace_href(namespace), name)


def _times(row):
    return {'created_at': util.iso8601(row.get('created_at')),
            'updated_at': util.iso8601(row.get('updated_at'))}


def property_view(definition, name=None):
    doc = {'name': name}
    doc.update((field, definition.get(field))
               for field in metadefs.PROPERTY_FIELDS)
    return _compact(doc)


def properties_view(properties, prefix='', *, named=False):
    """Definitions by name; *named* repeats the name inside each, as the
    properties list does (a namespace's properties do not)."""
    return {prefix + name: property_view(definition,
                                         prefix + name if named else None)
            for name, definition in properties.items()}


def object_view(namespace, obj, *, prefix='', links=True, stored=True):
    """An object; a *stored* one always shows its required list and
    properties, even empty, while an echoed request body leaves them out
    when empty, as Glance does."""
    required = metadefs.prefixed(prefix, obj.get('required') or ())
    properties = properties_view(obj.get('properties') or {}, prefix)
    doc = {'name': obj['name'],
           'required': required if stored or required else None,
           'description': obj.get('description'),
           'properties': properties if stored or properties else None}
    if links:
        doc.update(_times(obj))
        doc['self'] = object_href(namespace, obj['name'])
        doc['schema'] = '/v2/schemas/metadefs/object'
    return _compact(doc)


def tag_view(tag, *, times=True):
    doc = {'name': tag['name']}
    if times:
        doc.update(_times(tag))
    return _compact(doc)


def association_view(association, *, times=True):
    doc = {'name': association['name'],
           'prefix': association.get('prefix'),
           'properties_target': association.get('properties_target')}
    if times:
        doc.update(_times(association))
    return _compact(doc)


def resource_type_view(resource_type):
    return _compact({'name': resource_type['name'], **_times(resource_type)})


def namespace_view(namespace, *, associations=(), properties=None,
                   objects=None, tags=None):
    """A namespace with whichever of its children the call shows."""
    doc = {'namespace': namespace['namespace'],
           'display_name': namespace.get('display_name'),
           'description': namespace.get('description'),
           'visibility': namespace.get('visibility'),
           'protected': namespace.get('protected'),
           'owner': namespace.get('owner'),
           **_times(namespace)}
    if associations:
        doc['resource_type_associations'] = list(associations)
    if properties:
        doc['properties'] = properties
    if objects:
        doc['objects'] = objects
    if tags:
        doc['tags'] = tags
    doc['self'] = namespace_href(namespace['namespace'])
    doc['schema'] = '/v2/schemas/metadefs/namespace'
    return _compact(doc)

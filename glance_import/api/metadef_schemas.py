"""JSON schemas of the metadata definitions API (/v2/schemas/metadefs/*).

Horizon, python-glanceclient and openstacksdk read these documents to
build forms and models, so each one is the document Glance serves, key
for key and text for text. They are assembled here from shared parts:
the vocabulary a property definition may use is written once and
appears in the property schemas themselves and, as the ``property``
definition, inside the namespace and object schemas.

Every function builds a new dict, so callers may change what they get.
"""

from glance_import.api import schemas
from glance_import.api import util

# Longest names and texts the database keeps.
NAME_MAX = 80
DESCRIPTION_MAX = 500
OWNER_MAX = 255

# Values of a property definition's "type" (the JSON types; null allowed).
PROPERTY_TYPES = ('array', 'boolean', 'integer', 'number', 'object',
                  'string')
VISIBILITIES = ('public', 'private')

# Descriptions of the resource type association fields.
_ASSOCIATION_TEXTS = {
    'name': (
        'Resource type names should be aligned with Heat resource types '
        'whenever possible: https://docs.openstack.org/heat/latest/'
        'template_guide/openstack.html'),
    'prefix': (
        'Specifies the prefix to use for the given resource type. Any '
        'properties in the namespace should be prefixed with this prefix '
        'when being applied to the specified resource type. Must include '
        'prefix separator (e.g. a colon :).'),
    'properties_target': (
        'Some resource types allow more than one key / value pair per '
        'instance.  For example, Cinder allows user and image metadata on '
        'volumes. Only the image properties metadata is evaluated by Nova '
        '(scheduling or drivers). This property allows a namespace target '
        'to remove the ambiguity.'),
}


# -- Building blocks ---------------------------------------------------

def _ref(name):
    return {'$ref': '#/definitions/%s' % name}


def _typed(kind, **extra):
    return dict({'type': kind}, **extra)


def _described(kind, text, **extra):
    return dict({'type': kind, 'description': text}, **extra)


def _read_only_string():
    return {'readOnly': True, 'type': 'string'}


def _timestamp(text):
    return {'type': 'string', 'readOnly': True, 'description': text,
            'format': 'date-time'}


def _timestamps(created, updated):
    return {'created_at': _timestamp(created),
            'updated_at': _timestamp(updated)}


def _lifetime(noun):
    """created_at and updated_at of a resource called *noun*."""
    return _timestamps('Date and time of %s creation' % noun,
                       'Date and time of the last %s modification' % noun)


def _links():
    """The read-only paths of a resource to itself and its schema."""
    return {'schema': _read_only_string(), 'self': _read_only_string()}


def _strings_of(*names):
    """An object whose listed members are strings."""
    return {'type': 'object',
            'properties': {name: _typed('string') for name in names}}


def _array_of(item):
    return {'type': 'array', 'items': item}


def _type_choice():
    return _typed('string', enum=[*PROPERTY_TYPES, None])


def _definitions(*, non_empty_lists=False):
    """Named schemas the property vocabulary refers to.

    The property schemas ask a ``required`` list to name at least one
    property; the namespace and object schemas do not.
    """
    string_array = _array_of(_typed('string'))
    if non_empty_lists:
        string_array['minItems'] = 1
    string_array['uniqueItems'] = True
    return {
        'positiveInteger': _typed('integer', minimum=0),
        'positiveIntegerDefault0': {
            'allOf': [_ref('positiveInteger'), {'default': 0}]},
        'stringArray': string_array,
    }


def _property_vocabulary():
    """What a property definition may say.

    A subset of JSON schema keywords (bounds, lengths, pattern, enum,
    items...) plus the metadefs' own: title, operators and readonly.
    """
    def count():
        return _ref('positiveInteger')

    def count_from_zero():
        return _ref('positiveIntegerDefault0')

    return {
        'name': _typed('string', maxLength=NAME_MAX),
        'title': _typed('string'),
        'description': _typed('string'),
        'operators': _array_of(_typed('string')),
        'type': _type_choice(),
        'required': _ref('stringArray'),
        'minimum': _typed('number'),
        'maximum': _typed('number'),
        'maxLength': count(),
        'minLength': count_from_zero(),
        'pattern': _typed('string', format='regex'),
        'enum': _typed('array'),
        'readonly': _typed('boolean'),
        'default': {},
        'items': {'type': 'object',
                  'properties': {'type': _type_choice(),
                                 'enum': _typed('array')}},
        'maxItems': count(),
        'minItems': count_from_zero(),
        'uniqueItems': _typed('boolean', default=False),
        'additionalItems': _typed('boolean'),
    }


def _property_map():
    """Property definitions keyed by name (the ``property`` definition)."""
    return {
        'type': 'object',
        'additionalProperties': {
            'type': 'object',
            'required': ['title', 'type'],
            'properties': _property_vocabulary(),
        },
    }


def _definitions_with_property_map():
    definitions = _definitions()
    definitions['property'] = _property_map()
    return definitions


def _document(name, properties, required, definitions=None):
    """A closed schema: no members but *properties*."""
    doc = {'name': name, 'properties': properties,
           'additionalProperties': False}
    if definitions is not None:
        doc['definitions'] = definitions
    doc['required'] = list(required)
    return doc


def _collection(name, item, *, keyed=False):
    """The list document of *item*s, sharing its definitions.

    Items sit in an array, or with *keyed* in an object keyed by name.
    """
    item = dict(item)
    definitions = item.pop('definitions', None)
    doc = schemas._collection(name, item)
    if keyed:
        doc['properties'][name] = {'type': 'object',
                                   'additionalProperties': item}
    if definitions is not None:
        doc['definitions'] = definitions
    return doc


# -- Namespaces --------------------------------------------------------

def _namespace_fields():
    fields = {
        'namespace': _described('string', 'The unique namespace text.',
                                maxLength=NAME_MAX),
        'display_name': _described(
            'string', 'The user friendly name for the namespace. Used by '
            'UI if available.', maxLength=NAME_MAX),
        'description': _described(
            'string', 'Provides a user friendly description of the '
            'namespace.', maxLength=DESCRIPTION_MAX),
        'visibility': _described(
            'string', 'Scope of namespace accessibility.',
            enum=list(VISIBILITIES)),
        'protected': _described(
            'boolean', 'If true, namespace will not be deletable.'),
        'owner': _described('string', 'Owner of the namespace.',
                            maxLength=OWNER_MAX),
    }
    fields.update(_lifetime('namespace'))
    fields.update(_links())
    # A namespace may be created whole, with its contents inline.
    fields.update({
        'resource_type_associations': _array_of(
            _strings_of('name', 'prefix', 'properties_target')),
        'properties': _ref('property'),
        'objects': _array_of(_nested_object()),
        'tags': _array_of(_strings_of('name')),
    })
    return fields


def namespace_schema():
    return _document('namespace', _namespace_fields(), ['namespace'],
                     _definitions_with_property_map())


def namespaces_schema():
    return _collection('namespaces', namespace_schema())


# -- Objects -----------------------------------------------------------

def _object_contents():
    """What an object says, inline in a namespace or on its own."""
    return {
        'description': _typed('string'),
        'required': _ref('stringArray'),
        'properties': _ref('property'),
    }


def _nested_object():
    return {'type': 'object',
            'properties': dict(name=_typed('string'), **_object_contents())}


def object_schema():
    fields = {'name': _typed('string', maxLength=NAME_MAX)}
    fields.update(_object_contents())
    fields.update(_links())
    fields.update(_lifetime('object'))
    return _document('object', fields, ['name'],
                     _definitions_with_property_map())


def objects_schema():
    return _collection('objects', object_schema())


# -- Properties --------------------------------------------------------

def _property_document(required):
    return _document('property', _property_vocabulary(), required,
                     _definitions(non_empty_lists=True))


def property_schema():
    return _property_document(['type', 'title', 'name'])


def properties_schema():
    # Listed properties are keyed by their names, which they do not repeat.
    return _collection('properties', _property_document(['type', 'title']),
                       keyed=True)


# -- Tags --------------------------------------------------------------

def tag_schema():
    fields = {'name': _typed('string', maxLength=NAME_MAX)}
    fields.update(_lifetime('tag'))
    return _document('tag', fields, ['name'])


def tags_schema():
    return _collection('tags', tag_schema())


# -- Resource type associations ----------------------------------------

def resource_type_schema():
    fields = {name: _described('string', text, maxLength=NAME_MAX)
              for name, text in _ASSOCIATION_TEXTS.items()}
    noun = 'resource type association'
    fields.update(_timestamps(
        'Date and time of %s' % noun,
        'Date and time of the last %s modification' % noun))
    return _document('resource_type_association', fields, ['name'])


def resource_types_schema():
    return _collection('resource_type_associations', resource_type_schema())


# -- Handlers ----------------------------------------------------------

@util.no_body
def show_metadef_namespace_schema(req):
    """200: the metadef namespace schema."""
    return util.json_response(namespace_schema())


@util.no_body
def show_metadef_namespaces_schema(req):
    """200: the metadef namespace collection schema."""
    return util.json_response(namespaces_schema())


@util.no_body
def show_metadef_object_schema(req):
    """200: the metadef object schema."""
    return util.json_response(object_schema())


@util.no_body
def show_metadef_objects_schema(req):
    """200: the metadef object collection schema."""
    return util.json_response(objects_schema())


@util.no_body
def show_metadef_property_schema(req):
    """200: the metadef property schema."""
    return util.json_response(property_schema())


@util.no_body
def show_metadef_properties_schema(req):
    """200: the metadef property collection schema."""
    return util.json_response(properties_schema())


@util.no_body
def show_metadef_tag_schema(req):
    """200: the metadef tag schema."""
    return util.json_response(tag_schema())


@util.no_body
def show_metadef_tags_schema(req):
    """200: the metadef tag collection schema."""
    return util.json_response(tags_schema())


@util.no_body
def show_metadef_resource_type_schema(req):
    """200: the resource type association schema."""
    return util.json_response(resource_type_schema())


@util.no_body
def show_metadef_resource_types_schema(req):
    """200: the resource type association collection schema."""
    return util.json_response(resource_types_schema())

"""Metadata definitions: the rules for property definitions and prefixes.

A property definition is a small JSON schema (type, title, enum, bounds,
items ...). Glance keeps a fixed set of its fields, with fixed types,
and drops the rest; clients read them back in that order. Pure Python:
no HTTP, no SQL.
"""

from glance_import import exception

# Field -> accepted JSON types, in the order Glance writes them back.
_TEXT = (str,)
_INT = (int,)
_BOOL = (bool,)
# Glance truncates a fractional bound to an integer; it is kept whole here.
_NUMBER = (int, float)
PROPERTY_FIELDS = {
    'type': _TEXT,
    'title': _TEXT,
    'description': _TEXT,
    'operators': list,
    'default': _TEXT,
    'readonly': _BOOL,
    'minimum': _NUMBER,
    'maximum': _NUMBER,
    'enum': list,
    'pattern': _TEXT,
    'minLength': _INT,
    'maxLength': _INT,
    'confidential': _BOOL,
    'items': dict,
    'uniqueItems': _BOOL,
    'minItems': _INT,
    'maxItems': _INT,
    'additionalItems': _BOOL,
}
ITEM_FIELDS = ('type', 'enum')
REQUIRED_FIELDS = ('type', 'title')


def _invalid(field, value):
    return exception.BadRequest(
        'Invalid input for field/attribute %s. Value: %r.' % (field, value))


def _check_field(field, value):
    kind = PROPERTY_FIELDS[field]
    if kind is list:
        if not isinstance(value, list) or not all(
                isinstance(v, str) for v in value):
            raise _invalid(field, value)
    elif kind is dict:
        if not isinstance(value, dict):
            raise _invalid(field, value)
    elif not isinstance(value, kind) or (
            isinstance(value, bool) and kind is not _BOOL):
        raise _invalid(field, value)


def property_definition(name, doc):
    """The stored form of property *name*: Glance's fields, checked.

    Fields Glance does not know are dropped, as its model drops them;
    a known field of the wrong type is a 400.
    """
    if not isinstance(doc, dict):
        raise _invalid(name, doc)
    for field in REQUIRED_FIELDS:
        if doc.get(field) is None:
            raise exception.BadRequest(
                'Mandatory field missing: %s' % field)
    definition = {}
    for field in PROPERTY_FIELDS:
        value = doc.get(field)
        if value is None:
            continue
        if field == 'default' and isinstance(value, (int, float)):
            # Glance keeps a default as text whatever its JSON type.
            value = str(value)
        _check_field(field, value)
        if field == 'items':
            value = {k: value[k] for k in ITEM_FIELDS
                     if value.get(k) is not None}
            if 'enum' in value:
                _check_field('enum', value['enum'])
            if 'type' in value and not isinstance(value['type'], str):
                raise _invalid('items', value)
        definition[field] = value
    return definition


def property_definitions(properties):
    if properties is None:
        return {}
    return {name: property_definition(name, doc)
            for name, doc in properties.items()}


def prefixed(prefix, names):
    return [prefix + name for name in names]


def strip_prefix(name, prefix):
    """*name* without the association *prefix*, or 404 without it."""
    if prefix and name.startswith(prefix):
        return name[len(prefix):]
    raise exception.NotFound(
        "Property %s does not start with the expected resource type "
        "association prefix of '%s'." % (name, prefix))

"""Loading a metadata definition namespace for a request, under policy.

A namespace the caller may not see answers 404 as if it did not exist;
one it sees but may not act on answers 403, as in Glance.
"""

import functools

import jsonschema

from glance_import import exception
from glance_import import metadefs
from glance_import import policy
from glance_import.api import metadef_schemas
from glance_import.db import metadefs as db_metadefs


def namespace_text(value):
    if '\x00' in value:
        raise exception.NotFound('Namespace %s not found' % value)
    return value


def authorize(ctx, rule, namespace=None):
    """Raise unless *ctx* may perform *rule* on *namespace* (or at all).

    As in Glance, a caller refused who may not even see the target (for
    a call without a namespace: its own project) gets 404, not 403.
    """
    target = policy.metadef_target(namespace, ctx)
    if policy.check(ctx, rule, target):
        return
    if (rule == policy.GET_METADEF_NAMESPACE or
            not policy.check(ctx, policy.GET_METADEF_NAMESPACE, target)):
        raise exception.NotFound()
    raise exception.Forbidden(
        'You are not authorized to complete %s action.' % rule)


def load_namespace(ctx, name, *rules, name_missing=False):
    """The namespace a sub-resource request names, checked against *rules*.

    Glance words this 404 differently from the namespace's own GET; its
    object routes (*name_missing*) tell a namespace that does not exist
    from one the caller may not see.
    """
    name = namespace_text(name)
    try:
        namespace = db_metadefs.namespace_get(ctx, name)
    except exception.NotFound:
        if name_missing and not db_metadefs.namespace_exists(ctx, name):
            raise exception.MetadefNamespaceNotFound(namespace_name=name)
        raise exception.NotFound('Namespace %s not found' % name)
    for rule in rules:
        authorize(ctx, rule, namespace)
    return namespace


@functools.cache
def _validator(kind):
    schema = getattr(metadef_schemas, '%s_schema' % kind)()
    return jsonschema.Draft4Validator(schema)


def validate(doc, kind, label=None):
    """400 unless *doc* fits the served schema of *kind* (as Glance);
    *label* is the schema name the message gives, when it differs."""
    error = jsonschema.exceptions.best_match(
        _validator(kind).iter_errors(doc))
    if error is not None:
        raise exception.BadRequest(
            "Provided object does not match schema '%s': %s"
            % (label or kind, error.message))


def object_values(doc):
    """An object of a request body as the db layer stores it."""
    return {'name': doc.get('name'),
            'description': doc.get('description'),
            'required': list(doc.get('required') or ()),
            'properties': metadefs.property_definitions(
                doc.get('properties'))}


def association_values(doc):
    return {'name': doc.get('name'), 'prefix': doc.get('prefix'),
            'properties_target': doc.get('properties_target')}

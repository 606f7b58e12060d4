"""Metadata definition namespaces: /v2/metadefs/namespaces[/{namespace}].

A namespace groups property definitions, objects and tags that other
services (Horizon, Nova, Cinder) read; resource type associations say
which kind of resource its properties apply to, under which prefix.
"""

import urllib.parse

from oslo_config import cfg

from glance_import import exception
from glance_import import metadefs
from glance_import import policy
from glance_import.api import metadef_access as access
from glance_import.api import metadef_views as views
from glance_import.api import util
from glance_import.db import metadefs as db_metadefs

CONF = cfg.CONF

SORT_KEYS = ('created_at', 'updated_at', 'namespace', 'display_name',
             'description', 'visibility', 'protected', 'owner')
READ_ONLY = ('self', 'schema', 'created_at', 'updated_at')
NAMESPACE_FIELDS = ('namespace', 'display_name', 'description',
                    'visibility', 'protected', 'owner')


def _check_read_only(body):
    for key in READ_ONLY:
        if key in body:
            raise exception.Forbidden("Attribute '%s' is read-only." % key)


def _list_params(req):
    params = dict(util.query_params(req))
    sort_key, sort_dir = util.sorting_params(params, SORT_KEYS)
    visibility = params.get('visibility')
    if visibility and visibility not in ('public', 'private'):
        raise exception.BadRequest(
            'Invalid visibility value: %s' % visibility)
    limit = util.limit_param(params.get('limit'), CONF)
    resource_types = [name.strip() for name in
                      params.get('resource_types', '').split(',')
                      if name.strip()]
    return params, {'marker': params.get('marker'),
                    'limit': limit,
                    'sort_key': sort_key, 'sort_dir': sort_dir,
                    'visibility': visibility or None,
                    'resource_types': resource_types or None}


@util.no_body
def list_namespaces(req):
    """200: the namespaces the caller sees, a page at a time."""
    ctx = util.context(req)
    access.authorize(ctx, policy.GET_METADEF_NAMESPACES)
    access.authorize(ctx, policy.LIST_METADEF_RESOURCE_TYPES)
    params, query = _list_params(req)
    if query['marker'] is not None:
        db_metadefs.namespace_get(ctx, query['marker'])
    rows = db_metadefs.namespace_list(ctx, **query)
    visible = [ns for ns in rows if policy.check(
        ctx, policy.GET_METADEF_NAMESPACE, policy.metadef_target(ns, ctx))]
    associations = db_metadefs.association_lists(ctx, visible)
    body = {'namespaces': [
        views.namespace_view(ns, associations=[
            views.association_view(a)
            for a in associations[ns['namespace']]])
        for ns in visible]}
    if visible and len(visible) == query['limit']:
        params['marker'] = visible[-1]['namespace']
        body['next'] = '%s?%s' % (views.NAMESPACES_PATH,
                                  urllib.parse.urlencode(params))
    params.pop('marker', None)
    body['schema'] = '/v2/schemas/metadefs/namespaces'
    body['first'] = views.NAMESPACES_PATH + (
        '?' + urllib.parse.urlencode(params) if params else '')
    return util.json_response(body)


def create_namespace(req):
    """201: a namespace, with any objects, properties, tags and resource
    type associations of the body, created in one transaction."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    body = util.json_body(req)
    _check_read_only(body)
    access.validate(body, 'namespace')
    access.authorize(ctx, policy.ADD_METADEF_NAMESPACE)
    parts = (('resource_type_associations',
              policy.ADD_METADEF_RESOURCE_TYPE_ASSOCIATION),
             ('objects', policy.ADD_METADEF_OBJECT),
             ('properties', policy.ADD_METADEF_PROPERTY),
             ('tags', policy.ADD_METADEF_TAG))
    for key, rule in parts:
        if body.get(key):
            access.authorize(ctx, rule)
    values = {k: body[k] for k in NAMESPACE_FIELDS if body.get(k) is not None}
    values.setdefault('owner', ctx.project_id)
    values.setdefault('visibility', 'private')
    values.setdefault('protected', False)
    properties = metadefs.property_definitions(body.get('properties'))
    objects = [access.object_values(o) for o in body.get('objects') or ()]
    tags = [{'name': t['name']} for t in body.get('tags') or ()
            if t.get('name') is not None]
    associations = [access.association_values(a)
                    for a in body.get('resource_type_associations') or ()]
    namespace = db_metadefs.namespace_create_full(
        ctx, values, objects=objects, properties=properties, tags=tags,
        associations=associations)
    doc = views.namespace_view(
        namespace,
        associations=[views.association_view(a, times=False)
                      for a in associations],
        properties=views.properties_view(properties),
        objects=[views.object_view(namespace['namespace'], o, links=False,
                                   stored=False)
                 for o in objects],
        tags=[views.tag_view(t, times=False) for t in tags])
    return util.json_response(
        doc, status=201,
        headers={'Location': views.namespace_href(namespace['namespace'])})


def _load(ctx, name):
    name = access.namespace_text(name)
    try:
        namespace = db_metadefs.namespace_get(ctx, name)
    except exception.NotFound:
        if db_metadefs.namespace_exists(ctx, name):
            # Another project's private namespace: say nothing of it.
            raise exception.NotFound()
        raise exception.MetadefNamespaceNotFound(namespace_name=name)
    try:
        access.authorize(ctx, policy.GET_METADEF_NAMESPACE, namespace)
    except exception.NotFound:
        raise exception.NotFound()
    return namespace


@util.no_body
def show_namespace(req, namespace):
    """200: a namespace and everything in it; ``resource_type`` puts that
    type's association prefix before every property name."""
    ctx = util.context(req)
    params = dict(util.query_params(req))
    ns = _load(ctx, namespace)
    for rule in (policy.LIST_METADEF_RESOURCE_TYPES,
                 policy.GET_METADEF_OBJECTS, policy.GET_METADEF_PROPERTIES,
                 policy.GET_METADEF_TAGS):
        access.authorize(ctx, rule, ns)
    name = ns['namespace']
    associations = db_metadefs.association_list(ctx, name)
    prefix = ''
    wanted = params.get('resource_type')
    if wanted:
        prefix = next((a.get('prefix') or '' for a in associations
                       if a['name'] == wanted), '')
    doc = views.namespace_view(
        ns,
        associations=[views.association_view(a) for a in associations],
        properties=views.properties_view(
            {p['name']: p['schema']
             for p in db_metadefs.property_list(ctx, name)}, prefix),
        objects=[views.object_view(name, o, prefix=prefix)
                 for o in db_metadefs.object_list(ctx, name)],
        tags=[views.tag_view(t, times=False)
              for t in db_metadefs.tag_list(ctx, name)])
    return util.json_response(doc)


def update_namespace(req, namespace):
    """200: the namespace with the body's fields; what the body leaves
    out falls back to Glance's defaults (private, unprotected, the
    caller's project)."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    body = util.json_body(req)
    _check_read_only(body)
    access.validate(body, 'namespace')
    access.authorize(ctx, policy.MODIFY_METADEF_NAMESPACE, ns)
    values = {'namespace': body['namespace'],
              'display_name': body.get('display_name'),
              'description': body.get('description'),
              'visibility': body.get('visibility') or 'private',
              'protected': body.get('protected') or False,
              'owner': body.get('owner') or ctx.project_id}
    try:
        updated = db_metadefs.namespace_update(ctx, ns['namespace'],
                                               values)
    except exception.MetadefDuplicateNamespace:
        raise exception.Conflict(
            'Invalid update. It would result in a duplicate metadata '
            'definition namespace with the same name of %s'
            % values['namespace'])
    return util.json_response(views.namespace_view(updated))


def _delete(req, namespace, rules, action):
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    for rule in rules:
        access.authorize(ctx, rule, ns)
    if ns['protected']:
        raise exception.ProtectedMetadefNamespaceDelete(
            namespace=ns['namespace'])
    action(ctx, ns['namespace'])
    return util.empty_response()


@util.no_body
def delete_namespace(req, namespace):
    """204: the namespace and all it holds are gone; 403 while protected."""
    return _delete(req, namespace, (policy.DELETE_METADEF_NAMESPACE,),
                   db_metadefs.namespace_delete)


@util.no_body
def delete_objects(req, namespace):
    """204: every object of the namespace is gone."""
    return _delete(req, namespace, (policy.DELETE_METADEF_NAMESPACE,),
                   db_metadefs.namespace_delete_objects)


@util.no_body
def delete_properties(req, namespace):
    """204: every property of the namespace is gone."""
    return _delete(req, namespace, (policy.DELETE_METADEF_NAMESPACE,),
                   db_metadefs.namespace_delete_properties)


@util.no_body
def delete_tags(req, namespace):
    """204: every tag of the namespace is gone."""
    return _delete(req, namespace, (policy.DELETE_METADEF_NAMESPACE,
                                    policy.DELETE_METADEF_TAGS),
                   db_metadefs.namespace_delete_tags)

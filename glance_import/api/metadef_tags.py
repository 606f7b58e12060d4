"""Metadata definition tags: /v2/metadefs/namespaces/{ns}/tags.

Tag names are unique within a namespace regardless of case. A bulk POST
replaces the namespace's tags, or adds to them with
``X-Openstack-Append: true``.
"""

from oslo_config import cfg
from oslo_utils import strutils

from glance_import import exception
from glance_import import policy
from glance_import.api import metadef_access as access
from glance_import.api import metadef_views as views
from glance_import.api import util
from glance_import.db import metadefs as db_metadefs

CONF = cfg.CONF

TAG_NAME_MAX = 255
READ_ONLY = ('created_at', 'updated_at')


def _check_name(name):
    if not isinstance(name, str) or not name or len(name) > TAG_NAME_MAX:
        raise exception.BadRequest(
            "Provided object does not match schema 'tag': invalid name "
            "(a string of 1 to %d characters)." % TAG_NAME_MAX)
    util.without_nul(name, 'Tag name')
    return name


def _get(ctx, ns, tag_name):
    try:
        return db_metadefs.tag_get(ctx, ns['namespace'], tag_name)
    except exception.NotFound:
        raise exception.NotFound('Could not find metadata tag %s' % tag_name)


def _sorting(req):
    params = dict(util.query_params(req))
    sort_key, sort_dir = util.sorting_params(
        params, ('created_at', 'updated_at', 'name'))
    # Unlike the namespace list, every tag by default, as Glance.
    limit = params.get('limit')
    return {'marker': params.get('marker'),
            'limit': util.limit_param(limit, CONF) if limit else None,
            'sort_key': sort_key, 'sort_dir': sort_dir}


@util.no_body
def list_tags(req, namespace):
    ctx = util.context(req)
    ns = access.load_namespace(ctx, namespace, policy.GET_METADEF_TAGS)
    query = _sorting(req)
    if query['marker'] is not None:
        _get(ctx, ns, query['marker'])
    tags = db_metadefs.tag_list(ctx, ns['namespace'], **query)
    return util.json_response(
        {'tags': [views.tag_view(t, times=False) for t in tags]})


def create_tags(req, namespace):
    """201: the namespace's tags are the body's (or gain them, with
    ``X-Openstack-Append``); a name given twice is a 409."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    body = util.json_body(req)
    tags = body.get('tags')
    if not isinstance(tags, list) or set(body) - {'tags'} or any(
            not isinstance(t, dict) or set(t) != {'name'} for t in tags):
        raise exception.BadRequest(
            "Provided object does not match schema 'tags': expected "
            '{"tags": [{"name": ...}, ...]}')
    names = [_check_name(t['name']) for t in tags]
    access.authorize(ctx, policy.ADD_METADEF_TAGS, ns)
    append = strutils.bool_from_string(
        req.headers.get('X-Openstack-Append'))
    created = db_metadefs.tag_create_many(ctx, ns['namespace'], names,
                                          append=append)
    return util.json_response(
        {'tags': [views.tag_view(t, times=False) for t in created]},
        status=201)


@util.no_body
def create_tag(req, namespace, tag_name):
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    _check_name(tag_name)
    access.authorize(ctx, policy.ADD_METADEF_TAG, ns)
    tag = db_metadefs.tag_create(ctx, ns['namespace'], tag_name)
    return util.json_response(views.tag_view(tag), status=201)


@util.no_body
def show_tag(req, namespace, tag_name):
    ctx = util.context(req)
    ns = access.load_namespace(ctx, namespace, policy.GET_METADEF_TAG)
    return util.json_response(views.tag_view(_get(ctx, ns, tag_name)))


def update_tag(req, namespace, tag_name):
    """200: the tag renamed to the body's name."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace)
    body = util.json_body(req)
    for key in READ_ONLY:
        if key in body:
            raise exception.Forbidden("Attribute '%s' is read-only." % key)
    new_name = _check_name(body.get('name'))
    access.authorize(ctx, policy.MODIFY_METADEF_TAG, ns)
    _get(ctx, ns, tag_name)
    tag = db_metadefs.tag_update(ctx, ns['namespace'], tag_name, new_name)
    return util.json_response(views.tag_view(tag))


@util.no_body
def delete_tag(req, namespace, tag_name):
    """204; 403 while the namespace is protected."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    ns = access.load_namespace(ctx, namespace, policy.DELETE_METADEF_TAG)
    _get(ctx, ns, tag_name)
    if ns['protected']:
        raise exception.ProtectedMetadefTagDelete(tag_name=tag_name)
    db_metadefs.tag_delete(ctx, ns['namespace'], tag_name)
    return util.empty_response()

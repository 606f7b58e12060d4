"""The tasks API (/v2/tasks) and an image's tasks (/v2/images/{id}/tasks).

Every /v2/tasks call is gated by ``tasks_api_access`` (admin by default)
and then by get_task / get_tasks / add_task, which default to open as the
Pike deployment advice recommends. Task views carry our extra field
``progress``: the bytes a running import has handled so far.
The legacy ``import`` type is accepted and runs as a web-download into a
new image (see ``importer.executor``).
"""

import urllib.parse
import uuid

import jsonschema
from oslo_config import cfg

from glance_import import exception
from glance_import import policy
from glance_import import tasks as task_domain
from glance_import.api import schemas
from glance_import.api import util
from glance_import.db import tasks as db_tasks
from glance_import.importer import executor
from glance_import.importer import uri_filter

CONF = cfg.CONF

SORT_KEYS = ('created_at', 'updated_at', 'id', 'type', 'status', 'owner',
             'expires_at')
LEGACY_INPUT = ('import_from', 'import_from_format', 'image_properties')
_TASK_VALIDATOR = jsonschema.Draft4Validator(schemas.TASK_SCHEMA)


def _authorize(ctx, rule):
    target = {'project_id': ctx.project_id}
    policy.authorize(ctx, policy.TASKS_API_ACCESS, target)
    policy.authorize(ctx, rule, target)


def _owner_filter(ctx):
    return None if ctx.is_admin else ctx.project_id


def task_view(task, stub=False):
    """A task as the tasks API shows it (stubs omit the bulky fields)."""
    view = {
        'id': task['id'], 'type': task['type'], 'status': task['status'],
        'owner': task['owner'],
        'created_at': util.iso8601(task['created_at']),
        'updated_at': util.iso8601(task['updated_at']),
        'self': '/v2/tasks/%s' % task['id'],
        'schema': '/v2/schemas/task',
    }
    if not stub:
        view.update(input=task['input'], result=task['result'],
                    message=task['message'] or '')
        for key in ('image_id', 'request_id', 'user_id'):
            if task[key]:
                view[key] = task[key]
    if task['expires_at']:
        view['expires_at'] = util.iso8601(task['expires_at'])
    view['progress'] = task['progress'] or 0
    return view


def _raw(value):
    if hasattr(value, 'strftime'):
        return value.strftime('%Y-%m-%dT%H:%M:%S.%f')
    return value


@util.no_body
def list_image_tasks(req, image_id):
    """GET /v2/images/{image_id}/tasks: the image's tasks as rows; 200."""
    ctx = util.context(req)
    image = util.load_image(ctx, image_id, from_path=False)
    tasks = db_tasks.task_get_all(ctx, owner=_owner_filter(ctx),
                                  image_id=image.id)
    return util.json_response(
        {'tasks': [{k: _raw(v) for k, v in t.items()} for t in tasks]})


def _list_params(query):
    params = dict(query)
    sort_key, sort_dir = util.sorting_params(params, SORT_KEYS)
    marker = params.pop('marker', None)
    if marker is not None:
        try:
            uuid.UUID(marker)
        except ValueError:
            raise exception.BadRequest('Invalid marker format')
    limit = util.limit_param(params.get('limit'), CONF)
    filters = {}
    status = params.get('status')
    if status:
        if status not in task_domain.STATUSES:
            raise exception.BadRequest('Invalid status value: %s' % status)
        filters['status'] = status
    task_type = params.get('type')
    if task_type:
        if task_type != task_domain.LEGACY_IMPORT:
            raise exception.BadRequest('Invalid type value: %s' % task_type)
        filters['type'] = task_type
    return {'filters': filters, 'marker': marker,
            'limit': limit,
            'sort_key': sort_key, 'sort_dir': sort_dir}


@util.no_body
def list_tasks(req):
    """GET /v2/tasks: the caller's tasks (all for admins); 200."""
    ctx = util.context(req)
    _authorize(ctx, policy.GET_TASKS)
    pairs = util.query_params(req)
    params = _list_params(pairs)
    tasks = db_tasks.task_get_all(ctx, owner=_owner_filter(ctx), **params)
    query = {k: v for k, v in pairs if k != 'marker'}
    body = {'tasks': [task_view(t, stub=True) for t in tasks],
            'first': '/v2/tasks', 'schema': '/v2/schemas/tasks'}
    if query:
        body['first'] += '?' + urllib.parse.urlencode(query)
    if tasks and len(tasks) == params['limit']:
        query['marker'] = tasks[-1]['id']
        body['next'] = '/v2/tasks?' + urllib.parse.urlencode(query)
    return util.json_response(body)


@util.no_body
def show_task(req, task_id):
    """GET /v2/tasks/{task_id}: one task; 200, 404 if not the caller's."""
    ctx = util.context(req)
    _authorize(ctx, policy.GET_TASK)
    task = db_tasks.task_get(ctx, task_id, owner=_owner_filter(ctx))
    return util.json_response(task_view(task))


def create_task(req):
    """POST /v2/tasks: create and start a legacy import task; 201."""
    ctx = util.context(req)
    _authorize(ctx, policy.ADD_TASK)
    util.check_mutating(ctx)
    body = util.json_body(req)
    for field in ('type', 'input'):
        if field not in body:
            raise exception.BadRequest("Task '%s' is required" % field)
    error = next(iter(_TASK_VALIDATOR.iter_errors(body)), None)
    if error is not None:
        raise exception.BadRequest(
            "Provided object does not match schema 'task': %s"
            % error.message)
    if body['type'] != task_domain.LEGACY_IMPORT:
        raise exception.BadRequest(
            'Tasks of type %s are created by the image API, not through '
            '/v2/tasks' % body['type'])
    _check_legacy_input(body['input'] or {})
    task = db_tasks.task_create(ctx, {
        'type': body['type'], 'input': body['input'], 'owner': ctx.owner,
        'user_id': ctx.user_id, 'request_id': ctx.request_id})
    executor.submit(CONF, task, {'auth_token': ctx.auth_token,
                                 'roles': list(ctx.roles)})
    return util.json_response(task_view(task), status=201,
                              headers={'Location': '/v2/tasks/%s'
                                       % task['id']})


def _check_legacy_input(task_input):
    """Input of a legacy import task, as Glance validates it."""
    for key in LEGACY_INPUT:
        if key not in task_input:
            raise exception.BadRequest(
                "Input does not contain '%s' field" % key)
    uri = task_input['import_from']
    if not isinstance(uri, str) or not uri:
        raise exception.BadRequest('Invalid location: %s' % (uri,))
    if uri.startswith(('file:///', 'filesystem:///')):
        raise exception.BadRequest(
            'File based imports are not allowed. Please use a non-local '
            'source of image data.')
    if not uri.startswith(('http://', 'https://')):
        raise exception.BadRequest(
            'The given uri is not valid. Please specify a valid uri from '
            "the following list of supported uri ['http']")
    try:
        uri_filter.check_uri(CONF, uri)
    except uri_filter.FilterError:
        raise exception.BadRequest(
            'URI for legacy import task does not pass filtering: %s' % uri)
    fmt = task_input['import_from_format']
    if fmt not in CONF.image_format.disk_formats:
        raise exception.BadRequest('Invalid import_from_format: %s' % (fmt,))
    props = task_input['image_properties']
    if not isinstance(props, dict):
        raise exception.BadRequest("'image_properties' must be an object")
    if not props:
        props.update(disk_format='qcow2', container_format='bare')
    checks = (('disk_format', CONF.image_format.disk_formats),
              ('container_format', CONF.image_format.container_formats))
    for key, allowed in checks:
        value = props.get(key)
        if value is not None and value not in allowed:
            raise exception.BadRequest('Invalid %s: %s' % (key, value))
    for key, value in props.items():
        if key.startswith('os_glance') or not isinstance(
                value, (str, int, bool)):
            raise exception.BadRequest('Invalid image property: %s' % key)

"""Helpers shared by the handlers: the request context, bodies, query and
path parameters, responses, and loading the image a request names."""

import functools
import json
import logging
import re

import webob

from glance_import import exception
from glance_import import policy
from glance_import.db import images as db_images

CONTEXT_KEY = 'glance_import.context'
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 1 << 20
UUID_PATTERN = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
                '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')
_UUID_RE = re.compile(UUID_PATTERN)
LOG = logging.getLogger(__name__)


def context(req):
    return req.environ[CONTEXT_KEY]


def check_mutating(ctx):
    """Anonymous (read-only) callers may not change anything."""
    if ctx.read_only:
        raise exception.ReadOnlyContext()


def has_body(req):
    return bool(req.content_length) or (
        'chunked' in req.headers.get('Transfer-Encoding', '').lower())


def no_body(handler):
    """Refuse a request body on routes that take none (400, as Glance)."""
    @functools.wraps(handler)
    def wrapper(req, **kwargs):
        if has_body(req):
            raise exception.BadRequest(
                'A body is not expected with this request.')
        return handler(req, **kwargs)
    return wrapper


def require_content(*content_types, headers=None):
    """Refuse other Content-Types with 415."""
    def decorator(handler):
        @functools.wraps(handler)
        def wrapper(req, **kwargs):
            if req.content_type not in content_types:
                raise exception.UnsupportedMediaType(
                    'Unsupported Content-Type %s' % (req.content_type or
                                                     '(none)'),
                    headers=headers)
            return handler(req, **kwargs)
        return wrapper
    return decorator


def _depth(value, limit):
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def query_params(req):
    """The query string's (name, value) pairs, in order; 400 for text
    that is not UTF-8 or holds NUL (no database stores it)."""
    try:
        items = list(req.GET.items())
    except UnicodeDecodeError:
        raise exception.BadRequest('The query string is not valid UTF-8.')
    for pair in items:
        for text in pair:
            if '\x00' in text:
                raise exception.BadRequest(
                    'Query parameters must not contain NUL characters.')
    return items


def _no_lone_surrogates(pairs):
    for key, _value in pairs:
        _check_text(key)
    return dict(pairs)


def _check_text(text):
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        raise exception.BadRequest(
            'Malformed JSON in request body: invalid Unicode text.')


def json_body(req, *, allowed=(dict,)):
    """The request's JSON document, or a 400 that says what is wrong."""
    if not has_body(req):
        raise exception.BadRequest('Body expected in request.')
    if req.content_length and req.content_length > JSON_MAX_BYTES:
        raise exception.RequestEntityTooLarge(
            'Request body is larger than %d bytes.' % JSON_MAX_BYTES)
    try:
        raw = req.body_file.read(JSON_MAX_BYTES + 1)
    except OSError as e:
        # The client went away (or stalled): nothing of ours failed, so
        # one line and no traceback. The answer most likely reaches no one.
        LOG.info('Request body of %s %s not read: %s', req.method,
                 req.path, e)
        raise exception.BadRequest('The request body could not be read.')
    if len(raw) > JSON_MAX_BYTES:
        raise exception.RequestEntityTooLarge(
            'Request body is larger than %d bytes.' % JSON_MAX_BYTES)
    try:
        text = raw.decode('utf-8')
        doc = json.loads(text, object_pairs_hook=_no_lone_surrogates,
                         parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise exception.BadRequest('Malformed JSON in request body.')
    if not _depth(doc, JSON_MAX_DEPTH):
        raise exception.BadRequest('JSON document nested too deeply.')
    _check_strings(doc)
    if not isinstance(doc, allowed):
        names = ' or '.join(
            {dict: 'an object', list: 'an array'}[t] for t in allowed)
        raise exception.BadRequest('Request body must be %s.' % names)
    return doc


def _reject_constant(name):
    raise ValueError('%s is not valid JSON' % name)


def _strings(doc, *, keys):
    """Every string of a JSON document, its object keys too if *keys*."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            if keys:
                stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_strings(doc):
    # Keys were checked as they were parsed (_no_lone_surrogates).
    for text in _strings(doc, keys=False):
        _check_text(text)


def without_nul(value, what):
    """Refuse text a database cannot store (NUL) with a 400."""
    if isinstance(value, str) and '\x00' in value:
        raise exception.BadRequest('%s must not contain NUL characters.'
                                   % what)
    return value


def check_no_nul(doc, what='Request body'):
    """without_nul over every key and string of a JSON document."""
    for text in _strings(doc, keys=True):
        without_nul(text, what)


def path_text(value):
    """A path variable as text: WSGI hands it over as latin-1."""
    try:
        return value.encode('latin-1').decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise exception.BadRequest('The URL path is not valid UTF-8.')


def load_image(ctx, image_id, rules=(policy.GET_IMAGE,), *,
               from_path=True, check_visible=True):
    """The image *image_id* after enforcing each of *rules* once, in order.

    An image the caller may not see is a 404 (ImageNotFound); list
    get_image first to make that so whatever the later rules say.
    *from_path*: decode the id as a path variable and 404 unless it is a
    UUID; the data, import and task handlers pass the raw id, as they
    always have. Empty *rules*: the caller checks policy itself, after
    validating the request. *check_visible* False: re-read an image this
    request was already allowed to change.
    """
    if from_path:
        image_id = path_text(image_id)
        if not _UUID_RE.match(image_id):
            raise exception.ImageNotFound(image_id=image_id)
    image = db_images.image_get(ctx, image_id, check_visible=check_visible)
    for rule in dict.fromkeys(rules):
        policy.authorize_image(ctx, rule, image)
    return image


def json_response(body, status=200, headers=None):
    resp = webob.Response(status=status, content_type='application/json',
                          charset='UTF-8')
    resp.body = json.dumps(body).encode('utf-8')
    if headers:
        for key, value in headers.items():
            resp.headers[key] = value
    return resp


def empty_response(status=204, headers=None):
    resp = webob.Response(status=status)
    # No Content-Type on empty answers, as Glance sends them.
    del resp.content_type
    resp.content_length = 0 if status != 204 else None
    if headers:
        for key, value in headers.items():
            resp.headers[key] = value
    return resp


def bool_param(value, name):
    """'true'/'false' query parameters, lowercase only, as Glance."""
    if value not in ('true', 'false'):
        raise exception.BadRequest(
            "Invalid value '%s' for '%s' filter. Valid values are 'true' "
            "or 'false'." % (value, name))
    return value == 'true'


def sorting_params(params, sort_keys):
    """``sort_key`` and ``sort_dir`` of a task or metadef list (the image
    list has its own, richer syntax); Glance's 400s for bad values."""
    sort_dir = params.get('sort_dir', 'desc')
    if sort_dir not in ('asc', 'desc'):
        raise exception.BadRequest('Invalid sort direction: %s' % sort_dir)
    sort_key = params.get('sort_key', 'created_at')
    if sort_key not in sort_keys:
        raise exception.BadRequest('Invalid sort key: %s' % sort_key)
    return sort_key, sort_dir


def limit_param(value, conf):
    """A list's page size: *value* (or the default), at most
    ``api_limit_max``; Glance's 400s for bad values."""
    if value is None:
        limit = conf.limit_param_default
    else:
        try:
            limit = int(value)
        except ValueError:
            raise exception.BadRequest('limit param must be an integer')
        if limit < 0:
            raise exception.BadRequest('limit param must be positive')
    return min(limit, conf.api_limit_max)


def iso8601(dt):
    """Glance's timestamp form: UTC, seconds, trailing Z."""
    if dt is None:
        return None
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')

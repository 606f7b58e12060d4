"""WSGI middleware: request ids, faults, version negotiation, contexts."""

import json
import logging
import uuid

import webob
import webob.exc
from oslo_config import cfg

from glance_import import context as request_context
from glance_import import exception
from glance_import import policy
from glance_import.api import util
from glance_import.api import versions

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

REQUEST_ID_HEADER = 'X-Openstack-Request-ID'
REQUEST_ID_ENV = 'openstack.request_id'
_REQUEST_ID_LOWER = REQUEST_ID_HEADER.lower()
_REQUEST_ID_WSGI = 'HTTP_X_OPENSTACK_REQUEST_ID'

# Keystone's default role implications; applied to trusted headers in
# the unauthenticated flavor so "X-Roles: admin" behaves as with a token.
IMPLIED_ROLES = {'admin': ('member', 'reader'), 'member': ('reader',)}


class Middleware:
    """Base for paste filters.

    ``process(req)`` returns a response to answer with, or None to pass
    the request on. Plain WSGI underneath: a layer that only prepares the
    request builds no response object of its own.
    """

    def __init__(self, application):
        self.application = application

    @classmethod
    def factory(cls, global_conf, **local_conf):
        def _filter(app):
            return cls(app)
        return _filter

    def __call__(self, environ, start_response):
        resp = self.process(webob.Request(environ))
        if resp is None:
            return self.application(environ, start_response)
        return resp(environ, start_response)

    def process(self, req):
        return None


def error_response(req, exc):
    """A webob error response for one of our exceptions."""
    cls = webob.exc.status_map.get(exc.status,
                                   webob.exc.HTTPInternalServerError)
    if exc.status == 415:
        # webob's 415 page ignores the explanation; only detail shows.
        resp = cls(detail=exc.msg, headers=dict(exc.headers))
    else:
        resp = cls(explanation=exc.msg, headers=dict(exc.headers))
    return req.get_response(resp)


class RequestId(Middleware):
    """Give every request an id and echo it in the response."""

    def __call__(self, environ, start_response):
        request_id = environ.get(_REQUEST_ID_WSGI)
        if request_id and len(request_id) > CONF.max_request_id_length:
            resp = error_response(webob.Request(environ),
                                  exception.RequestHeaderTooLarge(
                'Request id is longer than %d characters.'
                % CONF.max_request_id_length))
            return resp(environ, start_response)
        if not request_id:
            request_id = 'req-%s' % uuid.uuid4()
        environ[REQUEST_ID_ENV] = request_id

        def start_with_id(status, headers, exc_info=None):
            # A forwarded request answers with the id of the node that
            # did it.
            headers = [(k, v) for k, v in headers
                       if k.lower() != _REQUEST_ID_LOWER]
            headers.append((REQUEST_ID_HEADER,
                            environ.get(REQUEST_ID_ENV, request_id)))
            return start_response(status, headers, exc_info)
        return self.application(environ, start_with_id)


class FaultWrapper(Middleware):
    """Turn our exceptions into HTTP errors; anything else is a logged 500.

    Tracebacks go to the log only, never to the client.
    """

    def __call__(self, environ, start_response):
        try:
            return self.application(environ, start_response)
        except Exception as exc:
            resp = self._fault(webob.Request(environ), exc)
        return resp(environ, start_response)

    @staticmethod
    def _fault(req, exc):
        if isinstance(exc, exception.GlanceImportError):
            if exc.status >= 500:
                LOG.error('Error serving %s %s', req.method, _raw_path(req),
                          exc_info=exc)
            return error_response(req, exc)
        if isinstance(exc, webob.exc.HTTPException):
            return exc
        LOG.error('Unexpected error serving %s %s', req.method,
                  _raw_path(req), exc_info=exc)
        return webob.exc.HTTPInternalServerError(
            explanation='The server has either erred or is incapable of '
                        'performing the requested operation.')


def _raw_path(req):
    """The path as received; decoding it may be what failed."""
    return req.environ.get('SCRIPT_NAME', '') + req.environ.get(
        'PATH_INFO', '')


class VersionNegotiation(Middleware):
    """Map /v2.x/ prefixes and versioned Accept headers to /v2."""

    ACCEPT_PREFIX = 'application/vnd.openstack.images-'

    def process(self, req):
        try:
            path = req.path_info
        except UnicodeDecodeError:
            raise exception.BadRequest('The URL path is not valid UTF-8.')
        segments = path.lstrip('/').split('/', 1)
        first = segments[0]
        rest = '/' + segments[1] if len(segments) > 1 else ''
        # Version discovery is answered here, before authentication, as
        # Glance does: clients ask for it without a token.
        if first == 'versions':
            return versions.list_versions(req)
        if path in ('', '/'):
            return versions.list_versions_root(req)
        allowed = versions.allowed_tokens(CONF)
        accept = req.headers.get('Accept', '')
        if accept.startswith(self.ACCEPT_PREFIX):
            token = accept[len(self.ACCEPT_PREFIX):].split(';')[0].split(
                '+')[0].strip()
            if token in allowed:
                if first in allowed:
                    path = rest
                req.path_info = '/v2' + path
                req.environ['api.version'] = 2
                return None
        if first in allowed:
            req.path_info = '/v2' + rest
            req.environ['api.version'] = 2
            return None
        return versions.list_versions_root(req)


class UnauthenticatedContext(Middleware):
    """Context from trusted X-Project-Id / X-User-Id / X-Roles headers.

    Without X-Project-Id the caller is an admin of
    ``noauth_default_project_id``, so images and import tasks always have an
    owner (Glance leaves it empty and its imports then fail).
    """

    def process(self, req):
        headers = req.headers
        project_id = headers.get('X-Project-Id') or headers.get(
            'X-Tenant-Id')
        if project_id:
            roles = _roles(headers.get('X-Roles'), default=['member'])
        else:
            project_id = CONF.noauth_default_project_id
            roles = _roles('admin')
        req.environ[util.CONTEXT_KEY] = _make_context(
            req, user_id=headers.get('X-User-Id'), project_id=project_id,
            roles=roles, auth_token=headers.get('X-Auth-Token'),
            service_catalog=_trusted_catalog(headers))
        return None


def _trusted_catalog(headers):
    """X-Service-Catalog as sent (trusted, like the other headers here);
    glance-download finds the other region's endpoint in it."""
    if not headers.get('X-Service-Catalog'):
        return None
    try:
        return json.loads(headers['X-Service-Catalog'])
    except ValueError:
        raise exception.BadRequest('Invalid service catalog json.')


class KeystoneContext(Middleware):
    """Context from the headers keystonemiddleware's auth_token sets."""

    def process(self, req):
        headers = req.headers
        if headers.get('X-Identity-Status', 'Confirmed') != 'Confirmed':
            if not CONF.allow_anonymous_access:
                # A response, not an exception, so that auth_token on the
                # way out adds its WWW-Authenticate challenge.
                return error_response(req, exception.Unauthorized())
            req.environ[util.CONTEXT_KEY] = _make_context(
                req, user_id=None, project_id=None, roles=[],
                read_only=True)
            return None
        catalog = None
        if headers.get('X-Service-Catalog'):
            try:
                catalog = json.loads(headers['X-Service-Catalog'])
            except ValueError:
                raise exception.BadRequest(
                    'Invalid service catalog json.')
        req.environ[util.CONTEXT_KEY] = _make_context(
            req, user_id=headers.get('X-User-Id'),
            project_id=headers.get('X-Project-Id') or headers.get(
                'X-Tenant-Id'),
            roles=[r.strip().lower() for r in
                   headers.get('X-Roles', '').split(',') if r.strip()],
            auth_token=headers.get('X-Auth-Token'),
            service_catalog=catalog,
            user_name=headers.get('X-User-Name'),
            project_name=headers.get('X-Project-Name'),
            user_domain_id=headers.get('X-User-Domain-Id'),
            project_domain_id=headers.get('X-Project-Domain-Id'),
            system_scope=headers.get('Openstack-System-Scope'),
            service_roles=[r.strip().lower() for r in headers.get(
                'X-Service-Roles', '').split(',') if r.strip()])
        return None


def _roles(value, default=()):
    roles = [r.strip().lower() for r in (value or '').split(',')
             if r.strip()] or list(default)
    expanded = list(roles)
    for role in roles:
        for implied in IMPLIED_ROLES.get(role, ()):
            if implied not in expanded:
                expanded.append(implied)
    return expanded


def _make_context(req, **kwargs):
    kwargs.setdefault('read_only', False)
    ctx = request_context.RequestContext(
        request_id=req.environ.get(REQUEST_ID_ENV), overwrite=False,
        **kwargs)
    ctx.is_admin = policy.is_admin(ctx)
    return ctx

"""Replay a request on the API node that holds an image's staged data.

With per-node staging directories each node sets
``worker_self_reference_url``; a stage records it on the image as
``os_glance_stage_host``. A glance-direct import or a DELETE that reaches
another node is sent to that node with the same method, body and the
caller's identity headers (reference section 10.1), and its answer is
returned: its status and body, and its request id. With a shared staging
directory no node records a different host and nothing is forwarded.

A connection error or timeout is a 504, any other failure to get an
answer a 502. A DELETE whose stage host cannot answer is done locally
instead (the other node's start-up staging cleanup removes the residue).
"""

import logging

import requests
import webob
from oslo_config import cfg

from glance_import import exception
from glance_import import images
from glance_import.api import middleware

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

TIMEOUT = 60
# Set on forwarded requests: a node never forwards a request twice, so a
# stale or mistyped stage host cannot make nodes bounce it forever.
FORWARDED_HEADER = 'X-Glance-Import-Forwarded'
# The caller's identity (either flavor) and what the handlers read.
COPIED_HEADERS = ('X-Auth-Token', 'X-Project-Id', 'X-Tenant-Id', 'X-User-Id',
                  'X-Roles', 'X-User-Domain-Id', 'X-Project-Domain-Id',
                  'Openstack-System-Scope', 'X-Image-Meta-Store', 'Accept')
UNAVAILABLE = 'Stage host is unavailable'


def self_url(conf) -> str | None:
    """How this node names itself in os_glance_stage_host."""
    return conf.worker_self_reference_url or conf.public_endpoint


def stage_host(req, image) -> str | None:
    """The other node holding *image*'s staged data, or None."""
    host = image.properties.get(images.STAGE_HOST)
    if not host or host == self_url(CONF):
        return None
    if req.headers.get(FORWARDED_HEADER):
        LOG.warning('Image %s is staged on %s, but this request was '
                    'already forwarded here; serving it locally',
                    image.id, host)
        return None
    return host


def forward_import(req, image, import_req, body) -> webob.Response | None:
    """The stage host's answer to a glance-direct import, or None.

    None means this node imports the image itself.
    """
    if import_req.method != 'glance-direct':
        return None
    host = stage_host(req, image)
    if host is None:
        return None
    return _forward(req, host, body)


def forward_delete(req, image) -> webob.Response | None:
    """The stage host's answer to a DELETE, or None to delete here.

    When the stage host cannot answer (5xx), None: the image is deleted
    locally and the staged residue stays behind on that node.
    """
    host = stage_host(req, image)
    if host is None:
        return None
    try:
        resp = _forward(req, host, None)
    except (exception.BadGateway, exception.GatewayTimeout):
        return None
    if resp.status_code >= 500:
        LOG.warning('Stage host %s failed to delete image %s (%s); '
                    'deleting it here', host, image.id, resp.status)
        return None
    return resp


def _forward(req, host, body):
    url = host.rstrip('/') + req.path
    headers = {name: req.headers[name] for name in COPIED_HEADERS
               if name in req.headers}
    headers[FORWARDED_HEADER] = '1'
    LOG.info('Forwarding %s %s to the stage host %s', req.method, req.path,
             host)
    try:
        remote = requests.request(req.method, url, json=body,
                                  headers=headers, timeout=TIMEOUT,
                                  allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as e:
        LOG.error('Cannot reach the stage host at %s: %s', url, e)
        raise exception.GatewayTimeout(UNAVAILABLE)
    except requests.RequestException as e:
        LOG.error('Forwarding to %s failed: %s', url, e)
        raise exception.BadGateway(UNAVAILABLE)
    request_id = remote.headers.get(middleware.REQUEST_ID_HEADER)
    if request_id:
        # The client should see the id of the node that did the work.
        req.environ[middleware.REQUEST_ID_ENV] = request_id
    resp = webob.Response(status=remote.status_code,
                          body=remote.content)
    content_type = remote.headers.get('Content-Type')
    if content_type and remote.content:
        resp.headers['Content-Type'] = content_type
    else:
        resp.headers.pop('Content-Type', None)
    return resp

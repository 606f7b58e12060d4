"""Keystone unified limits (``[DEFAULT] use_keystone_limits``), through
oslo.limit, on Glance's four resources:

* ``image_size_total`` (MiB): data stored, size x locations;
* ``image_stage_total`` (MiB): data in staging;
* ``image_count_total``: images;
* ``image_count_uploading``: images being uploaded, staged or imported.

The limits are those registered in Keystone for the service of ``[
oslo_limit] endpoint_id`` (or its endpoint_service_* options), with the
project's own where set; a resource with no registered limit allows
nothing. Usage is counted from the database at each check, with no
reservation: requests racing each other may together overshoot, as in
Glance. Each check is skipped, at no cost, when the option is off.
"""

import logging

from oslo_limit import exception as limit_exception
from oslo_limit import limit
from oslo_limit import opts as limit_opts

from glance_import import exception
from glance_import.db import usage

LOG = logging.getLogger(__name__)

IMAGE_SIZE_TOTAL = 'image_size_total'
IMAGE_STAGE_TOTAL = 'image_stage_total'
IMAGE_COUNT_TOTAL = 'image_count_total'
IMAGE_COUNT_UPLOADING = 'image_count_uploading'
MiB = 1024 * 1024

_USAGE = {
    IMAGE_SIZE_TOTAL: lambda ctx, owner: usage.stored_bytes(ctx, owner)
    // MiB,
    IMAGE_STAGE_TOTAL: lambda ctx, owner: usage.staged_bytes(ctx, owner)
    // MiB,
    IMAGE_COUNT_TOTAL: usage.image_count,
    IMAGE_COUNT_UPLOADING: usage.uploading_count,
}


class LimitExceeded(exception.RequestEntityTooLarge):
    message = ('The request returned a 413 Request Entity Too Large. This '
               'generally means that rate limiting or a quota threshold was '
               'breached.\n\nThe response body:\n%(body)s')


def register_opts(conf):
    limit_opts.register_opts(conf)


def list_opts():
    return limit_opts.list_opts()


def _enabled(conf):
    return conf.use_keystone_limits


def _enforcer(ctx):
    def usage_of(project_id, resource_names):
        return {name: _USAGE[name](ctx, project_id)
                for name in resource_names}
    return limit.Enforcer(usage_of)


def enforce(conf, ctx, owner, resource, delta=0):
    """413 (LimitExceeded) when *owner*'s usage of *resource* plus
    *delta* goes over its limit."""
    if not _enabled(conf):
        return
    try:
        _enforcer(ctx).enforce(owner, {resource: delta})
    except limit_exception.ProjectOverLimit as e:
        raise LimitExceeded(body=str(e))
    except limit_exception.SessionInitError as e:
        # The operator's [oslo_limit] is wrong: a server error, logged.
        LOG.error('Failed to initialize oslo_limit, likely due to incorrect '
                  'or insufficient configuration: %s', e)
        raise exception.ServiceUnavailable(
            'Keystone unified limits are unavailable: %s' % e)


def enforce_delta_mib(conf, ctx, owner, resource, size):
    """As ``enforce``, with *size* bytes counted in whole MiB (Glance's
    rounding down)."""
    enforce(conf, ctx, owner, resource, delta=(size or 0) // MiB)


def usage_report(conf, ctx, owner):
    """``GET /v2/info/usage``: {resource: {'limit': L, 'usage': U}}."""
    if not _enabled(conf):
        return {}
    try:
        found = _enforcer(ctx).calculate_usage(
            owner, list(_USAGE))
    except limit_exception.SessionInitError as e:
        LOG.error('Failed to initialize oslo_limit, likely due to incorrect '
                  'or insufficient configuration: %s', e)
        raise exception.ServiceUnavailable(
            'Keystone unified limits are unavailable: %s' % e)
    return {name: {'limit': found[name].limit, 'usage': found[name].usage}
            for name in _USAGE}

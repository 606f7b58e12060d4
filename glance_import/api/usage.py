"""GET /v2/info/usage (API 2.13): the caller's project's usage of the
Keystone unified limits of images, and those limits."""

from oslo_config import cfg

from glance_import.api import util
from glance_import.quota import unified_limits

CONF = cfg.CONF


@util.no_body
def show_usage(req):
    """200: ``{"usage": {resource: {"limit": L, "usage": U}}}``; empty
    when use_keystone_limits is off, as in Glance."""
    ctx = util.context(req)
    return util.json_response({'usage': unified_limits.usage_report(
        CONF, ctx, ctx.project_id)})

"""What clients may write on an image, checked alike by create and PATCH:
the writable attributes, integer ranges, visibility policy and quotas."""

from glance_import import exception
from glance_import import images as image_domain
from glance_import import policy

# Attributes a client may set on create or change with PATCH; the other
# base attributes are read-only.
WRITABLE = ('id', 'name', 'visibility', 'protected', 'os_hidden',
            'disk_format', 'container_format', 'min_disk', 'min_ram',
            'owner', 'tags')


def check_int32(name, value):
    """400 for min_disk/min_ram values outside 0..INT32_MAX."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise exception.BadRequest(
                'Cannot set %s to a negative value.' % name)
        if value > image_domain.INT32_MAX:
            raise exception.BadRequest(
                '%s must be at most %d.' % (name, image_domain.INT32_MAX))


def check_visibility_policy(ctx, image_like, visibility):
    """Making an image public or community needs a policy rule of its own."""
    if visibility == 'public':
        policy.authorize(ctx, policy.PUBLICIZE_IMAGE,
                         policy.image_target(image_like))
    elif visibility == 'community':
        policy.authorize(ctx, policy.COMMUNITIZE_IMAGE,
                         policy.image_target(image_like))


def check_quotas(properties, tags, conf):
    """413 beyond the property and tag quotas; the service's own
    properties (os_glance*) do not count."""
    counted = [n for n in properties
               if not n.startswith(image_domain.RESERVED_PREFIX)]
    quota = conf.image_property_quota
    if 0 <= quota < len(counted):
        raise exception.QuotaExceeded(resource='image properties',
                                      limit=quota)
    quota = conf.image_tag_quota
    if 0 <= quota < len(set(tags)):
        raise exception.QuotaExceeded(resource='image tags', limit=quota)

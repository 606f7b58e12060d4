"""The inject_image_metadata plugin: add operator-chosen properties.

``[inject_metadata_properties] inject`` is merged into the image's custom
properties unless the importing user has one of ``ignore_user_roles``.
Reserved ``os_glance`` names are skipped. Revert restores the previous
values.
"""

import logging

from glance_import import exception
from glance_import import images
from glance_import.importer import steps

LOG = logging.getLogger(__name__)


class _InjectMetadata(steps.ImportStep):
    def execute(self, conf, credentials):
        opts = conf.inject_metadata_properties
        roles = set((credentials or {}).get('roles') or [])
        if roles & set(opts.ignore_user_roles):
            return None
        inject = {}
        for key, value in (opts.inject or {}).items():
            if key.startswith(images.RESERVED_PREFIX) or \
                    key in images.BASE_ATTRIBUTES:
                LOG.warning('Not injecting reserved property %s', key)
                continue
            inject[key] = value
        if not inject:
            return None
        image = self.image()
        previous = {k: image.properties.get(k) for k in inject}
        self._previous = previous
        self.save(set_properties=inject)
        return previous

    def revert(self, conf, result, **kwargs):
        # After a failure past the save, the result is lost: use the copy.
        if not isinstance(result, dict):
            result = getattr(self, '_previous', None)
        if result is None:
            return
        try:
            self.save(
                set_properties={k: v for k, v in result.items()
                                if v is not None},
                remove_properties=[k for k, v in result.items()
                                   if v is None])
        except exception.GlanceImportError as e:
            LOG.warning('Could not restore properties of image %s: %s',
                        self.image_id, e)


def get_flow(image_id, task_id, **kwargs):
    return _InjectMetadata(image_id, task_id,
                           name='plugin-inject_image_metadata')

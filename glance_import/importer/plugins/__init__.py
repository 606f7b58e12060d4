"""Import plugins, run after the data is staged and before any store copy.

``[image_import_opts] image_import_plugins`` names them in execution
order; each name is an entry point of the group below whose module offers
``get_flow(image_id=..., task_id=..., method=..., stores=...)`` returning
a taskflow atom. Plugins never run for copy-image.
"""

import logging

from stevedore import named

from glance_import import exception
from glance_import.importer import steps
from glance_import.store import fileio
from glance_import.store import staging

LOG = logging.getLogger(__name__)
NAMESPACE = 'glance_import.image_import.plugins'


def get_plugin_flows(names, **kwargs):
    """The taskflow atoms of the plugins *names*, in that order."""
    if not names:
        return []
    manager = named.NamedExtensionManager(
        NAMESPACE, names=list(names), name_order=True,
        on_missing_entrypoints_callback=_missing)
    return [ext.plugin.get_flow(**kwargs) for ext in manager]


def _missing(names):
    raise exception.ImportTaskError(
        reason='Unknown import plugin(s): %s' % ', '.join(sorted(names)))


class StagedDataRewrite(steps.ImportStep):
    """A plugin step that replaces the staged file with rewritten data.

    ``execute`` keeps the image values it is about to change in
    ``self._previous`` and returns them; ``revert`` removes the step's
    scratch file and puts those values back, also when ``execute`` failed
    after saving.
    """

    scratch_suffix = '.tmp'

    def scratch_path(self, conf):
        """Where the rewritten data is written before it replaces the file."""
        return staging.path(conf, self.image_id) + self.scratch_suffix

    def revert(self, conf, result, **kwargs):
        fileio.unlink_quietly(self.scratch_path(conf))
        if not isinstance(result, dict):
            result = getattr(self, '_previous', None)
        if result is not None:
            try:
                self.save(values=result)
            except exception.GlanceImportError as e:
                LOG.warning('Could not restore image %s after %s: %s',
                            self.image_id, self.name, e)

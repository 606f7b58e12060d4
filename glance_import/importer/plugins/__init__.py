"""Import plugins, run after the data is staged and before any store copy.

``[image_import_opts] image_import_plugins`` names them in execution
order; each name is an entry point of the group below whose module offers
``get_flow(image_id=..., task_id=..., method=..., stores=...)`` returning
a taskflow atom. Plugins never run for copy-image.
"""

from stevedore import named

from glance_import import exception

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

"""Request context: who is calling, on behalf of which project."""

import threading

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    """An oslo.context context whose ``owner`` is the caller's project.

    ``is_admin`` is decided by the ``context_is_admin`` policy when the
    middleware builds the context (see ``policy.context_from_headers``).
    """

    def __init__(self, service_catalog=None, **kwargs):
        super().__init__(**kwargs)
        self.service_catalog = service_catalog

    @property
    def owner(self):
        return self.project_id

    def policy_key(self):
        """The credentials policy decides on, as a hashable tuple.

        The same values as ``to_policy_values()``, read straight from the
        attributes: that mapping is slow to iterate and this runs for
        every policy check.
        """
        return tuple(tuple(v) if type(v) is list else v
                     for v in map(self.__getattribute__, _POLICY_FIELDS))


def admin_context(project_id=None):
    """A context for the service's own maintenance work."""
    return RequestContext(project_id=project_id, roles=['admin'],
                          is_admin=True, overwrite=False)


def _policy_fields():
    """Every policy value is the context attribute of the same name.

    The probe context is made on a thread of its own: oslo.context makes
    a new context the current one of a thread that has none, and log
    lines of this one would carry the probe's request id.
    """
    fields = []
    probe = threading.Thread(target=lambda: fields.extend(
        RequestContext(overwrite=False).to_policy_values()))
    probe.start()
    probe.join()
    return tuple(fields)


_POLICY_FIELDS = _policy_fields()

"""Staging residue: staged files that no image or running import needs
any more, found with one query and removed at start-up or on demand."""

import logging

from glance_import import context as request_context
from glance_import import images as image_domain
from glance_import.db import accounting
from glance_import.store import staging

LOG = logging.getLogger(__name__)


def cleanup(conf) -> list[str]:
    """Remove staged files no image needs; returns the removed paths.

    A file is residue when its image is gone or deleted, or active with
    no import running (a copy-image import stages the data of an active
    image).
    """
    owners = staging.staged_files(conf)
    if not owners:
        return []
    state = accounting.images_import_state(request_context.admin_context(),
                                           owners)
    residue = []
    for image_id, files in owners.items():
        status, busy = state.get(image_id, (None, False))
        if status is not None and (status != image_domain.ACTIVE or busy):
            continue
        residue.extend(files)
    return staging.remove_residue(conf, residue)


def startup_cleanup(conf) -> None:
    """Run ``cleanup`` at service start; never stops the start-up.

    It costs one directory listing and at most one query.
    """
    try:
        cleanup(conf)
    except Exception:
        LOG.exception('Staging cleanup at start-up failed')

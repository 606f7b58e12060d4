"""Start-up steps only the commands take: freezing what is loaded
before forking workers (config and logging are in glance_import.startup)."""

import gc


def freeze_for_fork():
    """Keep the objects loaded so far out of every garbage collection.

    A collection writes to each object it examines; in forked children
    that copies every page of the parent's heap (about 40 MB per child
    for this service). Frozen objects are never examined, so the pages
    stay shared.
    """
    gc.collect()
    gc.freeze()

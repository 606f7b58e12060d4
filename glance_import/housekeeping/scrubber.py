"""The second half of delayed delete: removing the data of pending-delete
images once ``scrub_time`` has passed, and restoring such images.

``scrub`` runs once (``glance-import-manage scrub``, or the periodic
task every API process runs every ``wakeup_time`` seconds while
``delayed_delete`` is on); ``scrub_pool_size`` images are scrubbed at a
time. A location whose store refuses (unreachable, or data in use such
as an RBD image with clones) stays for the next run and keeps its image
``pending_delete``.
"""

import concurrent.futures
import dataclasses
import datetime
import logging
import threading

from glance_import import context
from glance_import import exception
from glance_import.db import models
from glance_import.db import pending_deletes
from glance_import.store import backends

LOG = logging.getLogger(__name__)
PAGE = 1000


@dataclasses.dataclass
class Report:
    scrubbed: int = 0     # images now deleted
    left: int = 0         # images still pending delete (some data kept)


def scrub(conf, now=None):
    """Scrub every image whose ``scrub_time`` has passed; a Report."""
    ctx = context.admin_context()
    now = now or models.utcnow()
    due_before = now - datetime.timedelta(seconds=conf.scrub_time)
    report = Report()
    after = None
    with concurrent.futures.ThreadPoolExecutor(
            max_workers=conf.scrub_pool_size,
            thread_name_prefix='scrubber') as pool:
        while True:
            page = pending_deletes.due(ctx, due_before, limit=PAGE,
                                       after=after)
            if not page:
                break
            for done in pool.map(lambda image: _scrub_image(ctx, image),
                                 page):
                if done:
                    report.scrubbed += 1
                else:
                    report.left += 1
            if len(page) < PAGE:
                break
            after = (page[-1].deleted_at, page[-1].id)
    return report


def _scrub_image(ctx, image):
    LOG.info('Scrubbing image %s from %d locations.', image.id,
             len(image.locations))
    for location in image.locations:
        if not pending_deletes.claim_location(ctx, image.id,
                                              location['id']):
            continue    # another scrubber has it, or it was restored
        try:
            backends.delete(location)
        except exception.GlanceImportError as e:
            LOG.warning('Unable to scrub image %s from %s: %s', image.id,
                        location['url'], e.msg)
            pending_deletes.release_location(ctx, image.id, location['id'])
            continue
        except Exception:
            LOG.exception('Unable to scrub image %s from %s', image.id,
                          location['url'])
            pending_deletes.release_location(ctx, image.id, location['id'])
            continue
        pending_deletes.location_scrubbed(ctx, image.id, location['id'])
    if pending_deletes.finish(ctx, image.id):
        LOG.info('Image %s has been scrubbed successfully', image.id)
        return True
    LOG.warning("One or more image locations couldn't be scrubbed from "
                "backend. Leaving image '%s' in 'pending_delete' status",
                image.id)
    return False


def restore(image_id):
    """Bring pending-delete image *image_id* back ``active``."""
    pending_deletes.restore(context.admin_context(), image_id)
    LOG.info('Image %s restored to active', image_id)


# The periodic task ---------------------------------------------------------

_thread = None
_stopping = threading.Event()


def start(conf):
    """Scrub every ``wakeup_time`` seconds in this process, when
    ``delayed_delete`` is on (several processes may: claims keep them
    apart)."""
    global _thread
    stop()
    if not conf.delayed_delete:
        return
    _stopping.clear()
    _thread = threading.Thread(target=_loop, args=(conf,),
                               name='scrubber', daemon=True)
    _thread.start()


def stop():
    global _thread
    if _thread is None:
        return
    _stopping.set()
    _thread.join(30)
    _thread = None


def _loop(conf):
    while not _stopping.wait(conf.wakeup_time):
        try:
            report = scrub(conf)
        except Exception:
            # The database or a store is away: the next run retries.
            LOG.exception('Scrubbing pending-delete images failed')
            continue
        if report.scrubbed or report.left:
            LOG.info('Scrubber: %d images deleted, %d left pending',
                     report.scrubbed, report.left)

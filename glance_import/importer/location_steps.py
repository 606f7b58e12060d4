"""The steps of a location_import task (POST /v2/images/{id}/locations):
record a location whose data already sits in a store, hash that data,
make the image active.

The data is never ours: a failed task forgets the location but leaves
the data where its owner put it.
"""

import hashlib
import logging

from glance_import import exception
from glance_import import images
from glance_import.db import images as db_images
from glance_import.importer import steps
from glance_import.store import backends
from glance_import.store import external

LOG = logging.getLogger(__name__)


class AddLocation(steps.ImportStep):
    """Check the URL against the stores and record it on the image.

    With *importing* the image moves to ``importing`` until its hash has
    been checked against the caller's validation data.
    """

    def __init__(self, image_id, task_id, url, importing):
        self.url = url
        self.importing = importing
        super().__init__(image_id, task_id)

    def execute(self, conf):
        image = self.image()
        if image.status != images.QUEUED:
            raise exception.ImportTaskError(
                reason="It's not allowed to add locations if image status "
                       "is %s." % image.status)
        quota = conf.image_location_quota
        if 0 <= quota < len(image.locations) + 1:
            raise exception.ImportTaskError(
                reason='Maximum number of image locations exceeded '
                       '(limit %d)' % quota)
        try:
            metadata, size = external.check(conf, self.url, {})
        except external.InvalidLocation:
            raise exception.ImportTaskError(
                reason='Invalid location: %s' % self.url)
        values, from_status = {}, None
        if image.size is None:
            values['size'] = size
        if self.importing:
            values['status'] = images.IMPORTING
            from_status = images.QUEUED
        location_id = self.save(values=values or None,
                                from_status=from_status,
                                location=(self.url, metadata))
        return {'id': location_id, 'url': self.url, 'metadata': metadata}

    def revert(self, conf, result, **kwargs):
        if not isinstance(result, dict):
            return
        try:
            self.image()
        except steps.ImportAborted as e:
            LOG.warning('Not removing location of image %s: %s',
                        self.image_id, e)
            return
        db_images.image_remove_location(steps.admin_ctx(), self.image_id,
                                        result['id'])


class HashLocationData(steps.ImportStep):
    """Read the registered data once and record its checksum and hash.

    With *expected* (the caller's validation data) a different hash
    fails the task, which returns the image to ``queued``. Without it the
    step runs after the image became active and the lock was released:
    the image stays usable, and a failure to read shows as the task's
    failure.
    """

    def __init__(self, image_id, task_id, algo, expected=None):
        self.algo = algo
        self.expected = expected
        super().__init__(image_id, task_id)

    def _current(self):
        if self.expected:
            return self.image()
        try:
            return db_images.image_get(steps.admin_ctx(), self.image_id,
                                       check_visible=False)
        except exception.ImageNotFound:
            return None

    def execute(self, conf):
        image = self._current()
        if image is None or not image.locations:
            LOG.info('Image %s or its data is gone; nothing to hash',
                     self.image_id)
            return
        location = image.locations[0]
        attempts = max(1, conf.http_retries)
        for attempt in range(1, attempts + 1):
            try:
                checksum, value = self._digest(location)
                break
            except steps.ImportAborted:
                raise
            except Exception as e:
                LOG.warning('[%d/%d] Hashing the data of image %s failed: '
                            '%s', attempt, attempts, self.image_id, e)
                error = e
        else:
            raise exception.ImportTaskError(
                reason='Hash calculation failed for image %s data: %s'
                % (self.image_id, error))
        if self.expected and self.expected['os_hash_value'] != value:
            raise exception.ImportTaskError(
                reason='os_hash_value: (%s) not matched with actual '
                       'os_hash_value: (%s)'
                       % (self.expected['os_hash_value'], value))
        values = {'checksum': checksum, 'os_hash_algo': self.algo,
                  'os_hash_value': value}
        if self.expected:
            self.save(values=values)
            return
        try:
            db_images.image_update(steps.admin_ctx(), self.image_id, values,
                                   from_status=images.ACTIVE)
        except (exception.ImageNotFound,
                exception.InvalidImageStatusTransition) as e:
            LOG.info('Hash of image %s not recorded: %s', self.image_id, e)

    def _digest(self, location):
        md5 = hashlib.md5(usedforsecurity=False)
        digest = hashlib.new(self.algo)
        progress = steps.Progress(self.task_id)
        for chunk in progress.wrap(backends.read(location)):
            md5.update(chunk)
            digest.update(chunk)
        return md5.hexdigest(), digest.hexdigest()


class SetActive(steps.ImportStep):
    """The image becomes active, with *values* recorded alongside."""

    def __init__(self, image_id, task_id, values=None):
        self.values = dict(values or {})
        super().__init__(image_id, task_id)

    def execute(self, conf):
        image = self.image()
        if image.status == images.ACTIVE:
            return
        self.save(values=dict(self.values, status=images.ACTIVE),
                  from_status=image.status)

"""The taskflow tasks an import flow is made of.

Every task takes plain data in its constructor (ids, store names, flags)
and finds the configuration, database and stores itself, so a flow can be
rebuilt anywhere from the task row. Each one persists what it does as it
goes and its ``revert`` undoes exactly that, in reverse order:

* ``ImportLock`` owns the import as a whole: its revert (run last) puts a
  non-copy image back to ``queued``, records the stores that did not
  finish in ``os_glance_failed_import`` and drops our lock.
* data tasks fill the staging file; their revert removes it, so a failed
  import never leaves staged data behind an image that is ``queued``.
* ``WriteToStore`` adds one location; its revert deletes that data. The
  data of a signed image is verified on its way to every store.
"""

import logging
import os
import time

from taskflow import task
from taskflow.types import failure as tf_failure

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import import notifications
from glance_import import tasks
from glance_import.db import accounting
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import tasks as db_tasks
from glance_import.importer import remote
from glance_import.importer import uri_filter
from glance_import.quota import unified_limits
from glance_import.store import backends
from glance_import.store import fileio
from glance_import.store import inspection
from glance_import.store import limits
from glance_import.store import signature
from glance_import.store import staging

LOG = logging.getLogger(__name__)

MiB = 1 << 20
PROGRESS_INTERVAL = 1.0
MESSAGE_INTERVAL = 60.0


class ImportAborted(exception.ImportTaskError):
    """The image or our lock went away; stop without touching it."""


def admin_ctx():
    return context.admin_context()


def load_image(image_id, task_id, ctx=None):
    """The image, provided our lock still holds it."""
    try:
        image = db_images.image_get(ctx or admin_ctx(), image_id,
                                    check_visible=False)
    except exception.ImageNotFound:
        raise ImportAborted(reason='Image %s was deleted during the import'
                            % image_id)
    if image.import_lock != task_id:
        raise ImportAborted(
            reason='Import of image %s was taken over by another task'
            % image_id)
    return image


@db_engine.in_transaction
def save(ctx, image_id, task_id, *, values=None, from_status=None,
         done=(), failed=(), set_properties=None, remove_properties=(),
         location=None):
    """Change the image under our lock, in one transaction.

    *done* stores leave os_glance_importing_to_stores; *failed* stores
    leave it and join os_glance_failed_import. With *location*
    ``(url, metadata)`` a location is added together with *values*;
    returns its id.
    """
    db_images.image_lock_row(ctx, image_id)
    image = load_image(image_id, task_id, ctx)
    props = dict(set_properties or {})
    remove = list(remove_properties)
    done, failed = {s for s in done if s}, {s for s in failed if s}
    if done or failed:
        importing = set(images.stores_list(
            image.properties.get(images.IMPORTING_TO_STORES)))
        old_failed = set(images.stores_list(
            image.properties.get(images.FAILED_IMPORT)))
        props[images.IMPORTING_TO_STORES] = images.stores_value(
            importing - done - failed)
        props[images.FAILED_IMPORT] = images.stores_value(old_failed | failed)
    location_id = None
    if location is not None:
        url, metadata = location
        location_id = db_images.image_add_location(
            ctx, image_id, url, metadata, values=values,
            from_status=from_status)
        values, from_status = None, None
    if values or props or remove or from_status:
        db_images.image_update(ctx, image_id, values, from_status=from_status,
                               set_properties=props, remove_properties=remove)
    return location_id


def notify_image(event_type, image_id, **kwargs):
    """*event_type* with the image as it is now (read only if sent)."""
    notifications.image_event(
        event_type, lambda: db_images.image_get(admin_ctx(), image_id,
                                                check_visible=False),
        **kwargs)


class Progress:
    """Counts bytes for the task row, and checks the task is still ours.

    ``progress`` (bytes) is written at most once a second, the Glance-style
    message "Copied N MiB" at most once a minute; a task no longer
    ``processing`` (its lock busted) aborts the copy.
    """

    def __init__(self, task_id, base=0):
        self.task_id = task_id
        self.total = base
        self.phase = 0
        self._last = time.monotonic()
        self._last_message = self._last

    def wrap(self, chunks, copying=False):
        self.phase = 0
        for chunk in chunks:
            self.total += len(chunk)
            self.phase += len(chunk)
            now = time.monotonic()
            if now - self._last >= PROGRESS_INTERVAL:
                values = {'progress': self.total}
                if copying and now - self._last_message >= MESSAGE_INTERVAL:
                    values['message'] = 'Copied %d MiB' % (self.phase // MiB)
                    self._last_message = now
                self._save(values)
                self._last = now
            yield chunk
        self._save({'progress': self.total})

    def add(self, count):
        """Record *count* bytes handled outside ``wrap``."""
        self.total += count
        self._save({'progress': self.total})

    def _save(self, values):
        try:
            db_tasks.task_update(admin_ctx(), self.task_id, values,
                                 from_status=tasks.PROCESSING)
        except exception.Conflict:
            raise ImportAborted(reason='Task %s is no longer processing'
                                % self.task_id)


def _progress_base(task_id):
    try:
        return db_tasks.task_get(admin_ctx(), task_id)['progress'] or 0
    except exception.TaskNotFound:
        return 0


class ImportStep(task.Task):
    """Base: every step knows the image and the task it works for."""

    def __init__(self, image_id, task_id, name=None, **kwargs):
        self.image_id = image_id
        self.task_id = task_id
        super().__init__(name=name or self.default_name(), **kwargs)

    @classmethod
    def default_name(cls):
        return cls.__name__

    def image(self):
        return load_image(self.image_id, self.task_id)

    def save(self, **kwargs):
        return save(admin_ctx(), self.image_id, self.task_id, **kwargs)


# 1. The lock, and the revert of the import as a whole -----------------

class ImportLock(ImportStep):
    """Assert our lock; on failure restore the image and drop the lock."""

    def __init__(self, image_id, task_id, method, stores):
        self.method = method
        self.stores = [s for s in stores if s]
        super().__init__(image_id, task_id)

    def execute(self, conf):
        image = self.image()
        self._enforce_limits(conf, image)

    def _enforce_limits(self, conf, image):
        """Glance's checks at the start of an import, against the project
        that asked for it: the stored total for glance-direct (its staged
        size to come), else the staging total and the uploading count."""
        if not conf.use_keystone_limits:
            return
        ctx = admin_ctx()
        owner = db_tasks.task_get(ctx, self.task_id)['owner']
        if self.method == 'glance-direct':
            unified_limits.enforce_delta_mib(
                conf, ctx, owner, unified_limits.IMAGE_SIZE_TOTAL,
                image.size)
        elif self.method in ('copy-image', 'web-download',
                             'glance-download'):
            unified_limits.enforce_delta_mib(
                conf, ctx, owner, unified_limits.IMAGE_STAGE_TOTAL,
                image.size)
            unified_limits.enforce(conf, ctx, owner,
                                   unified_limits.IMAGE_COUNT_UPLOADING)

    def revert(self, conf, result, **kwargs):
        ctx = admin_ctx()
        try:
            image = load_image(self.image_id, self.task_id, ctx)
        except ImportAborted as e:
            LOG.warning('Not reverting image %s: %s', self.image_id, e)
            return
        unfinished = set(images.stores_list(
            image.properties.get(images.IMPORTING_TO_STORES)))
        failed = unfinished & set(self.stores)
        if self.method == 'copy-image':
            # Every requested store that did not end up with a copy.
            failed |= set(self.stores) - set(image.stores)
        values, from_status = None, None
        # An image this import made active goes back too: the stores'
        # reverts have removed its data.
        if self.method != 'copy-image' and image.status in (
                images.IMPORTING, images.ACTIVE):
            values = {'status': images.QUEUED, 'size': None,
                      'virtual_size': None, 'checksum': None,
                      'os_hash_algo': None, 'os_hash_value': None}
            from_status = image.status
        try:
            self.save(values=values, from_status=from_status, failed=failed)
        except exception.GlanceImportError as e:
            LOG.warning('Could not restore image %s: %s', self.image_id, e)
        # Staged data never outlives a failed import (the image is queued
        # again, or active for copy-image).
        staging.delete(conf, self.image_id)
        if not db_locks.release_import_lock(ctx, self.image_id, self.task_id):
            LOG.warning('Import lock of image %s was already lost',
                        self.image_id)
        notify_image('image.update', self.image_id)


# 2. Acquiring the data into the staging area ---------------------------

class _StagingStep(ImportStep):
    """A step that fills the staging file; its revert removes it."""

    def revert(self, conf, result, **kwargs):
        staging.delete(conf, self.image_id)


class UseStagedData(_StagingStep):
    """glance-direct: the data is already staged; check it is there.

    Our revert removes it: a failed import returns the image to
    ``queued``, and staged data must not outlive that.
    """

    def execute(self, conf):
        path = staging.path(conf, self.image_id)
        if not os.path.isfile(path):
            raise exception.ImportTaskError(
                reason='Staged data of image %s is missing' % self.image_id)


def _write_staging(conf, image_id, task_id, chunks, expected=None):
    progress = Progress(task_id, _progress_base(task_id))
    staging.delete(conf, image_id)
    try:
        return staging.write(conf, image_id, progress.wrap(chunks),
                             conf.image_size_cap, expected_size=expected)
    except exception.BadRequest as e:
        raise exception.ImportTaskError(reason=e.msg)


class WebDownload(_StagingStep):
    """web-download: fetch the URI (filtered, pinned) into staging."""

    def __init__(self, image_id, task_id, uri):
        self.uri = uri
        super().__init__(image_id, task_id)

    def execute(self, conf):
        self.image()
        response = uri_filter.open_url(conf, self.uri)
        _write_staging(conf, self.image_id, self.task_id,
                       response.iter_chunks(conf.image_size_cap),
                       expected=response.length)


class CopyFromStore(_StagingStep):
    """copy-image: read an existing location into staging."""

    def execute(self, conf):
        image = self.image()
        location = _source_location(conf, image)
        _write_staging(conf, self.image_id, self.task_id,
                       backends.read(location), expected=image.size)


def _source_location(conf, image):
    enabled = set(backends.store_ids(conf))
    default = backends.default_store_id(conf)
    ordered = sorted(image.locations,
                     key=lambda loc: loc['metadata'].get('store') != default)
    for loc in ordered:
        if loc['metadata'].get('store') in enabled:
            return loc
    raise exception.ImportTaskError(
        reason='Image %s has no location in a store of this node'
        % image.id)


class RemoteMetadata(ImportStep):
    """glance-download: copy formats and chosen properties of the remote.

    Revert restores the previous formats and properties.
    """

    def __init__(self, image_id, task_id, remote_image_id, region,
                 interface, **kwargs):
        self.remote_image_id = remote_image_id
        self.region = region
        self.interface = interface
        super().__init__(image_id, task_id, **kwargs)

    def execute(self, conf, credentials):
        image = self.image()
        info = remote.image_info(conf, credentials, self.region,
                                 self.interface, self.remote_image_id)
        props = remote.copied_properties(conf, info)
        previous = {'disk_format': image.disk_format,
                    'container_format': image.container_format,
                    'properties': {k: image.properties.get(k)
                                   for k in props}}
        self._previous = previous
        self.save(values={'disk_format': info.get('disk_format'),
                          'container_format': info.get('container_format')},
                  set_properties=props)
        return {'previous': previous, 'size': info.get('size')}

    def revert(self, conf, result, **kwargs):
        # After a failure past the save, the result is lost: use the copy.
        previous = result['previous'] if isinstance(result, dict) else \
            getattr(self, '_previous', None)
        if previous is None:
            return
        props = previous['properties']
        try:
            self.save(values={'disk_format': previous['disk_format'],
                              'container_format':
                                  previous['container_format']},
                      set_properties={k: v for k, v in props.items()
                                      if v is not None},
                      remove_properties=[k for k, v in props.items()
                                         if v is None])
        except exception.GlanceImportError as e:
            LOG.warning('Could not restore image %s: %s', self.image_id, e)


class RemoteDownload(_StagingStep):
    """glance-download: fetch the remote image's data into staging."""

    def __init__(self, image_id, task_id, remote_image_id, region,
                 interface):
        self.remote_image_id = remote_image_id
        self.region = region
        self.interface = interface
        super().__init__(image_id, task_id)

    def execute(self, conf, credentials, remote_info):
        self.image()
        response = remote.open_data(conf, credentials, self.region,
                                    self.interface, self.remote_image_id)
        _write_staging(conf, self.image_id, self.task_id,
                       response.iter_chunks(conf.image_size_cap),
                       expected=remote_info.get('size'))


# 3. Format inspection --------------------------------------------------

class InspectFormat(ImportStep):
    """Refuse data of another format than declared, or unsafe data.

    Runs after the plugins, on exactly the bytes the stores will get.
    Records virtual_size; revert clears it.
    """

    def execute(self, conf):
        image = self.image()
        path = staging.path(conf, self.image_id)
        try:
            verdict = inspection.inspect_file(conf, path, image.disk_format,
                                              image.container_format)
        except exception.InvalidImageData as e:
            raise exception.ImportTaskError(reason=e.msg)
        if verdict.virtual_size is not None:
            self.save(values={'virtual_size': verdict.virtual_size})

    def revert(self, conf, result, **kwargs):
        if isinstance(result, tf_failure.Failure):
            return
        try:
            self.save(values={'virtual_size': None})
        except exception.GlanceImportError:
            pass


# 4. Writing to the stores ---------------------------------------------

def _read_verified(path, hash_algo, verifier):
    """Read the file at *path* once through *verifier*, then verify it;
    returns its size and digests."""
    hasher = fileio.MultiHasher(hash_algo)
    size = 0
    try:
        for chunk in verifier.wrap(fileio.read_chunks(path)):
            hasher.update(chunk)
            size += len(chunk)
    finally:
        checksum, hash_value = hasher.finish()
    verifier.verify()
    return fileio.Written(size, checksum, hash_algo, hash_value)


class WriteToStore(ImportStep):
    """Copy the staged data to one store and record the location.

    The first store's size and hashes are recorded on the image; every
    later store must produce the same ones. With *set_active* the image
    becomes active in the same transaction as the location. With
    *must_succeed* False a failure is recorded and swallowed, except a
    failed signature verification: that fails the import.
    """

    def __init__(self, image_id, task_id, store_id, set_active,
                 must_succeed):
        self.store_id = store_id
        self.set_active = set_active
        self.must_succeed = must_succeed
        super().__init__(image_id, task_id,
                         name='WriteToStore-%s' % (store_id or 'default'))

    def execute(self, conf, credentials=None):
        try:
            return self._write(conf, credentials)
        except (ImportAborted, exception.SignatureVerificationFailed):
            # A bad signature is the data's fault, not the store's: no
            # other store may keep it either.
            raise
        except Exception as e:
            if self.must_succeed:
                raise
            LOG.warning('Import of image %s to store %s failed: %s',
                        self.image_id, self.store_id, e)
            self.save(failed=[self.store_id])
            return None

    def _write(self, conf, credentials):
        image = self.image()
        path = staging.path(conf, self.image_id)
        try:
            size = os.path.getsize(path)
        except OSError:
            raise exception.ImportTaskError(
                reason='Staged data of image %s is missing' % self.image_id)
        if image.size is not None and image.size != size:
            raise exception.ImportTaskError(reason='Image size mismatch')
        if size > conf.image_size_cap:
            raise exception.ImageSizeLimitExceeded()
        remaining = accounting.remaining_quota(conf, admin_ctx(), image.owner,
                                               self.image_id)
        limits.check_declared(size, conf.image_size_cap, remaining)
        verifier = self._verifier(conf, image, credentials)
        backend = {'backend': self.store_id} if conf.enabled_backends else {}
        notifications.image_event('image.prepare', image, with_import=True,
                                  **backend)
        stored = self._store(conf, image, path, size, verifier)
        location = {'url': stored.url, 'metadata': stored.metadata}
        try:
            recorded = self._record(image, stored, location)
        except Exception:
            backends.delete(location)
            raise
        notify_image('image.upload', self.image_id, with_import=True)
        if self.set_active and image.status == images.IMPORTING:
            notify_image('image.activate', self.image_id)
        return recorded

    def _verifier(self, conf, image, credentials):
        """The signature verifier of a signed image (else None), made
        before any byte is written, as the import's caller."""
        if not signature.is_signed(image.properties):
            return None
        if not credentials:
            # Only a resumed flow runs without them: they are never saved.
            raise exception.ImportTaskError(
                reason='Image %s is signed and its signature can only be '
                       'verified with the credentials of the user who '
                       'started the import, which a resumed import does '
                       'not have; import it again' % self.image_id)
        ctx = context.RequestContext(
            auth_token=credentials.get('auth_token'),
            project_id=credentials.get('project_id'),
            roles=list(credentials.get('roles') or []),
            service_catalog=credentials.get('service_catalog'),
            overwrite=False)
        return signature.verifier_for(conf, ctx, self.image_id,
                                      image.properties)

    def _store(self, conf, image, path, size, verifier):
        progress = Progress(self.task_id, _progress_base(self.task_id))
        if self._is_file_store(conf):
            staged = staging.staged_from_image(image)
            if verifier is not None:
                # The link reads nothing: read the file once here, for the
                # signature and for the digests the link reuses.
                staged = _read_verified(path, conf.hashing_algorithm,
                                        verifier)
            # Same filesystem: the staged file is hard-linked, not copied.
            stored = backends.add_from_staged_file(
                conf, self.image_id, path, staged, store_id=self.store_id)
            progress.add(size)
            return stored
        chunks = progress.wrap(fileio.read_chunks(path), copying=True)
        if verifier is not None:
            chunks = verifier.wrap(chunks)
        stored = backends.add(conf, self.image_id, chunks, size=size,
                              store_id=self.store_id)
        if verifier is not None:
            try:
                verifier.verify()
            except exception.SignatureVerificationFailed:
                backends.delete({'url': stored.url,
                                 'metadata': stored.metadata})
                raise
        return stored

    def _is_file_store(self, conf):
        if conf.enabled_backends:
            return backends.store_type(conf, self.store_id) == 'file'
        return conf.glance_store.default_store == 'file'

    def _record(self, image, stored, location):
        if image.checksum is not None and (
                image.checksum != stored.checksum
                or image.os_hash_value != stored.os_hash_value
                or image.size != stored.size):
            raise exception.ImportTaskError(
                reason='Data written to store %s does not match the image '
                       '(size, checksum or hash differ)' % self.store_id)
        values = {'size': stored.size, 'checksum': stored.checksum,
                  'os_hash_algo': stored.os_hash_algo,
                  'os_hash_value': stored.os_hash_value}
        from_status = None
        if self.set_active and image.status == images.IMPORTING:
            values['status'] = images.ACTIVE
            from_status = images.IMPORTING
        location_id = self.save(
            values=values, from_status=from_status, done=[self.store_id],
            location=(stored.url, dict(stored.metadata)))
        return {'id': location_id, 'url': stored.url,
                'metadata': dict(stored.metadata)}

    def revert(self, conf, result, **kwargs):
        try:
            self.image()
        except ImportAborted as e:
            # Someone else owns the image now; its locations are theirs.
            LOG.warning('Not reverting store %s of image %s: %s',
                        self.store_id, self.image_id, e)
            return
        # Also after a failure: the step may have failed after recording
        # its location. The store held no copy before (the API checks).
        for location in self._our_locations(result):
            try:
                db_images.image_remove_location(admin_ctx(), self.image_id,
                                                location['id'])
            finally:
                backends.delete(location)
        if isinstance(result, tf_failure.Failure):
            failed, done = [self.store_id], []
        else:
            failed, done = [], [self.store_id]
        try:
            self.save(failed=failed, done=done)
        except exception.GlanceImportError as e:
            LOG.warning('Could not record store %s of image %s: %s',
                        self.store_id, self.image_id, e)


    def _our_locations(self, result):
        if isinstance(result, dict):
            return [result]
        image = db_images.image_get(admin_ctx(), self.image_id,
                                    check_visible=False)
        return [loc for loc in image.locations
                if loc['metadata'].get('store') == self.store_id]


# 5. Finishing ----------------------------------------------------------

class DeleteStaging(ImportStep):
    """Remove the staged data once every store has its copy."""

    def execute(self, conf):
        try:
            staging.delete(conf, self.image_id)
        except Exception as e:
            LOG.warning('Could not delete staged data of %s: %s',
                        self.image_id, e)


class Complete(ImportStep):
    """The image must be active now; drop our lock."""

    def __init__(self, image_id, task_id, method):
        self.method = method
        super().__init__(image_id, task_id)

    def execute(self, conf):
        image = self.image()
        if image.status != images.ACTIVE:
            raise exception.ImportTaskError(
                reason='None of the uploads finished!')
        db_locks.release_import_lock(admin_ctx(), self.image_id, self.task_id)
        notify_image('image.update', self.image_id)

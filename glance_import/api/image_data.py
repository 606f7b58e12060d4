"""Image data: upload (PUT /file), download (GET /file), stage (PUT
/stage) and removal from one store (DELETE /v2/stores/{store}/{id}).

Bodies are streamed from the server's ``wsgi.input`` in large chunks,
through the size limits (and, for uploads, the format inspectors) into
the store or staging file; nothing is buffered whole. The data of a
signed image is verified on its way to the store (``store.signature``).
A failed upload or stage removes what it wrote and puts the image back
to ``queued``.
"""

import functools
import io
import logging
import re

import webob
from oslo_config import cfg

from glance_import import exception
from glance_import import images
from glance_import import notifications
from glance_import import policy
from glance_import.api import cache_filters
from glance_import.api import util
from glance_import.db import accounting
from glance_import.db import images as db_images
from glance_import.quota import unified_limits
from glance_import.store import backends
from glance_import.store import discovery
from glance_import.store import fileio
from glance_import.store import inspection
from glance_import.store import limits
from glance_import.store import signature
from glance_import.store import staging

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

OCTET_STREAM = 'application/octet-stream'
STORE_HEADER = 'X-Image-Meta-Store'
# Reads of a chunked body: cheroot concatenates (or slices) the client's
# chunks to the size asked for, so moderate reads copy least; the writer
# regroups them into large writes.
_CHUNKED_READ = 256 * 1024

_require_octet_stream = util.require_content(OCTET_STREAM)


# Request bodies --------------------------------------------------------

def _is_chunked(req):
    return 'chunked' in req.headers.get('Transfer-Encoding', '').lower()


def _body_chunks(req):
    """The request body as chunks; a broken or short body is a 400.

    A client that disconnects mid-body surfaces here, which makes the
    writer remove its partial data.
    """
    stream = req.environ['wsgi.input']
    chunked = _is_chunked(req)
    remaining = None if chunked else (req.content_length or 0)
    while remaining is None or remaining > 0:
        want = _CHUNKED_READ if chunked else min(fileio.CHUNK_SIZE,
                                                 remaining)
        try:
            chunk = stream.read(want)
        except Exception as e:  # socket errors, bad chunk framing
            raise exception.BadRequest(
                'Error reading the request body: %s' % e)
        if not chunk:
            if remaining:
                raise exception.BadRequest(
                    'The request body ended %d bytes before its '
                    'Content-Length.' % remaining)
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def _revert_to_queued(ctx, image_id, from_status):
    """Best effort: put an image whose data failed back to queued."""
    try:
        queued = db_images.image_update(ctx, image_id,
                                        {'status': images.QUEUED},
                                        from_status=from_status)
    except exception.GlanceImportError as e:
        LOG.info('Image %s not returned to queued: %s', image_id, e.msg)
        return
    notifications.image_event('image.update', queued)


def _gone(image_id):
    return exception.Gone(
        'Image %s could not be found after upload. The image may have '
        'been deleted during the upload.' % image_id)


# Upload ----------------------------------------------------------------

@_require_octet_stream
def upload_image_data(req, image_id):
    """PUT /v2/images/{id}/file: 204, the image becomes active."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    size = limits.declared_size(req)
    unified_limits.enforce_delta_mib(CONF, ctx, ctx.project_id,
                                     unified_limits.IMAGE_SIZE_TOTAL, size)
    image = util.load_image(ctx, image_id, (policy.UPLOAD_IMAGE,),
                            from_path=False)
    store_id = backends.resolve_store(CONF, req.headers.get(STORE_HEADER))
    images.check_transition(image, images.SAVING)
    remaining = accounting.remaining_quota(CONF, ctx, image.owner, image.id)
    limits.check_declared(size, CONF.image_size_cap, remaining)
    # Before any byte is written: a signed image whose certificate cannot
    # be had is refused at once.
    verifier = signature.verifier_for(CONF, ctx, image.id, image.properties)
    saving = db_images.image_update(ctx, image.id,
                                    {'status': images.SAVING},
                                    from_status=images.QUEUED)
    notifications.image_event('image.update', saving)
    _enforce_uploading_count(ctx, image.id, images.SAVING)
    notifications.image_event('image.prepare', saving, with_import=True,
                              **_backend(store_id))
    stored = None
    try:
        data = limits.LimitedStream(
            _body_chunks(req), cap=CONF.image_size_cap, remaining=remaining,
            expected=size)
        inspector = inspection.StreamInspector(
            CONF, data, image.disk_format, image.container_format)
        stored = backends.add(
            CONF, image.id,
            inspector if verifier is None else verifier.wrap(inspector),
            size=size, store_id=store_id, context=ctx)
        if verifier is not None:
            verifier.verify()
        virtual_size = inspector.verdict(stored.size)
        db_images.image_add_location(
            ctx, image.id, stored.url, stored.metadata,
            from_status=images.SAVING,
            values={'status': images.ACTIVE, 'size': stored.size,
                    'virtual_size': virtual_size,
                    'checksum': stored.checksum,
                    'os_hash_algo': stored.os_hash_algo,
                    'os_hash_value': stored.os_hash_value})
    except BaseException as e:
        if stored is not None:
            backends.delete_all([stored.location], context=ctx)
        if isinstance(e, exception.StoreError):
            # As Glance: the store's failure, as a message, at error level.
            notifications.send(
                'image.upload', 'Failed to upload image data for image %s: '
                '%s' % (image.id, e.msg), notifications.ERROR)
        _revert_to_queued(ctx, image.id, images.SAVING)
        if isinstance(e, exception.ImageNotFound):
            raise _gone(image.id)
        raise
    _notify_uploaded(ctx, image.id)
    return util.empty_response(204)


def _enforce_uploading_count(ctx, image_id, status):
    """image_count_uploading, counted with this image in *status*; over
    it, the image goes back to queued."""
    try:
        unified_limits.enforce(CONF, ctx, ctx.project_id,
                               unified_limits.IMAGE_COUNT_UPLOADING)
    except exception.GlanceImportError:
        _revert_to_queued(ctx, image_id, status)
        raise


def _backend(store_id):
    """The prepare event names the store in a multi-store deployment."""
    return {'backend': store_id} if store_id else {}


def _notify_uploaded(ctx, image_id):
    # Loaded once, and only if one of the events is sent.
    @functools.cache
    def active():
        return db_images.image_get(ctx, image_id, check_visible=False)
    notifications.image_event('image.upload', active, with_import=True)
    notifications.image_event('image.activate', active)
    notifications.image_event('image.update', active)


# Download --------------------------------------------------------------

# Set by glance-import-api's server, whose sendfile moves the file
# position by what it sent.
SENDFILE_COUNTED = 'glance_import.sendfile_counted'

_RANGE = re.compile(r'^bytes=(\d*)-(\d*)$')
_CONTENT_RANGE = re.compile(r'^bytes (\d+)-(\d+)/(\d+|\*)$')


def _unsatisfiable(size):
    return exception.RangeNotSatisfiable(
        headers={'Content-Range': 'bytes */%d' % size})


def _requested_range(req, size):
    """(start, length) of a single requested range, or None for all.

    ``Range`` forms: bytes=a-b, bytes=a-, bytes=-n; a legacy request
    ``Content-Range: bytes a-b/total`` is honoured too. Several ranges
    are a 400; anything unparsable or outside the data is a 416.
    """
    header = req.headers.get('Range')
    if header is not None:
        spec = header.strip()
        if ',' in spec:
            raise exception.BadRequest(
                'Multiple ranges are not supported: %s' % spec[:100])
        match = _RANGE.match(spec)
        if not match or match.groups() == ('', ''):
            raise _unsatisfiable(size)
        first, last = match.groups()
        if not first:
            suffix = int(last)
            if suffix == 0 or size == 0:
                raise _unsatisfiable(size)
            start, end = max(size - suffix, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
            if end < start:
                raise _unsatisfiable(size)
    elif req.headers.get('Content-Range') is not None:
        match = _CONTENT_RANGE.match(req.headers['Content-Range'].strip())
        if not match:
            raise _unsatisfiable(size)
        start, end = int(match.group(1)), int(match.group(2))
        if end < start:
            raise _unsatisfiable(size)
    else:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1) - start + 1


def _ordered_locations(image, prefer=()):
    """Locations of the *prefer* stores first, in that order, then the
    heaviest store first; the first readable one serves."""
    def rank(loc):
        store = loc['metadata'].get('store')
        if store in prefer:
            return (0, prefer.index(store))
        return (1, -discovery.store_weight(CONF, store))
    return sorted(image.locations, key=rank)


def _preferred_stores(req, ctx, image):
    """The stores of ``?prefer=a,b`` (multi-store only; needs the
    download_from_store policy)."""
    values = [v for k, v in util.query_params(req) if k == 'prefer']
    if not values:
        return ()
    if not backends.is_multi_store(CONF):
        raise exception.BadRequest(
            'The prefer parameter needs multiple stores (enabled_backends).')
    prefer = [s.strip() for value in values for s in value.split(',')]
    known = backends.store_ids(CONF)
    for store in prefer:
        if store not in known:
            raise exception.BadRequest(
                'Invalid prefer parameter: store %r is not configured.'
                % store)
    policy.authorize_image(ctx, policy.DOWNLOAD_FROM_STORE, image)
    return tuple(prefer)


class _SentFile(io.FileIO):
    """A file body that calls *on_close* once the server is done with
    it, so work for after the response does not compete with it; and
    *on_sent* with the bytes read from *start* (socket.sendfile moves
    the file position too)."""

    def __init__(self, path, on_close=None):
        super().__init__(path, 'rb')
        self._on_close = on_close
        self.on_sent = None
        self.start = 0

    def close(self):
        on_close, self._on_close = self._on_close, None
        on_sent, self.on_sent = self.on_sent, None
        sent = None if self.closed else self.tell() - self.start
        super().close()
        if on_sent is not None:
            on_sent(sent)
        if on_close is not None:
            on_close()


class _SendReport:
    """The image.send event of one download, sent when its body is done:
    error level when fewer bytes went than the response promised."""

    def __init__(self, ctx, image, expected):
        self.ctx, self.image, self.expected = ctx, image, expected
        self.reported = False

    def done(self, sent):
        if self.reported:
            return
        self.reported = True
        priority = (notifications.INFO if sent == self.expected
                    else notifications.ERROR)
        notifications.send('image.send', {
            'bytes_sent': sent,
            'image_id': self.image.id,
            'owner_id': self.image.owner,
            'receiver_tenant_id': self.ctx.project_id,
            'receiver_user_id': self.ctx.user_id,
        }, priority)

    def handed_whole(self, _position_sent):
        # uwsgi's and mod_wsgi's sendfile leave the file position alone:
        # they were handed the whole body, as Glance counts it.
        self.done(self.expected)

    def counted(self, chunks):
        """*chunks*, counted as they go to the server."""
        sent = 0
        try:
            for chunk in chunks:
                sent += len(chunk)
                yield chunk
        finally:
            close = getattr(chunks, 'close', None)
            if close is not None:
                close()
            self.done(sent)


def _send_file(req, path, offset, length, size, on_close=None, report=None):
    """An app_iter over the local file *path*, or None if it is gone.

    A server-side file wrapper sends to EOF (sendfile): it serves every
    response that runs to the end of the file. *on_close* is called once
    the file is closed (the response sent, or abandoned); *report* hears
    of the bytes sent.
    """
    file_wrapper = req.environ.get('wsgi.file_wrapper')
    try:
        f = _SentFile(path, on_close)  # the server or iterator closes it
    except FileNotFoundError:
        return None
    if file_wrapper and (length is None or offset + length == size):
        f.seek(offset)
        f.start = offset
        if report is not None:
            f.on_sent = (report.done if req.environ.get(SENDFILE_COUNTED)
                         else report.handed_whole)
        return file_wrapper(f, fileio.CHUNK_SIZE)
    data = fileio.read_open(f, offset, length, fileio.CHUNK_SIZE)
    return report.counted(data) if report is not None else data


def _open_data(req, ctx, image, offset, length, prefer=(), cache=None,
               report=None):
    """An app_iter over the first readable location of *image*; with
    *cache*, a whole download also fills the cache; *report* hears of
    the bytes sent."""
    missing = None
    for location in _ordered_locations(image, prefer):
        path = backends.local_path(location)
        if path and req.environ.get('wsgi.file_wrapper'):
            # The cache is filled from the same file once it is sent, so
            # the copy and its verification never slow this download.
            fill = None if cache is None else functools.partial(
                cache.fill_from_file_later, image, path)
            data = _send_file(req, path, offset, length, image.size, fill,
                              report)
            if data is None:
                missing = FileNotFoundError(path)
                continue
            return data
        try:
            data = backends.read(location, offset, length, context=ctx)
        except exception.NotFound as e:
            missing = e
            continue
        except exception.GlanceImportError as e:
            LOG.warning('Cannot read image %s from %s: %s', image.id,
                        location['url'], e.msg)
            missing = missing or e
            continue
        if cache is not None:
            data = cache.fill_through(image, data)
        return report.counted(data) if report is not None else data
    if isinstance(missing, exception.GlanceImportError) and \
            not isinstance(missing, exception.NotFound):
        raise missing
    raise exception.NotFound('Image data for %s could not be found.'
                             % image.id)


@util.no_body
def download_image_data(req, image_id):
    """GET /v2/images/{id}/file: 200, 206 for a range, 204 if no data."""
    ctx = util.context(req)
    image = util.load_image(ctx, image_id, (policy.DOWNLOAD_IMAGE,),
                            from_path=False)
    prefer = _preferred_stores(req, ctx, image)
    if images.data_for_admins_only(image) and not ctx.is_admin:
        raise exception.Forbidden(
            'The requested image has been deactivated. Image data download '
            'is forbidden.')
    if not image.locations:
        return util.empty_response(204)
    size = image.size
    wanted = _requested_range(req, size) if size is not None else None
    offset, length = wanted or (0, size)
    resp = webob.Response(status=206 if wanted else 200,
                          content_type=OCTET_STREAM)
    cache = cache_filters.serving_cache(req)
    cached = cache.cached_path(image) if cache is not None else None
    data = None
    report = (_SendReport(ctx, image, length if length is not None
                          else size)
              if notifications.enabled('image.send') else None)
    if cached:
        data = _send_file(req, cached, offset, length if wanted else None,
                          size, report=report)
    if data is not None:
        cache.record_hit(image.id)
    else:
        # Only a whole download fills the cache, as in Glance.
        data = _open_data(req, ctx, image, offset,
                          length if wanted else None, prefer,
                          cache=None if wanted else cache, report=report)
    resp.app_iter = data
    if length is not None:
        resp.content_length = length
    if image.checksum:
        resp.headers['Content-MD5'] = image.checksum
    if wanted:
        resp.headers['Content-Range'] = 'bytes %d-%d/%d' % (
            offset, offset + length - 1, size)
    return resp


# Stage -----------------------------------------------------------------

def _stage_host(conf):
    return conf.worker_self_reference_url or conf.public_endpoint


def stage_image_data(req, image_id):
    """PUT /v2/images/{id}/stage: 204, the image becomes uploading."""
    if 'glance-direct' not in CONF.enabled_import_methods:
        raise exception.NotFound(
            "'glance-direct' method is not available at this site.")
    return _stage(req, image_id=image_id)


@_require_octet_stream
def _stage(req, image_id):
    ctx = util.context(req)
    util.check_mutating(ctx)
    size = limits.declared_size(req)
    image = util.load_image(ctx, image_id, (policy.MODIFY_IMAGE,),
                            from_path=False)
    images.check_transition(image, images.UPLOADING)
    limits.check_declared(size, CONF.image_size_cap)
    unified_limits.enforce_delta_mib(CONF, ctx, ctx.project_id,
                                     unified_limits.IMAGE_STAGE_TOTAL, size)
    uploading = db_images.image_update(ctx, image.id,
                                       {'status': images.UPLOADING},
                                       from_status=images.QUEUED)
    notifications.image_event('image.update', uploading)
    _enforce_uploading_count(ctx, image.id, images.UPLOADING)
    written = False
    try:
        staged = staging.write(CONF, image.id, _body_chunks(req),
                               CONF.image_size_cap, expected_size=size)
        written = True
        props = staging.stage_properties(staged)
        host = _stage_host(CONF)
        if host:
            props[images.STAGE_HOST] = host
        staged_image = db_images.image_update(
            ctx, image.id, {'size': staged.size},
            from_status=images.UPLOADING, set_properties=props)
    except BaseException as e:
        if written:
            staging.delete(CONF, image.id)
        _revert_to_queued(ctx, image.id, images.UPLOADING)
        if isinstance(e, exception.ImageNotFound):
            raise _gone(image.id)
        raise
    notifications.image_event('image.update', staged_image)
    return util.empty_response(204)


# Removal from one store ------------------------------------------------

@util.no_body
def delete_from_store(req, store_id, image_id):
    """DELETE /v2/stores/{store_id}/{image_id}: 204 (multi-store only)."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    if not backends.is_multi_store(CONF):
        raise exception.NotFound(
            'Multi backend is not supported at this site.')
    if store_id not in backends.store_ids(CONF):
        raise exception.Conflict(
            'The selected store %s is not available on this node.'
            % store_id)
    image = util.load_image(
        ctx, image_id,
        (policy.GET_IMAGE_LOCATION, policy.DELETE_IMAGE_LOCATION),
        from_path=False)
    images.check_store_data_removal(image)
    matching = [loc for loc in image.locations
                if loc['metadata'].get('store') == store_id]
    if not matching:
        raise exception.NotFound('Image %s is not present in store %s.'
                                 % (image_id, store_id))
    if len(image.locations) == len(matching):
        raise exception.Forbidden(
            'Cannot delete image data from the only store containing it. '
            'Consider deleting the image instead if you want to remove all '
            'image data.')
    for location in matching:
        try:
            backends.delete(location, context=ctx)
        except exception.InUseByStore as e:
            # The location stays: the data is still there.
            raise exception.Conflict(
                'The data for Image %s could not be deleted because it is '
                'in use: %s' % (image.id, e.msg))
        db_images.image_remove_location(ctx, image.id, location['id'])
    notifications.image_event('image.update', lambda: db_images.image_get(
        ctx, image.id, check_visible=False))
    return util.empty_response(204)

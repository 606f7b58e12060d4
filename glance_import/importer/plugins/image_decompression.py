"""The image_decompression plugin: unpack zip, gzip or lha staged data.

The format is recognised by its magic number; other data passes through
unchanged, as does any image whose container_format is ``compressed``
(the client asked to keep it). Archives must hold exactly one member. The
output is limited by ``image_size_cap`` (no decompression bombs) and
replaces the staged file atomically.
"""

import gzip
import logging
import os
import zipfile

from glance_import import exception
from glance_import.importer import plugins
from glance_import.store import fileio
from glance_import.store import staging

LOG = logging.getLogger(__name__)

CHUNK = 1 << 20
ZIP_MAGIC = (0, b'PK\x03\x04')
GZIP_MAGIC = (0, b'\x1f\x8b\x08')
LHA_MAGIC = (2, b'-lh')


def detect(path):
    """'zip', 'gzip', 'lha' or None from the first bytes of *path*."""
    with open(path, 'rb') as f:
        head = f.read(8)
    for name, (offset, magic) in (('zip', ZIP_MAGIC), ('gzip', GZIP_MAGIC),
                                  ('lha', LHA_MAGIC)):
        if head[offset:offset + len(magic)] == magic:
            return name
    return None


def _single_member(names, kind):
    if len(names) != 1:
        raise exception.ImportTaskError(
            reason='%s archive must contain exactly one file, not %d'
            % (kind, len(names)))
    return names[0]


def _copy_limited(src, dst_path, cap):
    total = 0
    with open(dst_path, 'wb') as dst:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                raise exception.ImportTaskError(
                    reason='Decompressed image is larger than '
                           'image_size_cap (%d bytes)' % cap)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())


def decompress(kind, path, out_path, cap):
    """Write the single decompressed member of *path* to *out_path*,
    refusing more than *cap* bytes."""
    try:
        if kind == 'gzip':
            with gzip.open(path, 'rb') as src:
                _copy_limited(src, out_path, cap)
        elif kind == 'zip':
            with zipfile.ZipFile(path) as archive:
                member = _single_member(archive.namelist(), 'zip')
                with archive.open(member) as src:
                    _copy_limited(src, out_path, cap)
        else:
            _decompress_lha(path, out_path, cap)
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as e:
        raise exception.ImportTaskError(
            reason='Cannot decompress %s image data: %s' % (kind, e))


def _decompress_lha(path, out_path, cap):
    try:
        import lhafile
    except ImportError:
        raise exception.ImportTaskError(
            reason='Image data is an LHA archive, but LHA support (the '
                   'lhafile library) is not installed')
    archive = lhafile.LhaFile(path)
    member = _single_member(archive.namelist(), 'lha')
    data = archive.read(member)
    if len(data) > cap:
        raise exception.ImportTaskError(
            reason='Decompressed image is larger than image_size_cap')
    with open(out_path, 'wb') as dst:
        dst.write(data)
        os.fsync(dst.fileno())


class _Decompress(plugins.StagedDataRewrite):
    scratch_suffix = '.uc'

    def execute(self, conf):
        image = self.image()
        if image.container_format == 'compressed':
            return None
        path = staging.path(conf, self.image_id)
        kind = detect(path)
        if kind is None:
            return None
        tmp = self.scratch_path(conf)
        try:
            decompress(kind, path, tmp, conf.image_size_cap)
            os.replace(tmp, path)
        finally:
            fileio.unlink_quietly(tmp)
        self._previous = {'size': image.size}
        # The staged digests describe the compressed bytes: drop them.
        self.save(values={'size': os.path.getsize(path)},
                  remove_properties=staging.STAGE_PROPERTIES)
        LOG.info('Decompressed %s data of image %s', kind, self.image_id)
        return {'size': image.size}


def get_flow(image_id, task_id, **kwargs):
    return _Decompress(image_id, task_id, name='plugin-image_decompression')

"""The image_conversion plugin: convert staged data with qemu-img.

Before qemu-img sees the file it must pass our format inspection (declared
format, safety checks) and ``qemu-img info`` run under process limits must
agree: same format, no backing file, no external data file, and only the
VMDK create-types in ``[image_format] vmdk_allowed_types``. Then the file
is converted to ``[image_conversion] output_format`` and atomically
replaces the staged data; the image's disk_format follows. Revert removes
the temporary file and restores the formats.
"""

import json
import logging
import os

from oslo_concurrency import processutils

from glance_import import exception
from glance_import.importer import plugins
from glance_import.store import fileio
from glance_import.store import inspection
from glance_import.store import staging

LOG = logging.getLogger(__name__)

QEMU_IMG = 'qemu-img'
# qemu-img info parses untrusted headers: cap its CPU time and memory.
INFO_LIMITS = processutils.ProcessLimits(cpu_time=2,
                                         address_space=1 << 30)
CONVERT_LIMITS = processutils.ProcessLimits(address_space=2 << 30)


def _refuse(reason):
    raise exception.ImportTaskError(reason=reason)


def qemu_info(conf, path, fmt):
    """``qemu-img info`` as a dict, run under INFO_LIMITS."""
    try:
        out, _err = processutils.execute(
            QEMU_IMG, 'info', '-f', fmt, '--output=json', path,
            prlimit=INFO_LIMITS,
            python_exec=conf.wsgi.python_interpreter or None)
    except processutils.ProcessExecutionError as e:
        _refuse('qemu-img could not read the image as %s: %s'
                % (fmt, (e.stderr or '').strip()[:200]))
    except OSError as e:
        _refuse('qemu-img is not available: %s' % e)
    try:
        return json.loads(out)
    except ValueError:
        _refuse('qemu-img info returned invalid output')


def check_qemu_info(conf, info, fmt):
    """Refuse what qemu-img reports as unsafe for conversion."""
    if info.get('format') != fmt:
        _refuse('Image format %s does not match qemu-img format %s'
                % (fmt, info.get('format')))
    if info.get('backing-filename') or info.get('full-backing-filename'):
        _refuse('Image has a backing file; refusing to convert it')
    specific = (info.get('format-specific') or {}).get('data') or {}
    if specific.get('data-file'):
        _refuse('Image has an external data file; refusing to convert it')
    if fmt == 'vmdk':
        create_type = specific.get('create-type')
        if create_type not in conf.image_format.vmdk_allowed_types:
            _refuse('VMDK create-type %s is not allowed' % create_type)


def convert(conf, path, src_fmt, dst_fmt, out_path):
    try:
        processutils.execute(
            QEMU_IMG, 'convert', '-f', src_fmt, '-O', dst_fmt, path,
            out_path, prlimit=CONVERT_LIMITS,
            python_exec=conf.wsgi.python_interpreter or None)
    except processutils.ProcessExecutionError as e:
        _refuse('qemu-img convert failed: %s'
                % (e.stderr or '').strip()[:200])


class _Convert(plugins.StagedDataRewrite):
    def execute(self, conf):
        image = self.image()
        declared = image.disk_format
        target = conf.image_conversion.output_format
        path = staging.path(conf, self.image_id)
        try:
            verdict = inspection.inspect_file(conf, path, declared, 'bare')
        except exception.InvalidImageData as e:
            _refuse(e.msg)
        if verdict.format == 'iso':
            if declared == 'iso':
                return None
            _refuse('ISO data cannot be converted')
        if declared == 'iso':
            _refuse('Image declared iso does not contain ISO data')
        info = qemu_info(conf, path, declared)
        check_qemu_info(conf, info, declared)
        if declared == target:
            return None
        tmp = self.scratch_path(conf)
        try:
            convert(conf, path, declared, target, tmp)
            try:
                inspection.inspect_file(conf, tmp, target, 'bare')
            except exception.InvalidImageData as e:
                _refuse('Converted image is not valid %s: %s'
                        % (target, e.msg))
            with open(tmp, 'rb+') as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            fileio.unlink_quietly(tmp)
        previous = {'disk_format': image.disk_format,
                    'container_format': image.container_format,
                    'size': image.size}
        self._previous = previous
        # The staged digests describe the old bytes: drop them.
        self.save(values={'disk_format': target, 'container_format': 'bare',
                          'size': os.path.getsize(path)},
                  remove_properties=staging.STAGE_PROPERTIES)
        LOG.info('Converted image %s from %s to %s', self.image_id,
                 declared, target)
        return previous

    def scratch_path(self, conf):
        return '%s.%s' % (staging.path(conf, self.image_id),
                          conf.image_conversion.output_format)


def get_flow(image_id, task_id, **kwargs):
    return _Convert(image_id, task_id, name='plugin-image_conversion')

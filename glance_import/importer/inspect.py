"""Disk format detection and safety checks before data reaches a store.

Uses oslo.utils' format inspector with Glance's rules: the detected
format must match the declared ``disk_format`` and pass its safety checks
(no qcow2 backing or data file, only monolithic VMDK, no QED, sane GPT,
...). Only ``bare`` containers are inspected, as in Glance.
"""

import dataclasses
import logging
import os

from oslo_utils.imageutils import format_inspector

from glance_import import exception

LOG = logging.getLogger(__name__)

READ_CHUNK = 1 << 16


@dataclasses.dataclass
class Verdict:
    """What inspection found: the format name and its virtual size."""

    format: str
    virtual_size: int | None


def _detect(path):
    """All inspectors that match the file (raw when none does)."""
    with open(path, 'rb') as f:
        wrapper = format_inspector.InspectWrapper(f)
        try:
            while True:
                chunk = wrapper.read(READ_CHUNK)
                if not chunk or wrapper.formats is not None:
                    break
        finally:
            wrapper.close()
        return wrapper.formats


def _refuse(reason):
    raise exception.InvalidImageData(reason=reason)


def inspect_file(conf, path, disk_format, container_format='bare'):
    """Check the file at *path* against the declared formats.

    Returns a Verdict; raises InvalidImageData (with a readable reason)
    when the data is not of the declared format or is unsafe. With
    ``[image_format] require_image_format_match = False`` mismatches are
    only logged, but failed safety checks still refuse the data.
    """
    if container_format != 'bare':
        return Verdict(format=disk_format, virtual_size=None)
    strict = conf.image_format.require_image_format_match
    try:
        matches = _detect(path)
    except format_inspector.ImageFormatError as e:
        if strict:
            _refuse('Image format detection failed: %s' % e)
        LOG.warning('Format detection failed for %s: %s', path, e)
        return Verdict(format=disk_format, virtual_size=None)
    names = sorted(str(m) for m in matches)
    if names == ['gpt', 'iso']:
        # Bootable ISOs carry an MBR/GPT boot area.
        matches = [m for m in matches if str(m) == 'iso']
    elif len(matches) > 1:
        if strict:
            _refuse('Image data matches several formats: %s'
                    % ', '.join(names))
        return Verdict(format=disk_format, virtual_size=None)
    detected = matches[0]
    name = str(detected)

    virtual_size = None
    if name == disk_format == 'raw':
        virtual_size = os.path.getsize(path)
    elif name == disk_format:
        virtual_size = detected.virtual_size
    elif name == 'raw' and format_inspector.get_inspector(
            disk_format) is None:
        pass  # ami, ari, aki, ploop: the inspector cannot tell.
    elif disk_format == 'raw':
        LOG.warning('Image declared raw contains %s data', name)
        virtual_size = os.path.getsize(path)
    elif strict:
        _refuse('Image disk_format %s does not match stream data %s'
                % (disk_format, name))
    else:
        LOG.warning('Image disk_format %s does not match stream data %s',
                    disk_format, name)

    _safety_check(conf, detected, name)
    return Verdict(format=name, virtual_size=virtual_size)


def _safety_check(conf, detected, name):
    try:
        detected.safety_check()
    except format_inspector.SafetyCheckFailed as e:
        failures = sorted(e.failures)
        if name == 'gpt':
            tolerated = set(conf.image_format.gpt_safety_checks_nonfatal)
            if set(failures) <= tolerated:
                LOG.warning('Tolerated GPT safety check failures: %s',
                            ', '.join(failures))
                return
        details = '; '.join('%s: %s' % (k, e.failures[k]) for k in failures)
        _refuse('Image failed safety checks (%s): %s' % (name, details))
    except format_inspector.ImageFormatError as e:
        _refuse('Image failed safety checks (%s): %s' % (name, e))

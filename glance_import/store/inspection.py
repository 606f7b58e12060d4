"""Format inspection before image data is kept: one set of rules, applied
to data streaming into a store (upload) and to a staged file (import).

oslo.utils' format inspectors detect the format; the rules are Glance's
for ``bare`` containers (others are not inspected): the detected format
must be the declared ``disk_format`` (raw data under a format the
inspectors do not know, and richer data declared raw, are accepted) and
must pass its safety checks (no qcow2 backing or data file, only
monolithic VMDK, no QED, sane GPT, ...). With ``[image_format]
require_image_format_match = False`` mismatches are only logged, but
failed safety checks still refuse the data. A refusal is
InvalidImageData (415).
"""

import dataclasses
import logging
import os
from collections.abc import Iterable
from collections.abc import Iterator

from oslo_utils.imageutils import format_inspector

from glance_import import exception

LOG = logging.getLogger(__name__)

READ_CHUNK = 1 << 16


@dataclasses.dataclass
class Verdict:
    """What inspection found: the format name and its virtual size."""

    format: str
    virtual_size: int | None


def _refuse(reason):
    """The refusal to raise for *reason*."""
    return exception.InvalidImageData(reason=reason)


def _judge(conf, detect, disk_format, size, path=None) -> Verdict:
    """Apply the rules to what *detect()* matched in *size* bytes.

    *detect* returns the matching inspectors (raw when none matches);
    *path* names the file in the log, when there is one.
    """
    strict = conf.image_format.require_image_format_match
    try:
        matches = detect()
    except format_inspector.ImageFormatError as e:
        if strict:
            raise _refuse('Image format detection failed: %s' % e)
        if path is None:
            LOG.warning('Format detection failed: %s', e)
        else:
            LOG.warning('Format detection failed for %s: %s', path, e)
        return Verdict(format=disk_format, virtual_size=None)
    names = sorted(str(m) for m in matches)
    if names == ['gpt', 'iso']:
        # Bootable ISOs carry an MBR/GPT boot area.
        matches = [m for m in matches if str(m) == 'iso']
    elif len(matches) != 1:
        if strict:
            raise _refuse('Image data matches several formats: %s'
                          % ', '.join(names))
        return Verdict(format=disk_format, virtual_size=None)
    detected = matches[0]
    name = str(detected)

    virtual_size = None
    if name == disk_format == 'raw':
        virtual_size = size
    elif name == disk_format:
        virtual_size = detected.virtual_size
    elif name == 'raw' and not format_inspector.get_inspector(disk_format):
        pass  # ami, ari, aki, ploop: nothing to compare with.
    elif disk_format == 'raw':
        LOG.warning('Image declared raw contains %s data', name)
        virtual_size = size
    elif strict:
        raise _refuse('Image disk_format %s does not match stream data %s'
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
        raise _refuse('Image failed safety checks (%s): %s'
                      % (name, details))
    except format_inspector.ImageFormatError as e:
        raise _refuse('Image failed safety checks (%s): %s' % (name, e))


# A staged file ---------------------------------------------------------

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


def inspect_file(conf, path, disk_format, container_format='bare'):
    """Check the file at *path* against the declared formats.

    Returns a Verdict; raises InvalidImageData (with a readable reason)
    when the data is not of the declared format or is unsafe.
    """
    if container_format != 'bare':
        return Verdict(format=disk_format, virtual_size=None)
    size = os.path.getsize(path)
    return _judge(conf, lambda: _detect(path), disk_format, size, path)


# A stream on its way to a store ----------------------------------------

class StreamInspector:
    """Iterate *chunks* through the format inspectors (bare only).

    Upload sees the data only once, so the inspectors read along with the
    write; ``verdict`` judges once the stream has ended, and the caller
    deletes what was written when it refuses.
    """

    def __init__(self, conf, chunks: Iterable[bytes], disk_format: str,
                 container_format: str | None):
        self.conf = conf
        self.disk_format = disk_format
        self._chunks = chunks
        self._wrapper = None
        if container_format == 'bare':
            expected = None
            # Knowing the declared format lets a mismatch stop the upload
            # early; raw matches anything, so it is not worth naming.
            if conf.image_format.require_image_format_match and \
                    disk_format != 'raw' and \
                    format_inspector.get_inspector(disk_format):
                expected = disk_format
            self._wrapper = format_inspector.InspectWrapper(
                iter(chunks), expected_format=expected)

    def __iter__(self) -> Iterator[bytes]:
        if self._wrapper is None:
            yield from self._chunks
            return
        try:
            yield from self._wrapper
        except (format_inspector.ImageFormatError,
                format_inspector.SafetyCheckFailed) as e:
            raise _refuse('Image disk_format %s does not match stream '
                          'data: %s' % (self.disk_format, e))

    def verdict(self, size: int) -> int | None:
        """Judge the complete stream; returns the virtual size (or None).

        Raises InvalidImageData when the data must not be kept.
        """
        if self._wrapper is None:
            return None
        return _judge(self.conf, lambda: self._wrapper.formats or [],
                      self.disk_format, size).virtual_size

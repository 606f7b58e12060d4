"""Format inspection of image data while it streams into a store.

Upload (PUT /file) sees the data only once, on its way to the store, so
the format inspectors of oslo.utils read along with the write; when the
stream ends, ``verdict`` applies the rules of a ``bare`` container: the
detected format must be the declared ``disk_format`` (raw data under a
format the inspectors do not know, and richer data declared raw, are
accepted) and must pass its safety checks. A refusal is InvalidImageData
(415); the caller then deletes what was written.
"""

import logging
from collections.abc import Iterable
from collections.abc import Iterator

from oslo_utils.imageutils import format_inspector

from glance_import import exception

LOG = logging.getLogger(__name__)


def _refuse(reason):
    return exception.InvalidImageData(reason=reason)


class StreamInspector:
    """Iterate *chunks* through the format inspectors (bare only)."""

    def __init__(self, conf, chunks: Iterable[bytes], disk_format: str,
                 container_format: str | None):
        self.conf = conf
        self.disk_format = disk_format
        self.strict = conf.image_format.require_image_format_match
        self._chunks = chunks
        self._wrapper = None
        if container_format == 'bare':
            expected = None
            # Knowing the declared format lets a mismatch stop the upload
            # early; raw matches anything, so it is not worth naming.
            if self.strict and disk_format != 'raw' and \
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
        try:
            matches = self._wrapper.formats or []
        except format_inspector.ImageFormatError as e:
            if self.strict:
                raise _refuse('Image format detection failed: %s' % e)
            LOG.warning('Format detection failed: %s', e)
            return None
        names = sorted(str(m) for m in matches)
        if names == ['gpt', 'iso']:
            # Bootable ISOs carry an MBR/GPT boot area.
            matches = [m for m in matches if str(m) == 'iso']
        elif len(matches) != 1:
            if self.strict:
                raise _refuse('Image data matches several formats: %s'
                              % ', '.join(names))
            return None
        detected = matches[0]
        name = str(detected)
        declared = self.disk_format
        virtual_size = None
        if name == declared == 'raw':
            virtual_size = size
        elif name == declared:
            virtual_size = detected.virtual_size
        elif name == 'raw' and not format_inspector.get_inspector(declared):
            pass  # ami, ari, aki, ploop: nothing to compare with.
        elif declared == 'raw':
            LOG.warning('Image declared raw contains %s data', name)
            virtual_size = size
        elif self.strict:
            raise _refuse('Image disk_format %s does not match stream data '
                          '%s' % (declared, name))
        else:
            LOG.warning('Image disk_format %s does not match stream data %s',
                        declared, name)
        self._safety_check(detected, name)
        return virtual_size

    def _safety_check(self, detected, name):
        try:
            detected.safety_check()
        except format_inspector.SafetyCheckFailed as e:
            failures = sorted(e.failures)
            tolerated = set(self.conf.image_format.gpt_safety_checks_nonfatal)
            if name == 'gpt' and set(failures) <= tolerated:
                LOG.warning('Tolerated GPT safety check failures: %s',
                            ', '.join(failures))
                return
            details = '; '.join('%s: %s' % (k, e.failures[k])
                                for k in failures)
            raise _refuse('Image failed safety checks (%s): %s'
                          % (name, details))
        except format_inspector.ImageFormatError as e:
            raise _refuse('Image failed safety checks (%s): %s' % (name, e))

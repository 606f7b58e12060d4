"""Size limits enforced while image data streams in.

One wrapper serves upload, stage and import: it counts bytes as they pass
and stops the stream the moment ``image_size_cap`` or the owner's
remaining ``user_storage_quota`` would be exceeded (413), and checks at
the end that the client sent exactly the size it declared (400). Nothing
is buffered. The remaining quota comes from the caller
(``db.accounting.remaining_quota``): the store layer reads no database.
"""

from collections.abc import Iterable
from collections.abc import Iterator

from glance_import import exception

SIZE_HEADER = 'x-openstack-image-size'


def declared_size(req) -> int | None:
    """Size the client announced: x-openstack-image-size, else
    Content-Length; None when unknown (chunked upload)."""
    value = req.headers.get(SIZE_HEADER)
    if value is None:
        return req.content_length
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise exception.BadRequest(
            'Invalid value for %s: %r is not a non-negative integer.'
            % (SIZE_HEADER, value))
    return int(text)


def check_declared(size: int | None, cap: int,
                   remaining: int | None = None) -> None:
    """Refuse early a declared size that can never fit."""
    if size is None:
        return
    if size > cap:
        raise exception.ImageSizeLimitExceeded()
    if remaining is not None and size > remaining:
        raise exception.StorageQuotaFull(image_size=size,
                                         remaining=remaining)


class LimitedStream:
    """Iterate *chunks*, enforcing *cap*, *remaining* and *expected*.

    ``bytes_read`` tells how much passed so far (used for progress).
    """

    def __init__(self, chunks: Iterable[bytes], *, cap: int,
                 remaining: int | None = None, expected: int | None = None):
        check_declared(expected, cap, remaining)
        self._chunks = chunks
        self.cap = cap
        self.remaining = remaining
        self.expected = expected
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.bytes_read += len(chunk)
            if self.bytes_read > self.cap:
                raise exception.ImageSizeLimitExceeded()
            if self.remaining is not None and \
                    self.bytes_read > self.remaining:
                raise exception.StorageQuotaFull(
                    image_size=self.bytes_read, remaining=self.remaining)
            if self.expected is not None and \
                    self.bytes_read > self.expected:
                raise self._mismatch()
            yield chunk
        if self.expected is not None and self.bytes_read != self.expected:
            raise self._mismatch()

    def _mismatch(self):
        return exception.BadRequest(
            'Declared image size %d does not match the %s bytes of data '
            'received.' % (self.expected, 'more than %d' % self.expected
                           if self.bytes_read > self.expected
                           else self.bytes_read))

"""store.limits: size cap, storage quota and declared size while streaming."""

import pytest
import webob

from glance_import import exception
from glance_import.store import limits


def _consume(stream):
    return b''.join(stream)


def test_stream_passes_data_and_counts():
    stream = limits.LimitedStream([b'ab', b'cd'], cap=4, expected=4)
    assert _consume(stream) == b'abcd'
    assert stream.bytes_read == 4


def test_cap_stops_the_stream_at_the_chunk_that_crosses_it():
    seen = []

    def source():
        for chunk in (b'a' * 5, b'b' * 5, b'c' * 5):
            seen.append(chunk)
            yield chunk

    with pytest.raises(exception.ImageSizeLimitExceeded):
        _consume(limits.LimitedStream(source(), cap=9))
    assert len(seen) == 2


def test_quota_remaining():
    with pytest.raises(exception.StorageQuotaFull) as err:
        _consume(limits.LimitedStream([b'x' * 6, b'x' * 6], cap=100,
                                      remaining=10))
    assert err.value.status == 413
    assert '10 bytes remaining' in err.value.msg


@pytest.mark.parametrize('chunks', [[b'x' * 3], [b'x' * 3, b'x' * 3]])
def test_declared_size_must_match(chunks):
    with pytest.raises(exception.BadRequest) as err:
        _consume(limits.LimitedStream(chunks, cap=100, expected=4))
    assert 'Declared image size 4' in err.value.msg


def test_declared_size_checked_before_reading():
    with pytest.raises(exception.ImageSizeLimitExceeded):
        limits.LimitedStream(iter(()), cap=10, expected=11)
    with pytest.raises(exception.StorageQuotaFull):
        limits.check_declared(11, cap=100, remaining=10)
    limits.check_declared(None, cap=1, remaining=0)


@pytest.mark.parametrize('headers,size', [
    ({}, None),
    ({'Content-Length': '12'}, 12),
    ({'Content-Length': '12', 'x-openstack-image-size': ' 7 '}, 7),
])
def test_declared_size_from_headers(headers, size):
    assert limits.declared_size(webob.Request.blank(
        '/', headers=headers)) == size


@pytest.mark.parametrize('value', ['-1', 'ten', '1e3', '', '\u0661'])
def test_bad_size_header_is_400(value):
    req = webob.Request.blank('/', headers={
        'x-openstack-image-size': value})
    with pytest.raises(exception.BadRequest):
        limits.declared_size(req)

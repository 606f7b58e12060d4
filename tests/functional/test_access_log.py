"""Access log lines of the real pipeline under the real server."""

import logging

import pytest

from glance_import.api import access_log
from glance_import.api import middleware
from tests import fixtures
from tests.functional import imageutil

DATA = b'0123456789' * 50000


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines():
    handler = _Lines()
    logger = logging.getLogger(access_log.LOG.name)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def _line(lines, *parts):
    # Written when the server closes the body, just after the client
    # has it.
    return fixtures.wait_until(
        lambda: [line for line in lines if all(p in line for p in parts)],
        timeout=10, message='access log line with %s' % (parts,))


def test_image_list_is_logged(client, access_lines):
    resp = client.get('/v2/images?limit=1')
    assert resp.status_code == 200
    request_id = resp.headers[middleware.REQUEST_ID_HEADER]
    [line] = _line(access_lines, request_id)
    assert line.startswith('127.0.0.1 "GET /v2/images?limit=1 HTTP/1.1" '
                           'status: 200 len: %d time: '
                           % len(resp.content))
    assert line.endswith(' request_id: %s' % request_id)


def test_sendfile_download_is_measured(client, access_lines):
    image_id = imageutil.create(client, disk_format='raw',
                                container_format='bare')['id']
    assert imageutil.upload(client, image_id, DATA).status_code == 204
    path = '/v2/images/%s/file' % image_id
    resp = client.get(path)
    assert resp.content == DATA
    [line] = _line(access_lines, resp.headers[middleware.REQUEST_ID_HEADER])
    assert '"GET %s HTTP/1.1" status: 200 len: %d ' % (path, len(DATA)) \
        in line
    resp = client.get(path, headers={'Range': 'bytes=1000-'})
    assert resp.status_code == 206
    [line] = _line(access_lines, resp.headers[middleware.REQUEST_ID_HEADER])
    assert 'status: 206 len: %d ' % (len(DATA) - 1000) in line

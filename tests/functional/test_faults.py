"""Faults: client mistakes get a specific 4xx, server errors a logged 500.

Every route of the table is also fed malformed input, and none may answer
with a 5xx.
"""

import logging
import re
import uuid

import pytest

from glance_import.api import routes
from tests import fixtures

JSON = {'Content-Type': 'application/json'}
PATCH = {'Content-Type': 'application/openstack-images-v2.1-json-patch'}
# Fixed, so that pytest-xdist workers collect identical test ids.
SOME_ID = '0b6c1d3e-4f5a-4b7c-8d9e-0f1a2b3c4d5e'


def test_unknown_paths_are_404(client):
    for path in ('/v2/nothing', '/v2/images/%s/nothing' % uuid.uuid4(),
                 '/v2/info', '/v2/info/imports', '/v2/schemas/nothing',
                 '/v2/images/%s/tags' % uuid.uuid4()):
        resp = client.get(path)
        assert resp.status_code == 404, path


@pytest.mark.parametrize('method, path, allow', [
    ('DELETE', '/v2/images', 'GET, POST'),
    ('PUT', '/v2/images', 'GET, POST'),
    ('POST', '/v2/images/%s' % SOME_ID, 'DELETE, GET, PATCH'),
    ('POST', '/v2/images/%s/file' % SOME_ID, 'GET, PUT'),
    ('GET', '/v2/images/%s/stage' % SOME_ID, 'PUT'),
    ('GET', '/v2/images/%s/import' % SOME_ID, 'POST'),
    ('DELETE', '/v2/tasks', 'GET, POST'),
    ('PUT', '/v2/schemas/image', 'GET'),
    ('POST', '/v2/info/import', 'GET'),
])
def test_wrong_method_is_405_with_allow(client, method, path, allow):
    resp = client.request(method, path)
    assert resp.status_code == 405
    assert resp.headers['Allow'] == allow


def test_every_route_answers_405_with_its_allow_header(client):
    some_id = str(uuid.uuid4())
    for template, methods in routes.ROUTES.items():
        if not template.startswith('/v2/'):
            continue
        path = re.sub(r'\{[a-z_]+\}', some_id, template)
        unused = {'GET', 'PUT', 'POST', 'PATCH', 'DELETE'} - set(methods)
        for method in sorted(unused):
            resp = client.request(method, path)
            assert resp.status_code == 405, (method, path)
            assert resp.headers['Allow'] == ', '.join(sorted(methods))


def test_wrong_content_type_is_415(client):
    # As in Glance, only PATCH and the data calls check Content-Type;
    # other JSON bodies are parsed whatever it says.
    image = client.post('/v2/images', json={'name': 'f-415'}).json()
    resp = client.patch('/v2/images/%s' % image['id'],
                        data='[]', headers=JSON)
    assert resp.status_code == 415
    resp = client.put('/v2/images/%s/file' % image['id'], data=b'abc',
                      headers=JSON)
    assert resp.status_code == 415
    resp = client.put('/v2/images/%s/stage' % image['id'], data=b'abc',
                      headers={'Content-Type': 'text/plain'})
    assert resp.status_code == 415


@pytest.mark.parametrize('body', [
    b'{bad', b'', b'{"name": "x"', b'[', b'\xff\xfe', b'{"a": NaN}',
    b'{"a": Infinity}', b'"just a string"', b'[]', b'null', b'42',
    b'{"a": "\\ud800"}', b'[' * 5000 + b']' * 5000,
])
def test_malformed_json_is_400(client, body):
    resp = client.post('/v2/images', data=body, headers=JSON)
    assert resp.status_code == 400, (body[:20], resp.status_code, resp.text)


def test_oversized_body_is_413(client):
    body = '{"name": "%s"}' % ('x' * (2 << 20))
    resp = client.post('/v2/images', data=body, headers=JSON)
    assert resp.status_code == 413


def test_oversized_chunked_body_is_413(client):
    def chunks():
        yield b'{"name": "'
        for _ in range(40):
            yield b'x' * 65536
        yield b'"}'
    resp = client.post('/v2/images', data=chunks(), headers=JSON)
    assert resp.status_code == 413


def test_error_body_is_glance_style(client):
    resp = client.get('/v2/images/%s' % uuid.uuid4())
    assert resp.status_code == 404
    assert 'No image found with ID' in resp.text
    assert 'Traceback' not in resp.text


BAD_BODIES = [
    (b'{bad', JSON), (b'[1, 2', PATCH), (b'{"a": [[[[[[]]]]]]}', JSON),
    (b'\x00\x01\x02', {'Content-Type': 'application/octet-stream'}),
    (b'{"method": {"name": 7}}', JSON), (b'[{"op": 1}]', PATCH),
    (b'{"name": null, "id": 5, "tags": "x"}', JSON),
    (b'{"member": ["x"], "status": {}}', JSON),
    (b'{"type": [], "input": "x"}', JSON),
]
ODD_IDS = ['not-a-uuid', '%00', '..', 'x' * 300, '%ff%fe', SOME_ID]


def test_no_route_answers_5xx_to_malformed_input(client):
    """Every method of every route, odd ids and malformed bodies."""
    for template, methods in routes.ROUTES.items():
        for odd in ODD_IDS:
            path = re.sub(r'\{[a-z_]+\}', odd, template)
            for method in methods:
                for body, headers in BAD_BODIES:
                    if method in ('GET', 'DELETE'):
                        body, headers = None, {}
                    resp = client.request(method, path, data=body,
                                          headers=headers,
                                          params={'limit': 'x',
                                                  'marker': odd})
                    assert resp.status_code < 500, (
                        method, path, body, resp.status_code, resp.text)
                    if body is None:
                        break


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _boom(req, **kwargs):
    raise RuntimeError('internal detail 7f3a')


def test_5xx_is_logged_with_traceback_server_side_only(
        service_factory, monkeypatch):
    monkeypatch.setitem(routes.ROUTES['/v2/schemas/image'], 'GET', _boom)
    svc = service_factory()
    handler = _Records()
    logger = logging.getLogger('glance_import')
    logger.addHandler(handler)
    try:
        resp = fixtures.Client(svc.url).get('/v2/schemas/image')
    finally:
        logger.removeHandler(handler)
    assert resp.status_code == 500
    assert 'internal detail 7f3a' not in resp.text
    assert 'Traceback' not in resp.text
    assert 'RuntimeError' not in resp.text
    assert resp.headers['X-Openstack-Request-ID'].startswith('req-')
    logged = [r for r in handler.records if r.exc_info]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    assert isinstance(logged[0].exc_info[1], RuntimeError)
    assert 'GET /v2/schemas/image' in logged[0].getMessage()


def test_4xx_is_not_logged_as_an_error(client):
    handler = _Records()
    logger = logging.getLogger('glance_import')
    logger.addHandler(handler)
    try:
        assert client.get('/v2/images/%s' % uuid.uuid4()).status_code == 404
    finally:
        logger.removeHandler(handler)
    assert not [r for r in handler.records if r.exc_info]

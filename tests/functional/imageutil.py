"""Small helpers shared by the image API tests."""

import html
import uuid

PATCH_V21 = 'application/openstack-images-v2.1-json-patch'
PATCH_V20 = 'application/openstack-images-v2.0-json-patch'


def project():
    """A fresh project id, so tests never see each other's images."""
    return 'p-%s' % uuid.uuid4().hex[:12]


def create(client, **body):
    """POST /v2/images; returns the image JSON (asserts 201)."""
    resp = client.post('/v2/images', json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def patch(client, image_id, ops, media_type=PATCH_V21):
    return client.patch('/v2/images/%s' % image_id, json=ops,
                        headers={'Content-Type': media_type})


def upload(client, image_id, data):
    """PUT /file; returns the response."""
    return client.put('/v2/images/%s/file' % image_id, data=data,
                      headers={'Content-Type': 'application/octet-stream'})


def active_image(client, data=b'x' * 1024, **body):
    """A new image with uploaded data, in status active."""
    body.setdefault('disk_format', 'raw')
    body.setdefault('container_format', 'bare')
    image = create(client, **body)
    resp = upload(client, image['id'], data)
    assert resp.status_code == 204, resp.text
    return client.get('/v2/images/%s' % image['id']).json()


def names(resp):
    return [image['name'] for image in resp.json()['images']]


def ids(resp):
    return [image['id'] for image in resp.json()['images']]


def message(resp):
    """The error text of a response, without HTML escaping."""
    return html.unescape(resp.text)

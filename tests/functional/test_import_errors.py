"""Every refusal of POST /v2/images/{id}/import, with Glance's message.

Each refused request must leave no trace: no task, no status change.
"""

import os
import uuid

import pytest

from tests import fixtures
from tests.functional import importutil as iu

ALL_METHODS = 'glance-direct,web-download,copy-image,glance-download'


@pytest.fixture
def single(service_factory):
    svc = service_factory({'enabled_import_methods': ALL_METHODS})
    return fixtures.Client(svc.url).as_caller(iu.project())


@pytest.fixture
def multi(service_factory, tmp_path):
    svc = service_factory({
        'enabled_import_methods': ALL_METHODS,
        'enabled_backends': 'fast:file,slow:file,web:http',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
    })
    return fixtures.Client(svc.url)


def refused(client, image_id, status, text, body=None, headers=None,
            raw=None):
    before = iu.image(client, image_id) if image_id else None
    tasks_before = [t['id'] for t in iu.tasks(client, image_id)] \
        if image_id else None
    path = '/v2/images/%s/import' % (image_id or uuid.uuid4())
    if raw is not None:
        resp = client.post(path, data=raw, headers=dict(
            headers or {}, **{'Content-Type': 'application/json'}))
    else:
        resp = client.post(path, json=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert text in iu.message(resp), iu.message(resp)
    if image_id:
        after = iu.image(client, image_id)
        assert after['status'] == before['status']
        assert after['updated_at'] == before['updated_at']
        assert [t['id'] for t in iu.tasks(client, image_id)] == \
            tasks_before
    return resp


def staged(client, **kw):
    image = iu.create(client, **kw)
    iu.stage(client, image['id'], b'data')
    return image


def active(client, **kw):
    image = staged(client, **kw)
    assert iu.start_import(client, image['id']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    return iu.image(client, image['id'])


@pytest.mark.parametrize('raw, text', [
    (b'', 'Body expected in request.'),
    (b'{"method": ', 'Malformed JSON in request body.'),
    (b'[]', 'Request body must be an object.'),
    (b'{}', "Import request requires a 'method' field."),
    (b'{"method": {}}', "Import request requires a 'name' field."),
    (b'{"method": "glance-direct"}', "'method' must be an object."),
    (b'{"method": {"name": "nope"}}', "Unknown import method name 'nope'."),
    (b'{"method": {"name": ["x"]}}', "Unknown import method name"),
    (b'{"method": {"name": "glance-direct"}, '
     b'"all_stores_must_succeed": "yes"}',
     "'all_stores_must_succeed' must be boolean value only"),
    (b'{"method": {"name": "glance-direct"}, "all_stores": 1}',
     "'all_stores' must be boolean value only"),
    (b'{"method": {"name": "glance-direct"}, "stores": "fast"}',
     "'stores' must be a list of strings"),
])
def test_malformed_bodies(single, raw, text):
    image = staged(single)
    refused(single, image['id'], 400, text, raw=raw)


def test_method_not_enabled(service_factory):
    svc = service_factory({'enabled_import_methods': 'glance-direct'})
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = iu.create(client)
    refused(client, image['id'], 400,
            "Unknown import method name 'web-download'.",
            {'method': {'name': 'web-download', 'uri': 'http://x/'}})


def test_unknown_image(single):
    refused(single, None, 404, 'No image found with ID',
            {'method': {'name': 'glance-direct'}})
    resp = single.post('/v2/images/not-a-uuid/import',
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 404


def test_status_rules(single):
    queued = iu.create(single)
    uploading = staged(single)
    done = active(single)
    cases = [
        (done, 'glance-direct',
         'Image with status active cannot be target for import'),
        (done, 'web-download',
         'Image with status active cannot be target for import'),
        (queued, 'copy-image',
         'Only images with status active can be targeted for copying'),
        (uploading, 'web-download',
         "Image needs to be in 'queued' state to use 'web-download' "
         "method"),
        (uploading, 'glance-download',
         "Image needs to be in 'queued' state to use 'glance-download' "
         "method"),
        (queued, 'glance-direct',
         "Image needs to be staged before 'glance-direct' method can be "
         "used"),
    ]
    for image, method, text in cases:
        refused(single, image['id'], 409, text,
                {'method': {'name': method, 'uri': 'http://x/'}})


@pytest.mark.parametrize('missing', ['container_format', 'disk_format'])
def test_formats_needed(single, missing):
    body = {'disk_format': 'raw', 'container_format': 'bare'}
    body[missing] = None
    resp = single.post('/v2/images', json={
        k: v for k, v in body.items() if v is not None})
    image = resp.json()
    refused(single, image['id'], 409,
            "'%s' needs to be set before import" % missing,
            {'method': {'name': 'web-download', 'uri': 'http://x/'}})


def test_glance_download_input(single):
    image = iu.create(single)
    rid = str(uuid.uuid4())
    for method, text in [
        ({'glance_image_id': rid},
         "'glance_region' needs to be set for glance-download import "
         "method"),
        ({'glance_region': 'R2'},
         "'glance_image_id' needs to be set for glance-download import "
         "method"),
        ({'glance_region': 'R2', 'glance_image_id': 'abc'},
         'Remote image id does not look like a UUID: abc'),
        ({'glance_region': 'R2', 'glance_image_id': rid,
          'glance_service_interface': 7},
         "'glance_service_interface' must be a string"),
    ]:
        method['name'] = 'glance-download'
        refused(single, image['id'], 400, text, {'method': method})


def test_web_download_needs_uri(single):
    image = iu.create(single)
    refused(single, image['id'], 400,
            'URI for web-download does not pass filtering: None',
            {'method': {'name': 'web-download'}})


@pytest.mark.parametrize('flag', [False, True])
def test_all_stores_must_succeed_is_accepted_on_one_store(single, flag):
    """Glance answers 400 to false here; the stock clients send it."""
    image = staged(single)
    resp = single.post('/v2/images/%s/import' % image['id'], json={
        'method': {'name': 'glance-direct'},
        'all_stores_must_succeed': flag})
    assert resp.status_code == 202, resp.text
    assert iu.wait_status(single, image['id'], 'active')['status'] == \
        'active'


def test_all_stores_must_succeed_must_be_boolean(single):
    image = staged(single)
    refused(single, image['id'], 400,
            "'all_stores_must_succeed' must be boolean value only",
            {'method': {'name': 'glance-direct'},
             'all_stores_must_succeed': 'no'})


def test_policies(single, service_factory):
    owner = single
    image = staged(owner, visibility='shared')
    # A project that cannot see the image: 404.
    stranger = owner.as_caller(iu.project())
    refused(stranger, None, 404, 'No image found',
            {'method': {'name': 'glance-direct'}})
    resp = stranger.post('/v2/images/%s/import' % image['id'],
                         json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 404
    # A reader of the owning project sees it but may not modify it: 403.
    reader = owner.as_caller(owner.headers['X-Project-Id'], roles='reader')
    refused(reader, image['id'], 403, 'modify_image',
            {'method': {'name': 'glance-direct'}})


def test_copy_image_needs_admin(multi):
    project = iu.project()
    owner = multi.as_caller(project)
    image = active(owner)
    refused(owner, image['id'], 403, 'copy_image',
            {'method': {'name': 'copy-image'}, 'stores': ['slow']})


def test_add_task_policy_applies(service_factory, tmp_path):
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"add_task": "role:admin"\n')
    svc = service_factory({'oslo_policy.policy_file': str(policy_file)})
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = staged(client)
    refused(client, image['id'], 403, 'add_task',
            {'method': {'name': 'glance-direct'}})


def test_lock_held(single):
    from glance_import import context
    from glance_import.db import locks as db_locks
    from glance_import.db import tasks as db_tasks
    image = staged(single)
    ctx = context.admin_context()
    task = db_tasks.task_create(ctx, {'type': 'api_image_import',
                                      'owner': 'someone',
                                      'status': 'processing',
                                      'image_id': image['id']})
    db_locks.acquire_import_lock(ctx, image['id'], task['id'])
    refused(single, image['id'], 409, 'Image has active task',
            {'method': {'name': 'glance-direct'}})


def test_store_resolution(multi):
    client = multi.as_caller(iu.project())
    image = staged(client)
    iid = image['id']
    direct = {'name': 'glance-direct'}
    refused(client, iid, 409, 'Store for identifier nope not found',
            {'method': direct, 'stores': ['fast', 'nope']})
    refused(client, iid, 409, 'Store for identifier nope not found',
            {'method': direct}, headers={'X-Image-Meta-Store': 'nope'})
    refused(client, iid, 400,
            "All_stores parameter can't be used with x-image-meta-store "
            "header or stores parameter",
            {'method': direct, 'all_stores': True, 'stores': ['fast']})
    refused(client, iid, 400,
            "All_stores parameter can't be used with x-image-meta-store "
            "header or stores parameter",
            {'method': direct, 'all_stores': True},
            headers={'X-Image-Meta-Store': 'fast'})
    refused(client, iid, 400,
            "Stores parameter and x-image-meta-store header can't be both "
            "specified",
            {'method': direct, 'stores': ['fast']},
            headers={'X-Image-Meta-Store': 'slow'})
    for reserved in ('os_glance_staging_store', 'os_glance_tasks_store'):
        refused(client, iid, 400, 'reserved',
                {'method': direct, 'stores': [reserved]})
    refused(client, iid, 400, "Store 'web' is read-only",
            {'method': direct, 'stores': ['web']})
    refused(client, iid, 400, 'No store to import the image to',
            {'method': direct, 'stores': []})


def test_copy_to_store_already_holding_image(multi):
    image = active(multi)
    refused(multi, image['id'], 400, "Image is already present at store "
            "'fast'", {'method': {'name': 'copy-image'},
                       'stores': ['fast']})


def test_import_disabled_answers_404(service_factory):
    svc = service_factory({'enable_image_import': False})
    client = fixtures.Client(svc.url)
    image = iu.create(client)
    resp = iu.start_import(client, image['id'])
    assert resp.status_code == 404
    assert client.get('/v2/info/import').status_code == 404


def test_import_info(service_factory):
    svc = service_factory({'enabled_import_methods': 'glance-direct'})
    resp = fixtures.Client(svc.url).get('/v2/info/import')
    assert resp.status_code == 200
    assert resp.json() == {'import-methods': {
        'description': 'Import methods available.', 'type': 'array',
        'value': ['glance-direct']}}


def test_refusal_leaves_staging_alone(service_factory):
    svc = service_factory()
    client = fixtures.Client(svc.url).as_caller(iu.project())
    image = staged(client)
    refused(client, image['id'], 400, "Unknown import method name",
            {'method': {'name': 'nope'}})
    assert os.path.exists(os.path.join(svc.directory, 'staging',
                                       image['id']))

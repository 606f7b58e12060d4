"""Delayed delete: images with data go pending_delete and keep it until
the scrubber (``glance-import-manage scrub`` or the API's periodic task)
removes it; ``scrub --restore`` brings one back whole."""

import datetime
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from glance_import import context
from glance_import import exception
from glance_import.db import engine as db_engine
from glance_import.db import models
from glance_import.db import pending_deletes
from glance_import.housekeeping import scrubber
from glance_import.store import backends
from tests import fixtures
from tests.functional import importutil as iu
from tests.functional.imageutil import active_image
from tests.functional.imageutil import create
from tests.functional.imageutil import project

BIN = os.path.dirname(sys.executable)
DATA = b'delayed-delete ' * 1000
# The periodic task stays out of the way unless a test wants it.
QUIET = {'delayed_delete': True, 'wakeup_time': 3600}


def manage(service, *args):
    return subprocess.run(
        [os.path.join(BIN, 'glance-import-manage'), '--config-file',
         service.config_file, *args],
        capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL)


def stored_files(service):
    return sorted(os.listdir(os.path.join(service.directory, 'images')))


def image_row(image_id):
    with db_engine.get_engine().connect() as conn:
        row = conn.execute(sa.select(
            models.Image.status, models.Image.deleted).where(
                models.Image.id == image_id)).one()
        locations = conn.execute(sa.select(
            models.ImageLocation.status).where(
                models.ImageLocation.image_id == image_id)).scalars().all()
    return row.status, row.deleted, sorted(locations)


@pytest.fixture
def service(service_factory):
    return service_factory(QUIET)


@pytest.fixture
def client(service):
    return fixtures.Client(service.url).as_caller(project(), roles='member')


def test_data_stays_until_scrubbed(service, client):
    image = active_image(client, DATA, name='kept', tags=['t'])
    [data_file] = stored_files(service)
    resp = client.delete('/v2/images/%s' % image['id'])
    assert resp.status_code == 204, resp.text
    # Gone from the API at once ...
    assert client.get('/v2/images/%s' % image['id']).status_code == 404
    assert client.get('/v2/images').json()['images'] == []
    # ... while its data waits for the scrubber.
    assert stored_files(service) == [data_file]
    assert image_row(image['id']) == ('pending_delete', True,
                                      ['pending_delete'])
    result = manage(service, 'scrub')
    assert result.returncode == 0, result.stderr
    assert 'Scrubbed 1 images; 0 left pending delete' in result.stdout
    assert stored_files(service) == []
    assert image_row(image['id']) == ('deleted', True, [])
    # Nothing left to do.
    result = manage(service, 'scrub')
    assert 'Scrubbed 0 images' in result.stdout


def test_an_image_without_data_is_deleted_at_once(service, client):
    image = create(client, disk_format='raw', container_format='bare')
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert image_row(image['id']) == ('deleted', True, [])


def test_scrub_time_holds_the_data(service_factory):
    svc = service_factory(dict(QUIET, scrub_time=3600))
    client = fixtures.Client(svc.url).as_caller(project())
    image = active_image(client, DATA)
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert 'Scrubbed 0 images' in manage(svc, 'scrub').stdout
    assert len(stored_files(svc)) == 1
    # An hour later it is due.
    later = models.utcnow() + datetime.timedelta(seconds=3601)
    report = scrubber.scrub(svc.conf, now=later)
    assert (report.scrubbed, report.left) == (1, 0)
    assert stored_files(svc) == []


def test_restore_brings_the_image_back_whole(service, client):
    owner = client
    member_project = project()
    image = active_image(owner, DATA, name='precious', tags=['a', 'b'],
                         x_custom='kept')
    resp = owner.post('/v2/images/%s/members' % image['id'],
                      json={'member': member_project})
    assert resp.status_code == 200, resp.text
    assert owner.delete('/v2/images/%s' % image['id']).status_code == 204
    result = manage(service, 'scrub', '--restore', image['id'])
    assert result.returncode == 0, result.stderr
    assert 'Image %s restored to active' % image['id'] in result.stdout
    back = owner.get('/v2/images/%s' % image['id']).json()
    assert back['status'] == 'active'
    for key in ('name', 'x_custom', 'checksum', 'os_hash_value', 'size'):
        assert back[key] == image[key]
    assert sorted(back['tags']) == ['a', 'b']
    members = owner.get('/v2/images/%s/members' % image['id']).json()
    assert [m['member_id'] for m in members['members']] == [member_project]
    assert iu.download(owner, image['id']) == DATA
    assert image_row(image['id']) == ('active', False, ['active'])
    # The scrubber has nothing to do with it any more.
    assert 'Scrubbed 0 images' in manage(service, 'scrub').stdout
    assert iu.download(owner, image['id']) == DATA


def test_restore_refuses_what_is_not_pending_delete(service, client):
    image = active_image(client, DATA)
    result = manage(service, 'scrub', '--restore', image['id'])
    assert result.returncode == 1
    assert ('cannot restore the image from active to active (wanted '
            'from_state=pending_delete)') in result.stderr
    result = manage(service, 'scrub', '--restore', 'no-such-image')
    assert result.returncode == 1
    assert 'no-such-image' in result.stderr
    assert 'Traceback' not in result.stderr
    # Scrubbed already: nothing to restore.
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert manage(service, 'scrub').returncode == 0
    result = manage(service, 'scrub', '--restore', image['id'])
    assert result.returncode == 1
    assert 'from deleted to active' in result.stderr


def test_restore_refuses_once_the_scrubber_started(service, client):
    image = active_image(client, DATA)
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    ctx = context.admin_context()
    [pending] = pending_deletes.due(ctx, models.utcnow())
    assert pending_deletes.claim_location(ctx, image['id'],
                                          pending.locations[0]['id'])
    # A second scrubber does not get the same location.
    assert not pending_deletes.claim_location(ctx, image['id'],
                                              pending.locations[0]['id'])
    result = manage(service, 'scrub', '--restore', image['id'])
    assert result.returncode == 1
    assert 'the scrubber has already removed data of it' in result.stderr
    assert client.get('/v2/images/%s' % image['id']).status_code == 404


def test_a_store_that_refuses_keeps_the_image_pending(service, client,
                                                      monkeypatch):
    image = active_image(client, DATA)
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    real_delete = backends.delete

    def unreachable(location, context=None):
        raise exception.StoreError('store unreachable')

    monkeypatch.setattr(backends, 'delete', unreachable)
    report = scrubber.scrub(service.conf)
    assert (report.scrubbed, report.left) == (0, 1)
    assert image_row(image['id']) == ('pending_delete', True,
                                      ['pending_delete'])
    assert len(stored_files(service)) == 1
    monkeypatch.setattr(backends, 'delete', real_delete)
    report = scrubber.scrub(service.conf)
    assert (report.scrubbed, report.left) == (1, 0)
    assert stored_files(service) == []


def test_purge_leaves_pending_delete_images_to_the_scrubber(service, client):
    image = active_image(client, DATA)
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    for command in ('purge', 'purge_images_table'):
        result = manage(service, 'db', command, '--age_in_days', '0',
                        '--max_rows', '-1')
        assert result.returncode == 0, result.stderr
    assert image_row(image['id']) == ('pending_delete', True,
                                      ['pending_delete'])
    assert manage(service, 'scrub').returncode == 0
    assert stored_files(service) == []


def test_the_api_scrubs_periodically(service_factory):
    svc = service_factory({'delayed_delete': True, 'wakeup_time': 1})
    client = fixtures.Client(svc.url).as_caller(project())
    images = [active_image(client, DATA) for _ in range(3)]
    assert len(stored_files(svc)) == 3
    for image in images:
        assert client.delete('/v2/images/%s' % image['id']).status_code \
            == 204
    fixtures.wait_until(lambda: stored_files(svc) == [], timeout=30,
                        message='the periodic scrubber')
    for image in images:
        fixtures.wait_until(
            lambda i=image: image_row(i['id'])[0] == 'deleted', timeout=10,
            message='image %s deleted' % image['id'])

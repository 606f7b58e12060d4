"""Make each step of an import fail in turn; the import must fully revert.

A fault is injected in-process either before a step does its work or
right after it (so its revert has real effects to undo). Afterwards the
image is back where it started (queued, or still active for copy-image),
the lock is gone, the failure is recorded, the task failed, and no staged
or stored file is left behind.
"""

import functools
import gzip
import os

import pytest

from glance_import.importer import steps
from glance_import.importer.plugins import image_decompression
from glance_import.importer.plugins import inject_image_metadata
from glance_import.importer.plugins import no_op
from tests import fixtures
from tests.functional import importutil as iu

DATA = os.urandom(256 * 1024)
PLUGINS = 'image_decompression,inject_image_metadata,no_op'

DIRECT_STEPS = [
    ('ImportLock', steps.ImportLock),
    ('UseStagedData', steps.UseStagedData),
    ('image_decompression', image_decompression._Decompress),
    ('inject_image_metadata', inject_image_metadata._InjectMetadata),
    ('no_op', no_op._NoOp),
    ('InspectFormat', steps.InspectFormat),
    ('WriteToStore-fast', steps.WriteToStore),
    ('WriteToStore-slow', steps.WriteToStore),
    ('DeleteStaging', steps.DeleteStaging),
    ('Complete', steps.Complete),
]


class Fault(Exception):
    pass


def inject(monkeypatch, cls, when, store_id=None):
    original = cls.execute

    # wraps keeps the signature, from which taskflow takes the inputs.
    @functools.wraps(original)
    def execute(self, *args, **kwargs):
        if store_id is not None and self.store_id != store_id:
            return original(self, *args, **kwargs)
        if when == 'before':
            raise Fault('injected fault before %s' % self.name)
        original(self, *args, **kwargs)
        raise Fault('injected fault after %s' % self.name)
    monkeypatch.setattr(cls, 'execute', execute)


def multi_store(tmp_path, **extra):
    overrides = {
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
        'image_import_opts.image_import_plugins': PLUGINS,
        'inject_metadata_properties.inject': 'injected_by:test',
        'inject_metadata_properties.ignore_user_roles': '',
    }
    overrides.update(extra)
    return overrides


def check_reverted(client, svc, tmp_path, image_id, fault_name):
    task = iu.wait_task(client, image_id)
    assert task['status'] == 'failure'
    assert fault_name in task['message']
    shown = iu.image(client, image_id)
    assert shown['status'] == 'queued'
    assert shown['size'] is None and shown['checksum'] is None
    assert shown['os_hash_value'] is None
    assert 'os_glance_import_task' not in shown
    assert 'injected_by' not in shown
    assert shown.get('os_glance_importing_to_stores', '') == ''
    failed = set(filter(None, shown.get('os_glance_failed_import',
                                        '').split(',')))
    assert failed <= {'fast', 'slow'}
    assert 'stores' not in shown or shown['stores'] == ''
    assert iu.files_in(os.path.join(svc.directory, 'staging')) == []
    assert iu.files_in(str(tmp_path / 'fast')) == []
    assert iu.files_in(str(tmp_path / 'slow')) == []
    return shown


# Every step failing before and after its own work, except after
# Complete: it is the commit point and nothing follows it.
DIRECT_FAULTS = [(name, cls, when) for name, cls in DIRECT_STEPS
                 for when in ('before', 'after')
                 if (name, when) != ('Complete', 'after')]


@pytest.mark.parametrize('name, cls, when', DIRECT_FAULTS,
                         ids=['%s-%s' % (n, w) for n, _, w in DIRECT_FAULTS])
def test_glance_direct_step_fault(service_factory, tmp_path, monkeypatch,
                                  name, cls, when):
    svc = service_factory(multi_store(tmp_path))
    client = fixtures.Client(svc.url).as_caller(iu.project())
    store = name.split('-', 1)[1] if name.startswith('WriteToStore') \
        else None
    inject(monkeypatch, cls, when, store)
    image = iu.create(client)
    iu.stage(client, image['id'], gzip.compress(DATA))
    resp = iu.start_import(client, image['id'], stores=['fast', 'slow'])
    assert resp.status_code == 202, resp.text
    shown = check_reverted(client, svc, tmp_path, image['id'],
                           'injected fault %s' % when)
    if store == 'slow':
        assert shown['os_glance_failed_import'] == 'slow'
    # The same image imports fine once the fault is gone.
    monkeypatch.undo()
    iu.stage(client, image['id'], gzip.compress(DATA))
    assert iu.start_import(client, image['id'],
                           stores=['fast', 'slow']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    shown = iu.image(client, image['id'])
    assert shown['injected_by'] == 'test'
    assert iu.download(client, image['id']) == DATA


WEB_STEPS = [
    ('WebDownload', steps.WebDownload),
    ('InspectFormat', steps.InspectFormat),
    ('WriteToStore-fast', steps.WriteToStore),
]


@pytest.mark.parametrize('when', ['before', 'after'])
@pytest.mark.parametrize('name, cls', WEB_STEPS,
                         ids=[n for n, _ in WEB_STEPS])
def test_web_download_step_fault(service_factory, tmp_path, monkeypatch,
                                 name, cls, when):
    with iu.http_source({'/img': DATA}) as source:
        svc = service_factory(multi_store(
            tmp_path, **{
                'import_filtering_opts.allowed_hosts': '127.0.0.1',
                'import_filtering_opts.allowed_ports': source.port}))
        client = fixtures.Client(svc.url).as_caller(iu.project())
        inject(monkeypatch, cls, when,
               'fast' if name.startswith('WriteToStore') else None)
        image = iu.create(client)
        resp = iu.start_import(client, image['id'],
                               {'name': 'web-download',
                                'uri': source.url + '/img'},
                               stores=['fast', 'slow'])
        assert resp.status_code == 202, resp.text
        check_reverted(client, svc, tmp_path, image['id'],
                       'injected fault %s' % when)


COPY_STEPS = [
    ('CopyFromStore', steps.CopyFromStore),
    ('WriteToStore-slow', steps.WriteToStore),
    ('DeleteStaging', steps.DeleteStaging),
]


@pytest.mark.parametrize('when', ['before', 'after'])
@pytest.mark.parametrize('name, cls', COPY_STEPS,
                         ids=[n for n, _ in COPY_STEPS])
def test_copy_image_step_fault(service_factory, tmp_path, monkeypatch,
                               name, cls, when):
    svc = service_factory(multi_store(tmp_path))
    client = fixtures.Client(svc.url)  # admin: copy_image policy
    image = iu.create(client)
    iu.stage(client, image['id'], DATA)
    assert iu.start_import(client, image['id']).status_code == 202
    assert iu.wait_task(client, image['id'])['status'] == 'success'
    inject(monkeypatch, cls, when,
           'slow' if name.startswith('WriteToStore') else None)
    resp = iu.start_import(client, image['id'], 'copy-image',
                           stores=['slow'])
    assert resp.status_code == 202, resp.text

    def copy_task():
        found = iu.tasks(client, image['id'])
        return len(found) == 2 and found[0]['status'] in (
            'success', 'failure') and found[0]
    task = fixtures.wait_until(copy_task, message='copy task')
    assert task['status'] == 'failure'
    assert 'injected fault' in task['message']
    shown = iu.image(client, image['id'])
    assert shown['status'] == 'active'
    assert shown['stores'] == 'fast'
    assert shown['os_glance_failed_import'] == 'slow'
    assert shown['os_glance_importing_to_stores'] == ''
    assert 'os_glance_import_task' not in shown
    assert iu.files_in(str(tmp_path / 'slow')) == []
    assert iu.files_in(str(tmp_path / 'fast')) == [image['id']]
    assert iu.files_in(os.path.join(svc.directory, 'staging')) == []
    assert iu.download(client, image['id']) == DATA

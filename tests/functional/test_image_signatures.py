"""Signed images: upload and import verify the data against its signature.

A real ``glance-import-api`` behind the run's Keystone fetches signing
certificates from the run's Barbican (castellan's barbican backend) with
the caller's token. Certificates, keys and signatures (RSA-PSS, SHA-256)
are made here. A good signature makes the image active by every path; a
bad one, an unknown or expired certificate, an unsupported key type or
hash method fail with Glance's message: the upload with a 400, an import
with a failed task. Either way the image is ``queued`` again, without
size or checksum, and no file of it is left in a store or in staging.
"""

import base64
import datetime
import os
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests import fixtures
from tests import keystone as ks
from tests.functional import imageutil
from tests.functional import importutil as iu
from tests.functional import test_crash_recovery

DATA = os.urandom(1024 * 1024 + 7)
STORES = ('fast', 'slow', 'cold')
FAILED = 'Signature verification failed for image %s: %s'
CURSIVE = 'Signature verification for the image failed: %s.'


class Signer:
    """An RSA key, its certificates in Barbican, and signatures."""

    def __init__(self, barbican, persona):
        self.key = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        self.valid = barbican.store_certificate(persona, self.certificate(
            now - datetime.timedelta(minutes=5),
            now + datetime.timedelta(days=1)))
        self.expired_until = now - datetime.timedelta(days=1)
        self.expired = barbican.store_certificate(persona, self.certificate(
            now - datetime.timedelta(days=30), self.expired_until))

    def certificate(self, not_before, not_after):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                             'glance-import image signer')])
        cert = (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(self.key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .sign(self.key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.DER)

    def sign(self, data):
        sha256 = hashes.SHA256()
        raw = self.key.sign(data, padding.PSS(
            mgf=padding.MGF1(sha256), salt_length=padding.PSS.MAX_LENGTH),
            sha256)
        return base64.b64encode(raw).decode()

    def properties(self, data=DATA, certificate=None):
        return {'img_signature': self.sign(data),
                'img_signature_hash_method': 'SHA-256',
                'img_signature_key_type': 'RSA-PSS',
                'img_signature_certificate_uuid': certificate or self.valid}


@pytest.fixture(scope='module')
def source():
    """The web-download server; tests add their files to its routes."""
    with iu.http_source() as server:
        yield server


def _overrides(barbican, directory, source_port):
    overrides = dict(barbican.service_overrides())
    overrides.update({
        'enabled_backends': ','.join('%s:file' % s for s in STORES),
        'glance_store.default_backend': STORES[0],
        'import_filtering_opts.allowed_hosts': ['127.0.0.1'],
        'import_filtering_opts.allowed_ports': [source_port],
    })
    for store in STORES:
        overrides['%s.filesystem_store_datadir' % store] = str(
            directory / store)
    return overrides


@pytest.fixture(scope='module')
def api(keystone, barbican, source, tmp_path_factory, test_db_url):
    directory = tmp_path_factory.mktemp('signatures')
    proc = ks.start_service(keystone, str(directory), test_db_url,
                            _overrides(barbican, directory, source.port))
    yield proc
    proc.stop()


@pytest.fixture(scope='module')
def alpha(keystone, api):
    return keystone.client(api.url, 'alpha-member')


@pytest.fixture(scope='module')
def signer(barbican):
    return Signer(barbican, 'alpha-member')


def residue(api, image_id):
    """Files of *image_id* in any store or in staging."""
    found = []
    for directory in (*STORES, 'staging'):
        found += ['%s/%s' % (directory, name) for name in
                  iu.files_in(os.path.join(api.directory, directory))
                  if image_id in name]
    return found


def assert_back_to_queued(client, api, image_id):
    image = iu.image(client, image_id)
    assert image['status'] == 'queued'
    assert (image['size'], image['checksum'], image['os_hash_value']) == \
        (None, None, None)
    assert 'os_glance_import_task' not in image
    assert residue(api, image_id) == []


# Signed images become active -------------------------------------------

def assert_active_with(client, image_id, data):
    image = iu.image(client, image_id)
    md5, sha512 = iu.digests(data)
    assert (image['status'], image['checksum'], image['os_hash_value'],
            image['size']) == ('active', md5, sha512, len(data))
    assert iu.download(client, image_id) == data
    return image


def test_signed_upload_becomes_active(alpha, signer):
    image = iu.create(alpha, **signer.properties())
    resp = imageutil.upload(alpha, image['id'], DATA)
    assert resp.status_code == 204, resp.text
    assert_active_with(alpha, image['id'], DATA)


def test_signed_glance_direct_import_becomes_active(alpha, api, signer):
    image = iu.create(alpha, **signer.properties())
    iu.stage(alpha, image['id'], DATA)
    assert iu.start_import(alpha, image['id']).status_code == 202
    task = iu.wait_task(alpha, image['id'])
    assert task['status'] == 'success', task['message']
    assert_active_with(alpha, image['id'], DATA)
    assert residue(api, image['id']) == ['fast/%s' % image['id']]


def test_signed_web_download_becomes_active(alpha, source, signer):
    image = iu.create(alpha, **signer.properties())
    path = '/%s.raw' % image['id']
    source.routes[path] = DATA
    resp = iu.start_import(alpha, image['id'], {
        'name': 'web-download', 'uri': source.url + path})
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(alpha, image['id'])
    assert task['status'] == 'success', task['message']
    assert_active_with(alpha, image['id'], DATA)


def test_signed_import_to_several_stores(alpha, api, signer):
    image = iu.create(alpha, **signer.properties())
    iu.stage(alpha, image['id'], DATA)
    resp = iu.start_import(alpha, image['id'], stores=['fast', 'slow'])
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(alpha, image['id'])
    assert task['status'] == 'success', task['message']
    assert assert_active_with(alpha, image['id'], DATA)['stores'] == \
        'fast,slow'


# Each way to fail, by upload and by import -----------------------------

def _tampered():
    data = bytearray(DATA)
    data[len(data) // 2] ^= 0x01
    return bytes(data)


def failure(case, signer):
    """(properties, data, reason) of a failing *case*."""
    props = signer.properties()
    data = DATA
    if case == 'tampered':
        data = _tampered()
        reason = 'Signature verification failed'
    elif case == 'unknown certificate':
        missing = str(uuid.uuid4())
        props['img_signature_certificate_uuid'] = missing
        reason = CURSIVE % ('Certificate not found with ID: %s' % missing)
    elif case == 'expired certificate':
        props['img_signature_certificate_uuid'] = signer.expired
        reason = CURSIVE % (
            'Certificate with ID %s has expired: it was valid until %s'
            % (signer.expired, signer.expired_until.replace(
                microsecond=0).isoformat()))
    elif case == 'unsupported key type':
        props['img_signature_key_type'] = 'RSA-PKCS1'
        reason = CURSIVE % 'Invalid signature key type: RSA-PKCS1'
    else:
        props['img_signature_hash_method'] = 'SHA-1'
        reason = CURSIVE % 'Invalid signature hash method: SHA-1'
    return props, data, reason


CASES = ['tampered', 'unknown certificate', 'expired certificate',
         'unsupported key type', 'unsupported hash method']


@pytest.mark.parametrize('case', CASES)
def test_upload_fails(alpha, api, signer, case):
    props, data, reason = failure(case, signer)
    image = iu.create(alpha, **props)
    resp = imageutil.upload(alpha, image['id'], data)
    assert resp.status_code == 400, resp.text
    assert FAILED % (image['id'], reason) in iu.message(resp)
    assert_back_to_queued(alpha, api, image['id'])


def _import(client, source, image_id, method, data):
    if method == 'glance-direct':
        iu.stage(client, image_id, data)
        return iu.start_import(client, image_id)
    path = '/%s.raw' % image_id
    source.routes[path] = data
    return iu.start_import(client, image_id, {'name': 'web-download',
                                              'uri': source.url + path})


@pytest.mark.parametrize('method', ['glance-direct', 'web-download'])
@pytest.mark.parametrize('case', CASES)
def test_import_fails(alpha, api, source, signer, method, case):
    props, data, reason = failure(case, signer)
    image = iu.create(alpha, **props)
    resp = _import(alpha, source, image['id'], method, data)
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(alpha, image['id'])
    assert task['status'] == 'failure'
    assert task['message'] == FAILED % (image['id'], reason)
    assert_back_to_queued(alpha, api, image['id'])
    assert iu.image(alpha, image['id'])['os_glance_failed_import'] == 'fast'


def test_a_failed_image_imports_once_fixed(alpha, api, signer):
    image = iu.create(alpha, **signer.properties(data=b'other data'))
    iu.stage(alpha, image['id'], DATA)
    iu.start_import(alpha, image['id'])
    assert iu.wait_task(alpha, image['id'])['status'] == 'failure'
    resp = imageutil.patch(alpha, image['id'], [
        {'op': 'replace', 'path': '/img_signature',
         'value': signer.sign(DATA)}])
    assert resp.status_code == 200, resp.text
    resp = imageutil.upload(alpha, image['id'], DATA)
    assert resp.status_code == 204, resp.text
    assert_active_with(alpha, image['id'], DATA)


def test_another_projects_certificate_is_not_found(keystone, api, signer):
    # Barbican refuses beta the certificate of alpha.
    beta = keystone.client(api.url, 'beta-member')
    image = iu.create(beta, **signer.properties())
    resp = imageutil.upload(beta, image['id'], DATA)
    assert resp.status_code == 400, resp.text
    assert 'Signature verification failed for image %s: ' % image['id'] \
        in iu.message(resp)
    assert_back_to_queued(beta, api, image['id'])


# copy-image ------------------------------------------------------------

def test_copy_image_verifies_the_copy(keystone, barbican, api):
    # copy-image is an admin's call; the certificate is the admin's own.
    admin = keystone.client(api.url, 'admin')
    signer = Signer(barbican, 'admin')
    image = iu.create(admin, **signer.properties())
    assert imageutil.upload(admin, image['id'], DATA).status_code == 204

    assert iu.start_import(admin, image['id'], 'copy-image',
                           stores=['slow']).status_code == 202
    task = wait_tasks(admin, image['id'], 1)
    assert task['status'] == 'success', task['message']
    assert iu.image(admin, image['id'])['stores'] == 'fast,slow'

    # The signature no longer matches the data: the next copy fails and
    # the image keeps what it had.
    resp = imageutil.patch(admin, image['id'], [
        {'op': 'replace', 'path': '/img_signature',
         'value': signer.sign(b'other data')}])
    assert resp.status_code == 200, resp.text
    assert iu.start_import(admin, image['id'], 'copy-image',
                           stores=['cold']).status_code == 202
    task = wait_tasks(admin, image['id'], 2)
    assert task['status'] == 'failure'
    assert task['message'] == FAILED % (image['id'],
                                        'Signature verification failed')
    shown = iu.image(admin, image['id'])
    assert (shown['status'], shown['stores']) == ('active', 'fast,slow')
    assert shown['os_glance_failed_import'] == 'cold'
    assert 'os_glance_import_task' not in shown
    assert residue(api, image['id']) == ['fast/%s' % image['id'],
                                         'slow/%s' % image['id']]
    assert iu.download(admin, image['id']) == DATA


def wait_tasks(client, image_id, count):
    """The newest of *count* tasks of the image, once it has finished."""
    def done():
        found = iu.tasks(client, image_id)
        return len(found) == count and found[0]['status'] in (
            'success', 'failure') and found[0]
    return fixtures.wait_until(done, message='copy task')


# An import resumed after a crash ---------------------------------------

def test_resumed_import_without_the_callers_token_fails_cleanly(
        keystone, barbican, signer, tmp_path, test_db_url):
    # Credentials are never saved: the flow a restarted service resumes
    # cannot fetch the certificate, and says so.
    with test_crash_recovery.held_source() as held:
        port = held.server_address[1]
        proc = ks.start_service(keystone, str(tmp_path), test_db_url, {
            **_overrides(barbican, tmp_path, port),
            'taskflow_executor.recovery_interval': 1})
        try:
            client = keystone.client(proc.url, 'alpha-member')
            image = iu.create(client, **signer.properties(data=held.data))
            resp = iu.start_import(client, image['id'], {
                'name': 'web-download',
                'uri': 'http://127.0.0.1:%d/image.raw' % port})
            assert resp.status_code == 202, resp.text
            assert held.holding.wait(30), 'the download never started'
            proc.kill()
            held.release.set()
            proc.start()
            task = iu.wait_task(client, image['id'])
            assert task['status'] == 'failure'
            assert 'credentials of the user who started the import' in \
                task['message']
            assert_back_to_queued(client, proc, image['id'])
        finally:
            proc.stop()


# An import run by a conductor ------------------------------------------

def test_conductor_verifies_with_the_token_of_the_job(
        keystone, barbican, signer, tmp_path, test_db_url):
    # The API posts the job of a signed image with the caller's
    # credentials; the conductor fetches the certificate with them.
    import redis

    from tests.functional import test_conductor

    board = 'gi_sig_%s' % uuid.uuid4().hex[:10]
    db_url = test_db_url or 'sqlite:///%s/shared.sqlite' % tmp_path
    with iu.http_source() as web:
        overrides = {
            **_overrides(barbican, tmp_path, web.port),
            'database.connection': db_url,
            'node_staging_uri': 'file://%s' % (tmp_path / 'staging'),
            'taskflow_executor.jobboard_url': test_conductor.REDIS_URL,
            'taskflow_executor.jobboard_name': board}
        api = ks.start_service(keystone, str(tmp_path), test_db_url,
                               overrides)
        (tmp_path / 'conductor').mkdir()
        conductor = test_conductor.Conductor(
            fixtures.write_config(str(tmp_path / 'conductor'), db_url,
                                  overrides),
            str(tmp_path / 'conductor' / 'conductor.log'))
        try:
            conductor.start()
            client = keystone.client(api.url, 'alpha-member')
            good = iu.create(client, **signer.properties())
            bad = iu.create(client, **signer.properties())
            for image, data in ((good, DATA), (bad, _tampered())):
                path = '/%s.raw' % image['id']
                web.routes[path] = data
                resp = iu.start_import(client, image['id'], {
                    'name': 'web-download', 'uri': web.url + path})
                assert resp.status_code == 202, resp.text
            task = iu.wait_task(client, good['id'])
            assert task['status'] == 'success', task['message']
            assert_active_with(client, good['id'], DATA)
            task = iu.wait_task(client, bad['id'])
            assert task['message'] == FAILED % (
                bad['id'], 'Signature verification failed')
            assert_back_to_queued(client, api, bad['id'])
        finally:
            conductor.stop()
            api.stop()
            client = redis.Redis.from_url(test_conductor.REDIS_URL)
            for key in client.scan_iter(match=board + ':*'):
                client.delete(key)

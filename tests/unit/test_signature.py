"""Image signature verification (store.signature) and its use by imports.

Keys and certificates are made here with ``cryptography``; certificates
come from an in-memory source handed to ``verifier_for``, or from a
castellan key manager class of this module named by ``[key_manager]
backend``: no network.
"""

import base64
import datetime
import os
import uuid

import pytest
from castellan.common import exception as castellan_exception
from castellan.common.objects import opaque_data
from castellan.common.objects import x_509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from cursive import exception as cursive_exception
from oslo_config import cfg

from glance_import import config
from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import.db import images as db_images
from glance_import.importer import jobboard
from glance_import.importer import steps
from glance_import.store import signature
from tests.unit import test_flows

DATA = os.urandom(300 * 1024 + 7)
IMAGE_ID = str(uuid.uuid4())
NOW = datetime.datetime.now(datetime.UTC)
HASHES = {'SHA-224': hashes.SHA224(), 'SHA-256': hashes.SHA256(),
          'SHA-384': hashes.SHA384(), 'SHA-512': hashes.SHA512()}

# The import steps run against test_flows' database and file stores.
env = test_flows.env


def new_key(key_type):
    if key_type == 'RSA-PSS':
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == 'DSA':
        return dsa.generate_private_key(key_size=2048)
    curve = {'ECC_SECP384R1': ec.SECP384R1(),
             'ECC_SECP521R1': ec.SECP521R1()}[key_type]
    return ec.generate_private_key(curve)


def certificate(key, not_before=None, not_after=None):
    """A self-signed certificate of *key*'s public key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'signer')])
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
            .not_valid_after(not_after or NOW + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def sign(key, key_type, data, hash_method='SHA-256'):
    algorithm = HASHES[hash_method]
    if key_type == 'RSA-PSS':
        raw = key.sign(data, padding.PSS(mgf=padding.MGF1(algorithm),
                                         salt_length=padding.PSS.MAX_LENGTH),
                       algorithm)
    elif key_type == 'DSA':
        raw = key.sign(data, algorithm)
    else:
        raw = key.sign(data, ec.ECDSA(algorithm))
    return base64.b64encode(raw).decode()


def properties(key, cert_id, key_type='RSA-PSS', data=DATA,
               hash_method='SHA-256'):
    return {'img_signature': sign(key, key_type, data, hash_method),
            'img_signature_hash_method': hash_method,
            'img_signature_key_type': key_type,
            'img_signature_certificate_uuid': cert_id}


class Certificates:
    """An in-memory certificate source that counts its fetches."""

    def __init__(self, **by_id):
        self.by_id = by_id
        self.fetched = []

    def __call__(self, ctx, certificate_id):
        self.fetched.append((ctx, certificate_id))
        if certificate_id not in self.by_id:
            raise cursive_exception.SignatureVerificationError(
                reason='Certificate not found with ID: %s' % certificate_id)
        return self.by_id[certificate_id]


@pytest.fixture(scope='module')
def rsa_key():
    return new_key('RSA-PSS')


@pytest.fixture
def signed(rsa_key):
    """Properties of DATA signed with rsa_key, and a source holding its
    certificate."""
    cert_id = str(uuid.uuid4())
    return (properties(rsa_key, cert_id),
            Certificates(**{cert_id: certificate(rsa_key)}))


def verifier(props, certificates, ctx=None):
    return signature.verifier_for(cfg.CONF, ctx, IMAGE_ID, props,
                                  certificates)


def chunks(data, size=64 * 1024):
    return [data[i:i + size] for i in range(0, len(data), size)]


def consume(v, data):
    """Pass *data* through *v*; the chunks must come out unchanged."""
    out = list(v.wrap(chunks(data)))
    assert b''.join(out) == data
    v.verify()


def failure_reason(info):
    prefix = 'Signature verification failed for image %s: ' % IMAGE_ID
    assert info.value.msg.startswith(prefix)
    assert info.value.status == 400
    return info.value.msg[len(prefix):]


# Which properties ask for verification --------------------------------

@pytest.mark.parametrize('missing', signature.PROPERTIES)
def test_a_missing_property_means_no_verifier(signed, missing):
    props, certificates = signed
    del props[missing]
    assert not signature.is_signed(props)
    assert verifier(props, certificates) is None
    assert certificates.fetched == []


def test_unsigned_images_make_no_verifier():
    assert verifier({}, Certificates()) is None
    assert verifier(None, Certificates()) is None


# Verification ----------------------------------------------------------

@pytest.mark.parametrize('key_type', ['RSA-PSS', 'ECC_SECP384R1',
                                      'ECC_SECP521R1', 'DSA'])
@pytest.mark.parametrize('hash_method', ['SHA-256', 'SHA-512'])
def test_good_signature_passes(rsa_key, key_type, hash_method):
    key = rsa_key if key_type == 'RSA-PSS' else new_key(key_type)
    cert_id = str(uuid.uuid4())
    certificates = Certificates(**{cert_id: certificate(key)})
    v = verifier(properties(key, cert_id, key_type, hash_method=hash_method),
                 certificates)
    consume(v, DATA)
    assert len(certificates.fetched) == 1


def test_the_certificate_is_fetched_as_the_caller(signed):
    props, certificates = signed
    caller = context.RequestContext(auth_token='token', project_id='p1',
                                    overwrite=False)
    verifier(props, certificates, caller)
    assert certificates.fetched == [
        (caller, props['img_signature_certificate_uuid'])]


@pytest.mark.parametrize('position', [0, len(DATA) // 2, len(DATA) - 1])
def test_a_tampered_byte_fails(signed, position):
    props, certificates = signed
    tampered = bytearray(DATA)
    tampered[position] ^= 0x01
    v = verifier(props, certificates)
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        consume(v, bytes(tampered))
    assert failure_reason(info) == 'Signature verification failed'


def test_missing_data_fails(signed):
    props, certificates = signed
    with pytest.raises(exception.SignatureVerificationFailed):
        consume(verifier(props, certificates), DATA[:-1])


def test_another_key_fails(signed):
    props, _ = signed
    cert_id = props['img_signature_certificate_uuid']
    other = Certificates(**{cert_id: certificate(new_key('RSA-PSS'))})
    v = verifier(props, other)
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        consume(v, DATA)
    assert failure_reason(info) == 'Signature verification failed'


def test_a_signature_of_other_data_fails(rsa_key):
    cert_id = str(uuid.uuid4())
    props = properties(rsa_key, cert_id, data=b'other data')
    v = verifier(props, Certificates(**{cert_id: certificate(rsa_key)}))
    with pytest.raises(exception.SignatureVerificationFailed):
        consume(v, DATA)


# Refused before any data: cursive's reasons ------------------------------

def refused(props, certificates):
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        verifier(props, certificates)
    assert isinstance(info.value.__cause__,
                      cursive_exception.SignatureVerificationError)
    return failure_reason(info)


CURSIVE = 'Signature verification for the image failed: %s.'


@pytest.mark.parametrize('name', ['SHA-1', 'MD5', 'sha-256', ''])
def test_unsupported_hash_method(signed, name):
    props, certificates = signed
    props['img_signature_hash_method'] = name
    assert refused(props, certificates) == \
        CURSIVE % ('Invalid signature hash method: %s' % name)
    assert certificates.fetched == []


@pytest.mark.parametrize('name', ['RSA-PKCS1', 'ECC_SECP256R1', 'rsa-pss'])
def test_unsupported_key_type(signed, name):
    props, certificates = signed
    props['img_signature_key_type'] = name
    assert refused(props, certificates) == \
        CURSIVE % ('Invalid signature key type: %s' % name)
    assert certificates.fetched == []


@pytest.mark.parametrize('declared', ['DSA', 'ECC_SECP384R1'])
def test_key_type_must_match_the_certificate(signed, declared):
    props, certificates = signed
    props['img_signature_key_type'] = declared
    assert refused(props, certificates) == CURSIVE % (
        'Invalid public key type for signature key type: %s' % declared)


@pytest.mark.parametrize('value', ['not base64!', 'abc', 'YWJ'])
def test_bad_base64(signed, value):
    props, certificates = signed
    props['img_signature'] = value
    assert refused(props, certificates) == CURSIVE % (
        'The signature data was not properly encoded using base64')
    assert certificates.fetched == []


def test_empty_signature(signed):
    props, certificates = signed
    props['img_signature'] = ''
    assert refused(props, certificates) == CURSIVE % (
        'Error occurred while creating the verifier')


def test_unknown_certificate(signed):
    props, _ = signed
    cert_id = props['img_signature_certificate_uuid']
    assert refused(props, Certificates()) == CURSIVE % (
        'Certificate not found with ID: %s' % cert_id)


# Validity dates (not checked by Glance) ----------------------------------

def test_expired_certificate(rsa_key):
    cert_id = str(uuid.uuid4())
    until = NOW - datetime.timedelta(days=1)
    cert = certificate(rsa_key, not_before=NOW - datetime.timedelta(days=30),
                       not_after=until)
    certificates = Certificates(**{cert_id: cert})
    reason = refused(properties(rsa_key, cert_id), certificates)
    assert reason == CURSIVE % (
        'Certificate with ID %s has expired: it was valid until %s'
        % (cert_id, cert.not_valid_after_utc.isoformat()))
    # One fetch serves the dates and the key.
    assert len(certificates.fetched) == 1


def test_certificate_not_valid_yet(rsa_key):
    cert_id = str(uuid.uuid4())
    cert = certificate(rsa_key, not_before=NOW + datetime.timedelta(days=1),
                       not_after=NOW + datetime.timedelta(days=30))
    certificates = Certificates(**{cert_id: cert})
    reason = refused(properties(rsa_key, cert_id), certificates)
    assert reason == CURSIVE % (
        'Certificate with ID %s is not valid yet: it is valid from %s'
        % (cert_id, cert.not_valid_before_utc.isoformat()))
    assert len(certificates.fetched) == 1


# The castellan key manager -------------------------------------------------

class FakeKeyManager:
    """A castellan backend (``[key_manager] backend`` names this class)."""

    objects = {}
    calls = []

    def __init__(self, configuration):
        self.conf = configuration

    def get(self, ctx, managed_object_id):
        FakeKeyManager.calls.append((ctx, managed_object_id))
        if managed_object_id == 'broken':
            raise castellan_exception.KeyManagerError(reason='Barbican down')
        if managed_object_id == 'unreachable':
            raise ConnectionError('Keystone unreachable')
        try:
            return self.objects[managed_object_id]
        except KeyError:
            raise castellan_exception.ManagedObjectNotFoundError(
                uuid=managed_object_id)


@pytest.fixture
def key_manager_conf(rsa_key):
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([])
    conf.set_override('backend', __name__ + '.FakeKeyManager',
                      group='key_manager')
    cert = certificate(rsa_key)
    FakeKeyManager.objects = {
        'good': x_509.X509(cert.public_bytes(serialization.Encoding.DER)),
        'opaque': opaque_data.OpaqueData(b'secret'),
        'garbage': x_509.X509(b'not a certificate'),
    }
    FakeKeyManager.calls = []
    return conf


def test_key_manager_options_are_castellans_with_glances_default():
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([])
    assert conf.key_manager.backend == 'barbican'
    assert conf.barbican.auth_endpoint == 'http://localhost/identity/v3'
    assert conf.barbican.barbican_endpoint is None
    assert conf.barbican.barbican_endpoint_type == 'public'
    assert conf.barbican_service_user.auth_type is None


def test_a_glance_key_manager_section_loads(tmp_path):
    path = tmp_path / 'glance-api.conf'
    path.write_text('[key_manager]\nbackend = barbican\n'
                    '[barbican]\nbarbican_endpoint = http://kms:9311/\n'
                    'auth_endpoint = http://keystone/v3\n'
                    'barbican_endpoint_type = internal\nverify_ssl = false\n')
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[str(path)])
    config.check_values(conf)
    assert conf.barbican.barbican_endpoint == 'http://kms:9311/'
    assert conf.barbican.barbican_endpoint_type == 'internal'
    assert conf.barbican.verify_ssl is False


def test_key_manager_certificate(key_manager_conf, rsa_key):
    caller = context.RequestContext(auth_token='t', project_id='p',
                                    overwrite=False)
    fetch = signature.key_manager_certificates(key_manager_conf)
    cert = fetch(caller, 'good')
    assert cert.public_key().public_numbers() == \
        rsa_key.public_key().public_numbers()
    assert FakeKeyManager.calls == [(caller, 'good')]
    v = signature.verifier_for(key_manager_conf, caller, IMAGE_ID,
                               properties(rsa_key, 'good'))
    consume(v, DATA)


@pytest.mark.parametrize('cert_id, reason', [
    ('missing', 'Certificate not found with ID: missing'),
    ('broken', 'Unable to retrieve certificate with ID: broken'),
    ('unreachable', 'Unable to retrieve certificate with ID: unreachable'),
    ('opaque', 'Invalid certificate format: Opaque'),
    ('garbage', 'Certificate with ID garbage is not a valid X.509 '
                'certificate'),
])
def test_key_manager_refusals(key_manager_conf, rsa_key, cert_id, reason):
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        signature.verifier_for(key_manager_conf, None, IMAGE_ID,
                               properties(rsa_key, cert_id))
    assert failure_reason(info) == CURSIVE % reason


# Import steps ----------------------------------------------------------

CREDENTIALS = {'auth_token': 'token', 'project_id': 'p1',
               'roles': ['member'], 'service_catalog': None}


@pytest.fixture
def key_source(monkeypatch, rsa_key):
    """The certificate source the import steps get, holding rsa_key's."""
    cert_id = str(uuid.uuid4())
    source = Certificates(**{cert_id: certificate(rsa_key)})
    monkeypatch.setattr(signature, 'key_manager_certificates',
                        lambda conf: source)
    source.cert_id = cert_id
    return source


def signed_import(ctx, rsa_key, cert_id, data=DATA, stores=('fast',)):
    image_id, task_id = test_flows.new_import(ctx, data=data,
                                              stores=stores)
    db_images.image_update(ctx, image_id, None,
                           set_properties=properties(rsa_key, cert_id))
    return image_id, task_id


@pytest.fixture(params=['linked', 'streamed'])
def write_path(request, monkeypatch):
    """Both ways to a store: a hard link of the staged file, or a copy
    streamed through the store's writer (as to a remote store)."""
    if request.param == 'streamed':
        monkeypatch.setattr(steps.WriteToStore, '_is_file_store',
                            lambda self, conf: False)
    return request.param


def test_signed_import_writes_and_activates(env, write_path, key_source,
                                            rsa_key):
    ctx = context.admin_context()
    image_id, task_id = signed_import(ctx, rsa_key, key_source.cert_id)
    step = steps.WriteToStore(image_id, task_id, 'fast', set_active=True,
                              must_succeed=True)
    step.execute(cfg.CONF, CREDENTIALS)
    image = test_flows.get(ctx, image_id)
    assert image.status == images.ACTIVE
    assert image.size == len(DATA)
    with open(env / 'fast' / image_id, 'rb') as f:
        assert f.read() == DATA
    [(caller, cert_id)] = key_source.fetched
    assert (caller.auth_token, caller.project_id, cert_id) == (
        'token', 'p1', key_source.cert_id)


@pytest.mark.parametrize('must_succeed', [True, False])
def test_bad_signature_fails_the_import_and_writes_nothing(
        env, write_path, key_source, rsa_key, must_succeed):
    ctx = context.admin_context()
    image_id, task_id = signed_import(ctx, rsa_key, key_source.cert_id,
                                      data=DATA[::-1])
    step = steps.WriteToStore(image_id, task_id, 'fast', set_active=True,
                              must_succeed=must_succeed)
    # Even where a store may fail alone: the data is bad for every store.
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        step.execute(cfg.CONF, CREDENTIALS)
    assert info.value.msg == ('Signature verification failed for image %s: '
                              'Signature verification failed' % image_id)
    assert os.listdir(env / 'fast') == []
    image = test_flows.get(ctx, image_id)
    assert image.locations == []
    assert image.checksum is None
    assert image.status == images.IMPORTING


def test_unknown_certificate_fails_before_writing(env, write_path,
                                                  key_source, rsa_key,
                                                  monkeypatch):
    from glance_import.store import backends
    ctx = context.admin_context()
    image_id, task_id = signed_import(ctx, rsa_key, 'not-there')

    def no_write(*args, **kwargs):
        raise AssertionError('nothing may be written')
    monkeypatch.setattr(backends, 'add', no_write)
    monkeypatch.setattr(backends, 'add_from_staged_file', no_write)
    step = steps.WriteToStore(image_id, task_id, 'fast', set_active=True,
                              must_succeed=True)
    with pytest.raises(exception.SignatureVerificationFailed) as info:
        step.execute(cfg.CONF, CREDENTIALS)
    assert 'Certificate not found with ID: not-there' in info.value.msg


@pytest.mark.parametrize('credentials', [None, {}])
def test_a_resumed_signed_import_without_credentials_fails(
        env, key_source, rsa_key, credentials):
    ctx = context.admin_context()
    image_id, task_id = signed_import(ctx, rsa_key, key_source.cert_id)
    step = steps.WriteToStore(image_id, task_id, 'fast', set_active=True,
                              must_succeed=True)
    with pytest.raises(exception.ImportTaskError) as info:
        step.execute(cfg.CONF, credentials)
    assert 'credentials of the user who started the import' in \
        info.value.msg
    assert key_source.fetched == []
    assert os.listdir(env / 'fast') == []


def test_unsigned_import_needs_no_credentials(env, key_source):
    ctx = context.admin_context()
    image_id, task_id = test_flows.new_import(ctx, stores=['fast'])
    steps.WriteToStore(image_id, task_id, 'fast', set_active=True,
                       must_succeed=True).execute(cfg.CONF, {})
    assert test_flows.get(ctx, image_id).status == images.ACTIVE
    assert key_source.fetched == []


def test_jobs_of_signed_images_carry_the_credentials(env, rsa_key):
    ctx = context.admin_context()
    signed_id, _ = signed_import(ctx, rsa_key, 'cert')
    plain_id, _ = test_flows.new_import(ctx)
    assert jobboard._acts_as_caller({'method': 'glance-direct',
                                     'image_id': signed_id})
    assert not jobboard._acts_as_caller({'method': 'web-download',
                                         'image_id': plain_id})
    assert jobboard._acts_as_caller({'method': 'glance-download',
                                     'image_id': plain_id})

"""The test Barbican stores certificates that castellan fetches back.

What the service does to verify an image signature: castellan's barbican
backend, configured by ``Barbican.service_overrides()``, fetches the
signing certificate with the user's token.
"""

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests import fixtures


def self_signed_certificate():
    """DER bytes of a fresh self-signed RSA certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         'glance-import signing test')])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope='module')
def certificate(barbican):
    der = self_signed_certificate()
    return der, barbican.store_certificate('alpha-member', der)


def test_member_reads_back_its_certificate(barbican, certificate):
    der, secret_id = certificate
    resp = barbican.payload('alpha-member', secret_id)
    assert resp.status_code == 200, resp.text
    assert ssl.PEM_cert_to_DER_cert(resp.content.decode('ascii')) == der


def test_other_project_cannot_read_it(barbican, certificate):
    _, secret_id = certificate
    assert barbican.payload('beta-member', secret_id).status_code in (403,
                                                                     404)


def test_key_manager_in_catalog(barbican, keystone):
    services = keystone._admin('GET', '/services',
                               params={'type': 'key-manager'})['services']
    endpoints = keystone._admin('GET', '/endpoints', params={
        'service_id': services[0]['id']})['endpoints']
    assert sorted((e['interface'], e['url'], e['region_id'])
                  for e in endpoints) == [
        (interface, barbican.url, 'RegionOne')
        for interface in ('admin', 'internal', 'public')]


def test_castellan_fetches_it_with_the_user_token(barbican, keystone,
                                                  certificate, tmp_path):
    from castellan import key_manager
    from oslo_config import cfg
    from oslo_context import context

    der, secret_id = certificate
    # The overrides reach castellan through a config file, as they reach
    # the service.
    config_file = fixtures.write_config(str(tmp_path), None,
                                        barbican.service_overrides())
    conf = cfg.ConfigOpts()
    conf(['--config-file', config_file], project='glance-import-test')
    manager = key_manager.API(conf)
    ctx = context.RequestContext(
        auth_token=keystone.token('alpha-member'),
        project_id=keystone.projects['alpha'])
    fetched = manager.get(ctx, secret_id)
    assert fetched.get_encoded() == der
    assert x509.load_der_x509_certificate(fetched.get_encoded())

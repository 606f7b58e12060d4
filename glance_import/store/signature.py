"""Image signature verification, Glance's way: cursive over castellan.

An image whose properties hold all four of ``img_signature``,
``img_signature_hash_method``, ``img_signature_key_type`` and
``img_signature_certificate_uuid`` is signed. Its verifier is made before
any byte is written (so a bad property or an unknown certificate fails
at once), every byte written to a store passes through it, and the data
is kept only if ``verify`` passes. The certificate comes from castellan's
key manager (``[key_manager] backend``, Barbican by default) as the
caller, so the context must carry the caller's token and project.

Unlike Glance, a certificate outside its validity period is refused.
Every failure is ``SignatureVerificationFailed`` with Glance's message;
while the verifier is made, the reason is cursive's.
"""

import datetime
import logging
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator

from castellan import key_manager
from castellan.common import exception as castellan_exception
from cryptography import exceptions as crypto_exception
from cryptography import x509
from cursive import certificate_utils
from cursive import exception as cursive_exception
from cursive import signature_utils

from glance_import import exception

LOG = logging.getLogger(__name__)

PROPERTIES = (signature_utils.SIGNATURE, signature_utils.HASH_METHOD,
              signature_utils.KEY_TYPE, signature_utils.CERT_UUID)

# (context, certificate id) -> the certificate; raises cursive's
# SignatureVerificationError when it cannot be had.
CertificateSource = Callable[[object, str], x509.Certificate]

# What cursive says when the signature does not match the data.
MISMATCH = 'Signature verification failed'


def is_signed(properties) -> bool:
    """Whether *properties* ask for signature verification."""
    return signature_utils.should_create_verifier(properties)


def key_manager_certificates(conf) -> CertificateSource:
    """Certificates from castellan's key manager configured in *conf*.

    Errors carry cursive's reasons, as its own lookup would give them.
    """
    def fetch(ctx, certificate_id):
        try:
            managed = key_manager.API(conf).get(ctx, certificate_id)
        except castellan_exception.ManagedObjectNotFoundError:
            raise cursive_exception.SignatureVerificationError(
                reason='Certificate not found with ID: %s' % certificate_id)
        except Exception as e:
            # castellan wraps Barbican's errors, not keystoneauth's (an
            # expired token, Keystone unreachable): all are this one.
            LOG.error('Unable to retrieve certificate with ID %s: %s',
                      certificate_id, e)
            raise cursive_exception.SignatureVerificationError(
                reason='Unable to retrieve certificate with ID: %s'
                % certificate_id)
        if managed.format not in signature_utils.CERTIFICATE_FORMATS:
            raise cursive_exception.SignatureVerificationError(
                reason='Invalid certificate format: %s' % managed.format)
        try:
            return x509.load_der_x509_certificate(managed.get_encoded())
        except ValueError:
            raise cursive_exception.SignatureVerificationError(
                reason='Certificate with ID %s is not a valid X.509 '
                       'certificate' % certificate_id)
    return fetch


class Verifier:
    """Feeds image data to a cursive verifier; ``verify`` judges it."""

    def __init__(self, image_id: str, verifier):
        self.image_id = image_id
        self._verifier = verifier

    def wrap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass *chunks* on unchanged, each one seen by the verifier."""
        update = self._verifier.update
        for chunk in chunks:
            update(chunk)
            yield chunk

    def verify(self) -> None:
        """Raise SignatureVerificationFailed unless the data seen so far
        is what was signed. Call it once, after the last chunk."""
        try:
            self._verifier.verify()
        except crypto_exception.InvalidSignature:
            raise exception.SignatureVerificationFailed(
                image_id=self.image_id, reason=MISMATCH)
        LOG.info('Successfully verified signature for image %s',
                 self.image_id)


def verifier_for(conf, ctx, image_id: str, properties,
                 certificates: CertificateSource | None = None
                 ) -> Verifier | None:
    """The verifier of a signed image; None when it is not signed.

    *ctx* is the caller's (castellan authenticates with its token);
    *certificates* defaults to castellan's key manager. Raises
    SignatureVerificationFailed when the properties are unusable or the
    certificate cannot be had or used.
    """
    if not is_signed(properties):
        return None
    if certificates is None:
        certificates = key_manager_certificates(conf)
    try:
        verifier = _create(ctx, properties, certificates)
    except cursive_exception.SignatureVerificationError as e:
        raise exception.SignatureVerificationFailed(
            image_id=image_id, reason=str(e)) from e
    return Verifier(image_id, verifier)


def _create(ctx, properties, certificates):
    """cursive's ``get_verifier``, with one certificate fetch serving the
    validity dates and the key."""
    signature = signature_utils.get_signature(
        properties[signature_utils.SIGNATURE])
    hash_method = signature_utils.get_hash_method(
        properties[signature_utils.HASH_METHOD])
    key_type = signature_utils.SignatureKeyType.lookup(
        properties[signature_utils.KEY_TYPE])
    certificate_id = properties[signature_utils.CERT_UUID]
    certificate = certificates(ctx, certificate_id)
    _check_dates(certificate, certificate_id)
    public_key = certificate.public_key()
    if not isinstance(public_key, key_type.public_key_type):
        raise cursive_exception.SignatureVerificationError(
            reason='Invalid public key type for signature key type: %s'
            % key_type.name)
    verifier = key_type.create_verifier(signature, hash_method, public_key)
    if not verifier:
        raise cursive_exception.SignatureVerificationError(
            reason='Error occurred while creating the verifier')
    return verifier


def _check_dates(certificate, certificate_id):
    if certificate_utils.is_within_valid_dates(certificate):
        return
    not_before = certificate.not_valid_before_utc
    if datetime.datetime.now(datetime.UTC) < not_before:
        reason = ('Certificate with ID %s is not valid yet: it is valid '
                  'from %s' % (certificate_id, not_before.isoformat()))
    else:
        reason = ('Certificate with ID %s has expired: it was valid until '
                  '%s' % (certificate_id,
                          certificate.not_valid_after_utc.isoformat()))
    raise cursive_exception.SignatureVerificationError(reason=reason)

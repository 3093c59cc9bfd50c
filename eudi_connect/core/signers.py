"""Opens the signer a `SignerReference` names, in whatever process holds the reference."""

from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.jose import SigningKey
from eudi_connect.core.signer import PKCS11_BACKEND, SOFTWARE_BACKEND, Signer, SignerReference
from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason


def open_signer(reference: SignerReference) -> Signer:
    """A software key is decoded from its DER; a PKCS#11 key gets this process's own
    session on its token when it first signs."""
    if reference.backend == SOFTWARE_BACKEND and reference.software_der is not None:
        private_key = serialization.load_der_private_key(reference.software_der, password=None)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(
                f"issuer key {reference.kid} is not an EC key", reason=Reason.INVALID_ISSUER_KEY
            )
        return SigningKey(reference.kid, private_key, reference.certificate_chain)
    if reference.backend == PKCS11_BACKEND and reference.pkcs11 is not None:
        from eudi_connect.core.pkcs11_signer import open_key

        signer = open_key(reference.pkcs11, reference.kid, reference.public_point)
        return replace(signer, certificate_chain=reference.certificate_chain)
    raise ConfigurationError(
        f"issuer key {reference.kid} names no usable backend ({reference.backend})",
        reason=Reason.INVALID_ISSUER_KEY,
    )

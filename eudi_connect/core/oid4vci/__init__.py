"""OpenID for Verifiable Credential Issuance 1.0: the protocol's messages and checks.

Pure functions over JSON values and compact JWTs: offers and transaction codes, issuer
metadata, DPoP proofs (RFC 9449), key proofs and key attestations. State (codes, tokens,
nonces, replay caches) belongs to the services that call these; nothing here keeps any.
"""

from eudi_connect.core.oid4vci._errors import ProtocolError, WalletErrorCode
from eudi_connect.core.oid4vci.dpop import DpopNonces, DpopProof, verify_dpop_proof
from eudi_connect.core.oid4vci.key_proof import (
    KeyAttestation,
    ProofPolicy,
    ProvenKeys,
    verify_attestation_proof,
    verify_jwt_proof,
    verify_key_attestation,
)
from eudi_connect.core.oid4vci.offer import (
    PRE_AUTHORIZED_GRANT,
    TxCodePolicy,
    credential_offer,
    make_tx_code,
    offer_uri_by_reference,
    offer_uri_by_value,
    tx_code_matches,
)

__all__ = [
    "PRE_AUTHORIZED_GRANT",
    "DpopNonces",
    "DpopProof",
    "KeyAttestation",
    "ProofPolicy",
    "ProtocolError",
    "ProvenKeys",
    "TxCodePolicy",
    "WalletErrorCode",
    "credential_offer",
    "make_tx_code",
    "offer_uri_by_reference",
    "offer_uri_by_value",
    "tx_code_matches",
    "verify_attestation_proof",
    "verify_dpop_proof",
    "verify_jwt_proof",
    "verify_key_attestation",
]

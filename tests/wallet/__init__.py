"""A test wallet for OpenID4VCI 1.0, written from the specifications alone.

It shares no code with the service, so that a flow it completes shows the service speaks the
protocol as published: offers (§4), metadata (§12), the token endpoint with DPoP (§6, RFC
9449), nonce (§7), credential (§8), deferred (§9) and notification (§11) endpoints, key and
wallet attestations from a fake wallet provider (Appendix D, E), and the holder's checks of
SD-JWT VCs and mdocs (Appendix A.2, A.3).

It also presents them over OpenID4VP 1.0 (`PresentationWallet`): signed request objects by
reference (§5), DCQL (§6, §7), SD-JWT VC and mdoc presentations, encrypted responses (§8.3),
direct_post (§8.2) and the Digital Credentials API (Appendix A).
"""

from tests.wallet.attestations import (
    ATTESTATION_HEADER,
    ATTESTATION_POP_HEADER,
    ISO_18045_BASIC,
    ISO_18045_ENHANCED_BASIC,
    ISO_18045_HIGH,
    ISO_18045_MODERATE,
    CertificateAuthority,
    KeyAttester,
    WalletAttestation,
    WalletProvider,
    status_reference,
)
from tests.wallet.authorization_request import (
    AuthorizationRequestLink,
    RequestObject,
    RequestRefused,
    certificate_hash,
    parse_authorization_request_uri,
    verify_request_object,
)
from tests.wallet.client import (
    DEFAULT_DPOP,
    NOTIFICATION_EVENTS,
    Collected,
    DpopOptions,
    FlowFailed,
    Wallet,
)
from tests.wallet.dcql import DcqlUnsatisfied, HeldCredential, Selection, evaluate
from tests.wallet.errors import CredentialRejected, ProtocolViolation, WalletError
from tests.wallet.holder import (
    VerifiedMdoc,
    VerifiedSdJwtVc,
    load_pem_certificates,
    validate_chain,
    verify_mdoc,
    verify_sd_jwt_vc,
)
from tests.wallet.jose_tools import (
    access_token_hash,
    decode_jwt,
    dpop_proof,
    jwt_key_proof,
    sign_jwt,
    unsigned_jwt,
    verify_jwt,
)
from tests.wallet.keys import KeyPair
from tests.wallet.metadata import (
    AuthorizationServerMetadata,
    CredentialConfiguration,
    IssuerMetadata,
)
from tests.wallet.offer import CredentialOffer, OfferLink, TxCodeSpec, parse_offer_uri
from tests.wallet.presenter import (
    AuthorizationResponse,
    PresentationWallet,
    Presented,
    ResponseOptions,
)
from tests.wallet.provider_host import ProviderHost
from tests.wallet.replies import CredentialReply, NonceReply, Reply, TokenReply
from tests.wallet.urls import (
    authorization_server_metadata_url,
    credential_issuer_metadata_url,
    jwt_vc_issuer_metadata_url,
)

__all__ = [
    "ATTESTATION_HEADER",
    "ATTESTATION_POP_HEADER",
    "DEFAULT_DPOP",
    "ISO_18045_BASIC",
    "ISO_18045_ENHANCED_BASIC",
    "ISO_18045_HIGH",
    "ISO_18045_MODERATE",
    "NOTIFICATION_EVENTS",
    "AuthorizationRequestLink",
    "AuthorizationResponse",
    "AuthorizationServerMetadata",
    "CertificateAuthority",
    "Collected",
    "CredentialConfiguration",
    "CredentialOffer",
    "CredentialRejected",
    "CredentialReply",
    "DcqlUnsatisfied",
    "DpopOptions",
    "FlowFailed",
    "HeldCredential",
    "IssuerMetadata",
    "KeyAttester",
    "KeyPair",
    "NonceReply",
    "OfferLink",
    "PresentationWallet",
    "Presented",
    "ProtocolViolation",
    "ProviderHost",
    "Reply",
    "RequestObject",
    "RequestRefused",
    "ResponseOptions",
    "Selection",
    "TokenReply",
    "TxCodeSpec",
    "VerifiedMdoc",
    "VerifiedSdJwtVc",
    "Wallet",
    "WalletAttestation",
    "WalletError",
    "WalletProvider",
    "access_token_hash",
    "authorization_server_metadata_url",
    "certificate_hash",
    "credential_issuer_metadata_url",
    "decode_jwt",
    "dpop_proof",
    "evaluate",
    "jwt_key_proof",
    "jwt_vc_issuer_metadata_url",
    "load_pem_certificates",
    "parse_authorization_request_uri",
    "parse_offer_uri",
    "sign_jwt",
    "status_reference",
    "unsigned_jwt",
    "validate_chain",
    "verify_jwt",
    "verify_mdoc",
    "verify_request_object",
    "verify_sd_jwt_vc",
]

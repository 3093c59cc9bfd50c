"""The credential formats the service issues, by their OpenID4VCI format identifiers."""

from __future__ import annotations

#: SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): the default.
SD_JWT_VC_FORMAT = "dc+sd-jwt"
#: ISO/IEC 18013-5 mdoc: base64url of the CBOR IssuerSigned structure.
MDOC_FORMAT = "mso_mdoc"

FORMATS = frozenset({SD_JWT_VC_FORMAT, MDOC_FORMAT})

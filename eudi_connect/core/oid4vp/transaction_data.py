"""Transaction data (OpenID4VP 1.0 section 8.4, Appendix B.3.3): what the holder's key
binding must cover.

Each request entry is the base64url text of a JSON object naming the credential ids it is
for; an SD-JWT VC presented for one of them carries, in its KB-JWT,
`transaction_data_hashes`: the base64url SHA-256 of every such entry's text (as sent, not
decoded). Only `sha-256` is supported, so a request may only offer it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.formats import SD_JWT_VC_FORMAT
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

from .dcql import DcqlQuery

HASH_ALGORITHM = "sha-256"


def _entry(text: str) -> dict[str, Any]:
    value = json.loads(b64url_decode(text))
    return value if isinstance(value, dict) else {}


def check_supported(entries: Sequence[str], query: DcqlQuery) -> None:
    """InvalidArgumentError (TRANSACTION_DATA_UNSUPPORTED) for entries this verifier could
    not check: for an mdoc, or asking for a hash other than sha-256."""
    for index, text in enumerate(entries):
        entry = _entry(text)
        algorithms = entry.get("transaction_data_hashes_alg")
        if algorithms is not None and (
            not isinstance(algorithms, list) or HASH_ALGORITHM not in algorithms
        ):
            raise InvalidArgumentError(
                f"transaction_data[{index}]: only {HASH_ALGORITHM} hashes are checked",
                reason=Reason.TRANSACTION_DATA_UNSUPPORTED,
            )
        ids = entry.get("credential_ids")
        for credential_id in ids if isinstance(ids, list) else ():
            credential = query.credential(credential_id) if isinstance(credential_id, str) else None
            if credential is not None and credential.format != SD_JWT_VC_FORMAT:
                raise InvalidArgumentError(
                    f"transaction_data[{index}]: transaction data is checked for dc+sd-jwt "
                    f"credentials only, not {credential.format} ({credential_id!r})",
                    reason=Reason.TRANSACTION_DATA_UNSUPPORTED,
                )


def entries_for(entries: Sequence[str], credential_id: str) -> tuple[str, ...]:
    """The entries (as sent) that name `credential_id`."""
    found = []
    for text in entries:
        ids = _entry(text).get("credential_ids")
        if isinstance(ids, list) and credential_id in ids:
            found.append(text)
    return tuple(found)


def hashes_problem(kb_payload: Mapping[str, Any], entries: Sequence[str]) -> str | None:
    """Why the KB-JWT does not cover `entries`, or None when it does."""
    if not entries:
        return None
    algorithm = kb_payload.get("transaction_data_hashes_alg", HASH_ALGORITHM)
    if algorithm != HASH_ALGORITHM:
        return f"transaction_data_hashes_alg must be {HASH_ALGORITHM}"
    hashes = kb_payload.get("transaction_data_hashes")
    if not isinstance(hashes, list) or not hashes:
        return "the KB-JWT has no transaction_data_hashes for this request's transaction data"
    for text in entries:
        if b64url_encode(hashlib.sha256(text.encode("ascii")).digest()) not in hashes:
            return "the KB-JWT's transaction_data_hashes miss a transaction data entry"
    return None

"""Verification of credentials and presentations: our own tenants' and other issuers'.

A credential that fails a check is an answer (`valid=False` with a reason), not an error;
every check performed is reported, passed ones included. SD-JWT VCs are trusted as our
own (by `kid`), as a trusted issuer's (its JWKS), or by an `x5c` chain to a configured
anchor (HAIP) whose leaf names their `iss`; mdocs by their x5chain to the tenant's own key
certificates or a configured anchor. Status comes last, only for a credential that passed
everything else: from the store for the tenant's own credentials, from the list they name
for every other.

One module a job:

* `service`: `VerificationService`, what the API calls; tells the formats apart;
* `commands`: what a caller asks (`VerifyCommand`, `VerificationPolicy`);
* `sd_jwt`, `mdoc`: the checks of each format, in order;
* `issuer_keys`: which key may have signed an SD-JWT VC (own, trusted issuer, x5c);
* `outcome`: the record of checks as they run and the answer made from it;
* `context`: the services and settings the verifiers share.
"""

from eudi_connect.services.verification.commands import (
    MAX_ALLOWED_VCTS,
    MAX_CLOCK_SKEW_SECONDS,
    MAX_KEY_BINDING_AGE_SECONDS,
    VerificationPolicy,
    VerifyCommand,
)
from eudi_connect.services.verification.outcome import CheckResult, VerificationOutcome
from eudi_connect.services.verification.service import VerificationService

__all__ = [
    "MAX_ALLOWED_VCTS",
    "MAX_CLOCK_SKEW_SECONDS",
    "MAX_KEY_BINDING_AGE_SECONDS",
    "CheckResult",
    "VerificationOutcome",
    "VerificationPolicy",
    "VerificationService",
    "VerifyCommand",
]

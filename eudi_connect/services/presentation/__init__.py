"""OpenID4VP 1.0 presentation transactions: the verifier around `core.oid4vp`.

* `requests`: a relying party's request, checked and stored; the signed request object;
* `responses`: every presentation verified, then the DCQL match over them;
* `results`: a transaction as callers see it, and its results' stored form;
* `acceptance`: a wallet's response accepted once, refused or verified and recorded;
* `service`: `PresentationService`, what the gRPC servicer and the HTTP routes call.
"""

from eudi_connect.services.presentation.requests import CreatePresentationCommand
from eudi_connect.services.presentation.results import PresentationView, PresentedResult
from eudi_connect.services.presentation.service import (
    CreatedPresentation,
    PresentationService,
    WalletAnswer,
)

__all__ = [
    "CreatePresentationCommand",
    "CreatedPresentation",
    "PresentationService",
    "PresentationView",
    "PresentedResult",
    "WalletAnswer",
]

"""What every verifier of the package reads: the tenant's keys, trust and URLs, the status
checker, the server's settings and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eudi_connect.services.keys import KeyService
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.services.status_check import StatusChecker
from eudi_connect.services.trust import TrustService


@dataclass(frozen=True, kw_only=True)
class VerificationContext:
    keys: KeyService
    trust: TrustService
    status: StatusChecker
    settings: ServiceSettings
    urls: TenantUrls
    clock: Callable[[], float] = field(default=time.time)

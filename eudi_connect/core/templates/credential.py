"""The credential template: what a credential of one type says and how long it lives."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eudi_connect.core.sdjwt import path_segments
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

from ._check import check_data_schema
from .errors import InvalidTemplateError

#: Claims the issuer sets itself and templates must neither render nor make disclosable:
#: the registered claims draft-ietf-oauth-sd-jwt-vc section 3.2.2.2 keeps in the clear, plus
#: iat (the verifier judges freshness by it) and the SD-JWT structure names of RFC 9901
#: section 4.2.4. Mirrors the SD-JWT issuer's own list so a bad template fails here, early.
RESERVED_CLAIMS = frozenset(
    {"iss", "iat", "exp", "nbf", "vct", "vct#integrity", "cnf", "status", "_sd", "_sd_alg", "..."}
)
#: Names RFC 9901 forbids at any depth.
RESERVED_NESTED_CLAIMS = frozenset({"_sd", "_sd_alg", "..."})

#: Variables every claims template has besides the subject's fields.
CREDENTIAL_IMPLICIT_NAMES = frozenset({"subject", "today"})

#: docTypes and namespaces are reverse-domain names such as "org.iso.18013.5.1.mDL".
MAX_MDOC_NAME_CHARS = 256
_MDOC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: The longest a credential may be valid: 100 years. Every timestamp it leads to stays a
#: real date (Python's datetime ends at year 9999), an RFC 8949 tdate, a JWT NumericDate
#: and a signed 64-bit store column.
MAX_VALIDITY_SECONDS = 36_525 * 86_400
#: Copies' iat / exp (mdoc `signed` / validity) are rounded to at most this granularity.
MAX_TIMESTAMP_GRANULARITY_SECONDS = 7 * 86_400

#: Large enough for any real claims mapping, small enough that a tenant cannot park megabytes
#: of source in the compile cache.
MAX_TEMPLATE_SOURCE_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class CredentialTemplate:
    """One credential type: its `vct`, the Jinja2 source that maps subject data to claims,
    which claims are selectively disclosable, and its validity bounds.

    `disclosable` uses the SD-JWT issuer's path syntax: dot-separated member names from the
    top level; a segment ending in "[]" makes each element of that array disclosable
    ("nationalities[]", "age_equal_or_over.18"). `version` goes up on every change; the
    render cache is keyed by it. `tenant_id` is None for built-in templates. `data_schema`
    names the subject fields the source may read (checked when a template is saved, see
    `TemplateEnvironment.check_credential`); `subject` and `today` are always there.
    """

    template_id: str
    vct: str
    claims_template: str
    disclosable: tuple[str, ...]
    default_validity_seconds: int
    max_validity_seconds: int
    version: int = 1
    tenant_id: str | None = None
    # Copies issued together get iat/exp rounded to this step (a day by default), so that
    # timestamps cannot tell which credentials came in one batch.
    timestamp_granularity_seconds: int = 86_400
    data_schema: tuple[str, ...] = ()
    # ISO/IEC 18013-5 docType when the credential can also be issued as an mdoc ("" when
    # only as an SD-JWT VC), and the namespace its elements go in ("": the docType's own).
    mdoc_doc_type: str = ""
    mdoc_namespace: str = ""

    def __post_init__(self) -> None:
        # Callers often hold a list (a repeated proto field); keep the frozen value hashable.
        object.__setattr__(self, "disclosable", tuple(self.disclosable))
        object.__setattr__(
            self,
            "data_schema",
            check_data_schema(self.data_schema, reserved=CREDENTIAL_IMPLICIT_NAMES),
        )
        for name in ("template_id", "vct", "claims_template"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise _invalid(name, f"{name} must be a non-empty string")
        if len(self.claims_template) > MAX_TEMPLATE_SOURCE_CHARS:
            raise _invalid(
                "claims_template",
                f"claims_template is longer than {MAX_TEMPLATE_SOURCE_CHARS} characters",
            )
        for path in self.disclosable:
            _check_disclosable_path(path)
        if len(set(self.disclosable)) != len(self.disclosable):
            raise _invalid("disclosable", "disclosable lists a path twice")
        if not _is_int(self.default_validity_seconds) or not (
            1 <= self.default_validity_seconds <= MAX_VALIDITY_SECONDS
        ):
            raise _invalid(
                "default_validity_seconds",
                f"default_validity_seconds must be an integer from 1 to {MAX_VALIDITY_SECONDS} "
                "(100 years)",
            )
        if not _is_int(self.max_validity_seconds) or not (
            self.default_validity_seconds <= self.max_validity_seconds <= MAX_VALIDITY_SECONDS
        ):
            raise _invalid(
                "max_validity_seconds",
                "max_validity_seconds must be an integer no smaller than default_validity_seconds "
                f"and at most {MAX_VALIDITY_SECONDS} (100 years)",
            )
        if not _is_int(self.version) or self.version < 1:
            raise _invalid("version", "version must be an integer starting at 1")
        for name in ("mdoc_doc_type", "mdoc_namespace"):
            value = getattr(self, name)
            if (
                not isinstance(value, str)
                or len(value) > MAX_MDOC_NAME_CHARS
                or (value and not _MDOC_NAME.fullmatch(value))
            ):
                raise _invalid(
                    name,
                    f"{name} must be a dotted name of at most {MAX_MDOC_NAME_CHARS} "
                    "characters (letters, digits, '.', '_', '-')",
                )
        if self.mdoc_namespace and not self.mdoc_doc_type:
            raise _invalid("mdoc_namespace", "mdoc_namespace needs an mdoc_doc_type")
        if not _is_int(self.timestamp_granularity_seconds) or not (
            1 <= self.timestamp_granularity_seconds <= MAX_TIMESTAMP_GRANULARITY_SECONDS
        ):
            raise _invalid(
                "timestamp_granularity_seconds",
                "timestamp_granularity_seconds must be between 1 second and 7 days",
            )

    def validity(self, requested: int | None) -> int:
        """Seconds the credential will be valid: the default when none (or 0) is requested,
        otherwise the requested value if it lies within the template's bounds."""
        if requested is None or requested == 0:
            return self.default_validity_seconds
        if requested < 0:
            raise InvalidArgumentError(
                f"requested validity of {requested} s is below the minimum of 1 s",
                reason=Reason.VALIDITY_OUT_OF_RANGE,
                metadata={"requested_seconds": str(requested), "min_validity_seconds": "1"},
            )
        if requested > self.max_validity_seconds:
            raise InvalidArgumentError(
                f"requested validity of {requested} s exceeds the maximum of "
                f"{self.max_validity_seconds} s for template {self.template_id!r}",
                reason=Reason.VALIDITY_OUT_OF_RANGE,
                metadata={
                    "requested_seconds": str(requested),
                    "max_validity_seconds": str(self.max_validity_seconds),
                },
            )
        return requested


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(field: str, message: str) -> InvalidTemplateError:
    return InvalidTemplateError(message, metadata={"field": field})


def _check_disclosable_path(path: object) -> None:
    """The SD-JWT issuer's path grammar, with this module's (stricter) reserved names."""
    if not isinstance(path, str) or not path:
        raise _invalid("disclosable", "a disclosable path must be a non-empty string")
    try:
        for depth, (name, _) in enumerate(path_segments(path)):
            reserved = RESERVED_CLAIMS if depth == 0 else RESERVED_NESTED_CLAIMS
            if name in reserved:
                raise _invalid(
                    "disclosable",
                    f"claim {name!r} in path {path!r} cannot be selectively disclosed",
                )
    except ValueError as exc:
        raise _invalid("disclosable", str(exc)) from None

"""Another issuer, as our verifier meets it: its keys, certificates, credentials, and the
status lists and JWKS it serves from a loopback HTTP(S) server."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eudi_connect.core.jose import SigningKey, b64url_encode, generate_p256_key, json_bytes
from eudi_connect.core.sdjwt import StatusReference, issue_sd_jwt_vc
from eudi_connect.core.status_list import StatusList, build_status_list_token


@dataclass
class Route:
    body: bytes
    content_type: str = "application/statuslist+jwt"
    status: int = 200
    delay: float = 0.0


@dataclass
class LoopbackServer:
    """Serves whatever `routes` says; counts the requests per path."""

    base_url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404)
        if route.delay:
            await asyncio.sleep(route.delay)
        return web.Response(
            body=route.body,
            status=route.status,
            content_type=None,
            headers={"Content-Type": route.content_type},
        )

    def serve(self, path: str, body: str | bytes, **options: Any) -> str:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, **options)
        return self.base_url + path


async def start_loopback(
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[LoopbackServer, web.AppRunner]:
    server = LoopbackServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    server.base_url = f"{scheme}://127.0.0.1:{port}"
    return server, runner


# --- X.509 ---------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def make_certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    ca: bool = False,
    key_usage: bool = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    dns_name: str | None = None,
    uri: str | None = None,
) -> x509.Certificate:
    """A P-256 certificate: self-signed without `issuer`; a CA or a signer. `dns_name` and
    `uri` become its subjectAltName entries (a signer names the `iss` it signs for)."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if key_usage:
        builder = builder.add_extension(_usage(signer=not ca), critical=True)
    names: list[x509.GeneralName] = []
    if dns_name:
        names.append(x509.DNSName(dns_name))
    if uri:
        names.append(x509.UniformResourceIdentifier(uri))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@dataclass
class Pki:
    """A root CA and a document signer certificate under it."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    signer_key: ec.EllipticCurvePrivateKey
    signer: x509.Certificate


def make_pki(name: str = "Foreign", **signer_options: Any) -> Pki:
    root_key, signer_key = generate_p256_key(), generate_p256_key()
    root = make_certificate(f"{name} Root CA", root_key, ca=True)
    signer = make_certificate(
        f"{name} Signer", signer_key, issuer=root, issuer_key=root_key, **signer_options
    )
    return Pki(root_key, root, signer_key, signer)


def tls_pair(host: str) -> tuple[ssl.SSLContext, ssl.SSLContext, Any]:
    """(server context for `host`, client context trusting it, files to keep alive)."""
    import tempfile

    ca_key, host_key = generate_p256_key(), generate_p256_key()
    ca = make_certificate("Test TLS CA", ca_key, ca=True)
    leaf = make_certificate("tls", host_key, issuer=ca, issuer_key=ca_key, dns_name=host)
    folder = tempfile.TemporaryDirectory()
    cert_file, key_file = f"{folder.name}/cert.pem", f"{folder.name}/key.pem"
    with open(cert_file, "wb") as out:
        out.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as out:
        out.write(
            host_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client, folder


# --- credentials and status lists ----------------------------------------------------------


@dataclass
class ForeignIssuer:
    issuer: str
    key: SigningKey
    x5c: Sequence[bytes] | None = None

    @classmethod
    def new(cls, issuer: str = "https://foreign.example/issuer", **options: Any) -> ForeignIssuer:
        return cls(issuer, SigningKey("foreign-1", generate_p256_key()), **options)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.public_jwk()]}

    def credential(
        self,
        *,
        status: StatusReference | None = None,
        vct: str = "urn:example:foreign:1",
        holder_jwk: Mapping[str, Any] | None = None,
        expires_in: int = 3600,
        x5c: Sequence[bytes] | None = None,
    ) -> str:
        now = int(time.time())
        return issue_sd_jwt_vc(
            {"given_name": "Erika", "family_name": "Mustermann"},
            disclosable=["given_name"],
            signing_key=self.key,
            issuer=self.issuer,
            vct=vct,
            issued_at=now - 10,
            expires_at=now + expires_in,
            status=status,
            holder_jwk=holder_jwk,
            x5c=x5c if x5c is not None else self.x5c,
        )

    def status_list_token(
        self,
        uri: str,
        statuses: Mapping[int, int],
        *,
        size: int = 1024,
        ttl: int = 300,
        expires_in: int = 3600,
        x5c: Sequence[bytes] | None = None,
    ) -> str:
        now = int(time.time())
        return build_status_list_token(
            StatusList.from_entries(size, statuses.items(), bits=2),
            uri=uri,
            issued_at=now - 10,
            expires_at=now + expires_in,
            ttl=ttl,
            signing_key=self.key,
            x5c=x5c if x5c is not None else self.x5c,
        )

    def raw_token(
        self, header: Mapping[str, Any], payload: Mapping[str, Any], *, signature: bytes | None
    ) -> str:
        """A token as given, `alg` included; `signature` None signs it with our key."""
        from eudi_connect.core.jose import es256_sign

        protected = b64url_encode(json_bytes(header))
        body = b64url_encode(json_bytes(payload))
        signed = signature
        if signed is None:
            signed = es256_sign(self.key.private_key, f"{protected}.{body}".encode())
        return f"{protected}.{body}.{b64url_encode(signed)}"


def x5c_strings(chain: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(c).decode() for c in chain]


def jwks_json(jwks: Mapping[str, Any]) -> str:
    return json.dumps(jwks)

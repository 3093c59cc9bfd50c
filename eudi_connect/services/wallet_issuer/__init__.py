"""The wallet side of OpenID4VCI 1.0: token, nonce, credential, deferred credential and
notification, for the pre-authorized code flow with DPoP-bound access tokens (HAIP).

Each endpoint takes what arrived over HTTP (form or JSON body, headers, the URL) and returns
what to answer (`context.Answer`); `ProtocolError` carries the protocol's error code. The
HTTP layer only converts. Every piece of state is in the store: any instance can serve any
step.

`issuer.WalletIssuer` is what the HTTP layer holds; one module per endpoint behind it:
`token`, `credential` (with the nonce endpoint), `deferred`, `notification`, `metadata`;
`delivery` issues what an offer promised (credential and deferred alike) and `context`
holds what they all share (nonces, DPoP, access tokens, policy).
"""

"""OpenID4VCI end to end: the test wallet against real issuer processes."""

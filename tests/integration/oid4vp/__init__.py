"""End-to-end OpenID4VP exchanges between the test wallet and real server processes."""

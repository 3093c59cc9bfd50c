"""EUDI-Connect: issues, verifies and revokes EUDI digital credentials over gRPC."""

__version__ = "0.1.0"

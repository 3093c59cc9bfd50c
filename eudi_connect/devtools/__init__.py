"""Developer tools: stub generation. Not imported by the service."""

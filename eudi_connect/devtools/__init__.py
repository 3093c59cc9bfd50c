"""Developer tools: stub generation, the README's reason table. Not imported by the service."""

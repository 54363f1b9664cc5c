"""api package (see docs/architecture.md)."""

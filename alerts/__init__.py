"""alerts package (see docs/architecture.md)."""

"""evaluation package (see docs/architecture.md)."""

"""ingest package (see docs/architecture.md)."""

"""Per-layer snapshots of a run: storage, ingest, reads and the cross-run comparison."""

"""The Iceberg driver (pyiceberg REST or SQL catalog) and its table maintenance (compaction, expiry, rollback)."""

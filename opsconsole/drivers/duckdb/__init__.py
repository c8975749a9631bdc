"""The OSAA DuckDB/SQLMesh pipeline driver (seed 003) and its helpers: file lock, read-only reader, quality SQL."""

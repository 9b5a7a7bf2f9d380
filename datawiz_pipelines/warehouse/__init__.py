"""Warehouse resources: one interface, an embedded DuckDB and a production StarRocks backend."""

"""The landing zone: getting a tenant's source files into ``data/<tenant>/source_files``
(a local folder, or a mirror of its Azure Blob container and prefix), and the per-tenant
file ledger that makes runs incremental by file."""

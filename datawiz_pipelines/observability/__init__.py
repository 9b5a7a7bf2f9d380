"""Per-tenant log files (see tenant_logs.py)."""

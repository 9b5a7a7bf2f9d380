"""SQL models built after the load: views, materialized views, derived tables, row-level security.

Written once in StarRocks SQL under ``tenant_configs/sql/``, parsed with sqlglot to find
what each reads (the assets' lineage), rendered per tenant with its business rules, and
transpiled for DuckDB.
"""

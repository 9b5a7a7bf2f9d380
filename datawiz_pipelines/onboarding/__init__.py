"""The tenant lifecycle behind ``datawiz tenants``: create, validate, preview, enable, migrate.

Nothing here prints; the CLI (``datawiz_pipelines/cli/``) turns results into output.
"""

"""Tenant registry, configuration hierarchy, table catalog, mappings and secrets."""

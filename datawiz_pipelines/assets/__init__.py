"""Software-defined assets: every catalog table as bronze, silver and warehouse assets."""

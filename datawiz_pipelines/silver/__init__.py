"""Silver layer: a tenant's bronze rows mapped, typed and validated onto a catalog table."""

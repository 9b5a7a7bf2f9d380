"""E-mail to a tenant's recipients: failure alerts and success digests, never a secret."""

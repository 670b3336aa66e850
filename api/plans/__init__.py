"""api.plans."""

"""api.open311."""

"""api.public."""

"""api.workorders."""

"""api.planner."""

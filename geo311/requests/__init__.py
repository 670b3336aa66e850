"""geo311.requests."""

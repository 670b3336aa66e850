"""geo311 routing package."""

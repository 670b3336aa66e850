"""geo311 api package."""

"""geo311.staff."""

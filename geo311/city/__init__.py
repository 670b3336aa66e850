"""geo311.city.profile."""

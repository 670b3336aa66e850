"""geo311.plans."""

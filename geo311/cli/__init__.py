"""geo311.cli.app."""

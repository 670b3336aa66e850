"""routing.engine."""

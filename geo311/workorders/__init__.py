"""geo311.workorders.grouping."""

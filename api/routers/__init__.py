"""One router per resource: open311, workorders, plans, crews, planner."""

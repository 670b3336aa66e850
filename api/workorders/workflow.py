"""Status transitions for the staff routers: the rule is :mod:`geo311.workorders.workflow`."""

from __future__ import annotations

from geo311.workorders.workflow import apply_status, check_transition

__all__ = ["apply_status", "check_transition"]

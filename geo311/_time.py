"""Deprecated alias of :mod:`geo311.timeutil` (kept for one release; import that instead)."""

from __future__ import annotations

from geo311.timeutil import local_datetime

__all__ = ["local_datetime"]

"""The error hierarchy of geo311.

Every message names the field or object at fault and says how to fix it. The API maps
these to HTTP once, in its exception handlers.
"""

from __future__ import annotations


class Geo311Error(Exception):
    """Base class of every error geo311 raises on purpose."""


class InputError(Geo311Error, ValueError):
    """Bad input from a user, a file or a request; the message names the field and the fix."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigurationError(InputError):
    """A settings value, catalogue or crew file is invalid."""


class GeocodingError(Geo311Error, ValueError):
    """An address or point could not be geocoded."""


class RoutingError(Geo311Error, ValueError):
    """A routing problem is invalid or cannot be solved."""


class NotFoundError(Geo311Error, LookupError):
    """A requested object (request, work order, plan, crew ...) does not exist."""


class ConflictError(Geo311Error):
    """An operation is not allowed in the object's current state (e.g. an invalid transition)."""

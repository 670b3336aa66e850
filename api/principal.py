"""Who is calling: the principal behind a bearer token or a signed-in browser.

A principal carries who it is (the audit log's ``actor``), its role, and its scope: the crew
of a crew, the district of a dispatcher (None: every district).

Static tokens (``GEO311_STAFF_TOKENS``, token -> value) spell their value
``<role>[@<district>]``: ``dispatcher``, ``planner``, ``admin``, ``crew:<crew id>`` or
``dispatcher@<district name>`` (a name of the city's districts, e.g.
``dispatcher@North End``). A static token's id is the first 12 hex digits of the
SHA-256 of the token (:func:`static_token_id`): the audit log names it ``token:<id>``, never
the token. Per-user tokens (``geo311 users token``) carry their user's role, crew, district
and username.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from geo311.errors import ConfigurationError

__all__ = ["STATIC_ROLE_RE", "Principal", "parse_static_role", "static_token_id"]

STATIC_ROLE_RE = re.compile(
    r"^(?P<role>dispatcher|planner|admin|crew:(?P<crew>[A-Za-z0-9_-]{1,64}))"
    r"(?:@(?P<district>\S.{0,199}))?$"
)
"""The value of a static token: a role, and for a dispatcher optionally ``@<district>``."""


@dataclass(frozen=True)
class Principal:
    """The caller of a staff route or page.

    Attributes
    ----------
    actor : str
        Who, as the audit log writes it: the username, or ``token:<id>`` for a static token.
    role : str
        ``dispatcher``, ``planner``, ``admin`` or ``crew``.
    crew_id : str or None
        The crew of a ``crew``.
    district : str or None
        The district a dispatcher is limited to (None: every district).
    user_id : int or None
        The user's id (None for a static token).
    """

    actor: str
    role: str
    crew_id: str | None = None
    district: str | None = None
    user_id: int | None = None

    @property
    def label(self) -> str:
        """The role as bearer roles spell it: ``dispatcher`` or ``crew:<crew id>``."""
        return f"crew:{self.crew_id}" if self.role == "crew" else self.role

    @property
    def scoped(self) -> bool:
        """True for a dispatcher limited to one district."""
        return self.role == "dispatcher" and self.district is not None

    @classmethod
    def of_user(cls, user: Any) -> Principal:
        """Return the principal of a :class:`geo311.staff.users.User` (a session or a user token)."""
        return cls(
            actor=str(user.username),
            role=str(user.role),
            crew_id=user.crew_id if user.role == "crew" else None,
            district=(user.district or None) if user.role == "dispatcher" else None,
            user_id=int(user.user_id),
        )

    @classmethod
    def of_static(cls, token: str, value: str) -> Principal:
        """Return the principal of a static token whose settings value is ``value``.

        Raises
        ------
        ConfigurationError
            When ``value`` is not ``<role>[@<district>]`` (see :func:`parse_static_role`).
        """
        role, crew_id, district = parse_static_role(value)
        return cls(
            actor=f"token:{static_token_id(token)}", role=role, crew_id=crew_id, district=district
        )


def static_token_id(token: str) -> str:
    """Return a static token's id: the first 12 hex digits of its SHA-256 (not secret)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def parse_static_role(value: str) -> tuple[str, str | None, str | None]:
    """Read a static token's value ``<role>[@<district>]``.

    Returns
    -------
    tuple
        ``(role, crew_id, district)``: ``crew_id`` only for crews, ``district`` only for
        dispatchers given one.

    Raises
    ------
    ConfigurationError
        Naming ``staff_tokens`` and the accepted spellings.
    """
    found = STATIC_ROLE_RE.match(value.strip())
    role = found.group("role") if found else ""
    district = found.group("district") if found else None
    if found is None or (district is not None and role != "dispatcher"):
        raise ConfigurationError(
            f"staff_tokens: {value!r} is not a token's role; use dispatcher, planner, admin, "
            "crew:<crew id> or dispatcher@<district name> (only a dispatcher has a district)",
            field="staff_tokens",
        )
    crew_id = found.group("crew")
    return ("crew" if crew_id else role), crew_id, (district.strip() if district else None)

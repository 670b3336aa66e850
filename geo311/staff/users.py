"""Staff users: roles, creating, verifying and disabling users, per-user API tokens.

Passwords are hashed with argon2id (``argon2-cffi``, its default parameters, RFC 9106's
low-memory profile); API tokens are 256-bit random strings stored as SHA-256 hashes.
The SQL is in :mod:`geo311.staff.store`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo311.db.store import Store
from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.i18n import N_
from geo311.staff import store as auth_store

# Roles are data: what each may do is decided by the application from these names; the
# descriptions are translated where they are shown (the admin pages).
ROLES: Mapping[str, str] = {
    "dispatcher": N_("plans the day and manages work orders"),
    "planner": N_("maps, metrics and simulations (read-only on work orders)"),
    "admin": N_("manages users and reads the audit log"),
    "crew": N_("sees and updates its own crew's itinerary"),
}
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
CREW_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
TOKEN_PREFIX = "g311_"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that both cases take the same time.
_DUMMY_HASH = _hasher.hash("geo311 dummy password, never a real one")


@dataclass(frozen=True)
class User:
    """A staff user (never carries the password hash).

    Attributes
    ----------
    user_id : int
        Database id.
    username : str
        Unique login name (lower case).
    display_name : str
        Name shown on pages.
    role : str
        One of :data:`ROLES`.
    crew_id : str or None
        The crew of a ``crew`` user.
    active : bool
        False once disabled: no login, no token, no session.
    created_at : datetime
        When the user was added (UTC).
    district : str or None
        The district a dispatcher works in (None: every district).
    """

    user_id: int
    username: str
    display_name: str
    role: str
    crew_id: str | None
    active: bool
    created_at: datetime
    district: str | None = None

    @property
    def role_label(self) -> str:
        """The role as the API's bearer roles spell it: ``dispatcher`` or ``crew:<crew id>``."""
        return f"crew:{self.crew_id}" if self.role == "crew" else self.role

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> User:
        """Build a user from a ``users`` row."""
        return cls(
            user_id=int(row["user_id"]),
            username=str(row["username"]),
            display_name=str(row["display_name"] or row["username"]),
            role=str(row["role"]),
            crew_id=row["crew_id"],
            active=bool(row["active"]),
            created_at=row["created_at"],
            district=row.get("district") or None,
        )


def parse_role(text: str) -> tuple[str, str | None]:
    """Read ``dispatcher``, ``planner``, ``admin`` or ``crew:<crew id>``.

    Returns
    -------
    tuple
        ``(role, crew_id)``; ``crew_id`` is None except for crews.

    Raises
    ------
    InputError
        Naming the ``role`` field and the accepted spellings.
    """
    text = text.strip()
    role, _, crew_id = text.partition(":")
    if role == "crew" and CREW_ID_RE.match(crew_id):
        return "crew", crew_id
    if role in ROLES and role != "crew" and not crew_id:
        return role, None
    raise InputError(
        f"role: {text!r} is not a role; use dispatcher, planner, admin or crew:<crew id> "
        "(e.g. crew:pothole-1)",
        field="role",
    )


def check_username(username: str) -> str:
    """Return the username in lower case.

    Raises
    ------
    InputError
        When it is not 2-64 of a-z, 0-9, '.', '_', '-' starting with a letter or digit.
    """
    name = username.strip().lower()
    if not USERNAME_RE.match(name):
        raise InputError(
            f"username: {username!r} is not allowed; use 2-64 characters a-z, 0-9, '.', '_' "
            "or '-', starting with a letter or digit",
            field="username",
        )
    return name


def check_password(password: str) -> None:
    """Refuse a password that is too short or too long.

    Raises
    ------
    InputError
        Naming the ``password`` field and the length needed.
    """
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"password: too short ({len(password)} characters); use at least {MIN_PASSWORD}",
            field="password",
        )
    if len(password) > MAX_PASSWORD:
        raise InputError(
            f"password: longer than {MAX_PASSWORD} characters; use a shorter one",
            field="password",
        )


def create_user(
    store: Store,
    username: str,
    *,
    role: str,
    password: str,
    display_name: str | None = None,
    district: str | None = None,
) -> User:
    """Add a user with an argon2id password hash.

    Parameters
    ----------
    store : Store
        The store.
    username : str
        Login name (stored lower case).
    role : str, keyword-only
        ``dispatcher``, ``planner``, ``admin`` or ``crew:<crew id>``.
    password : str, keyword-only
        The password (at least :data:`MIN_PASSWORD` characters).
    display_name : str, keyword-only, optional
        Name shown on pages (default: the username).
    district : str, keyword-only, optional
        The district a dispatcher works in (a name of the city's districts, checked by the
        caller); None: every district.

    Returns
    -------
    User
        The new user.

    Raises
    ------
    InputError
        When the username, role or password is invalid (names the field).
    ConflictError
        When the username is taken.
    """
    name = check_username(username)
    kind, crew_id = parse_role(role)
    check_password(password)
    if auth_store.user_by_username(store, name) is not None:
        raise ConflictError(f"username: {name!r} is taken; choose another username")
    user_id = auth_store.insert_user(
        store,
        {
            "username": name,
            "display_name": (display_name or "").strip()[:200] or name,
            "role": kind,
            "crew_id": crew_id,
            "district": (district or "").strip()[:200] or None,
            "password_hash": _hasher.hash(password),
            "active": True,
            "created_at": datetime.now(UTC),
        },
    )
    return get_user(store, user_id)


def get_user(store: Store, user_id: int) -> User:
    """Return a user by id.

    Raises
    ------
    NotFoundError
        When there is no such user.
    """
    row = auth_store.user_by_id(store, user_id)
    if row is None:
        raise NotFoundError(f"user_id {user_id} does not exist; list users with geo311 users list")
    return User.from_row(row)


def find_user(store: Store, username: str) -> User:
    """Return a user by username.

    Raises
    ------
    NotFoundError
        Naming the username and how to list users.
    """
    row = auth_store.user_by_username(store, username.strip().lower())
    if row is None:
        raise NotFoundError(f"username: no user {username!r}; list users with 'geo311 users list'")
    return User.from_row(row)


def list_users(store: Store) -> list[User]:
    """Return every user, ordered by username."""
    return [User.from_row(r) for r in auth_store.all_users(store)]


def verify_password(store: Store, username: str, password: str) -> User | None:
    """Return the active user whose password this is, or None (same work either way).

    An unknown or disabled user and a wrong password give the same answer, so callers
    cannot tell which it was. A hash made with older parameters is upgraded.
    """
    row = auth_store.user_by_username(store, username.strip().lower())
    stored = str(row["password_hash"]) if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row["active"]:
        return None
    if _hasher.check_needs_rehash(stored):
        auth_store.update_user(store, int(row["user_id"]), password_hash=_hasher.hash(password))
    return User.from_row(row)


# The sign-in limits: failed attempts in a sliding window, per username and per address.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20
ADDRESS_LENGTH = 64  # the ``login_attempts.ip`` column


def login_address(host: str | None) -> str:
    """Return the key a client address is counted under by the sign-in limit.

    An IPv4 address as written (an IPv4-mapped IPv6 one as its IPv4 address); an IPv6 address
    as its ``/64`` network (one subscriber's block: its addresses are one client); anything
    else (a proxy's odd ``X-Forwarded-For`` entry, a test client's name) truncated to
    :data:`ADDRESS_LENGTH` characters without control characters, so that it always fits the
    column.
    """
    text = (host or "").strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        cleaned = "".join(c for c in text if c.isprintable())
        return cleaned[:ADDRESS_LENGTH] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def sign_in(
    store: Store, username: str, password: str, *, address: str, now: datetime | None = None
) -> User | Literal["wrong", "locked"]:
    """Check a sign-in against the limits, then the password.

    The attempt is counted before the password is checked, atomically
    (:func:`geo311.staff.store.claim_login_attempt`): of any number of concurrent wrong
    passwords for one username, exactly :data:`MAX_FAILURES_PER_USERNAME` are checked and
    the others refused. A success forgets the username's failures.

    Parameters
    ----------
    store
        The store.
    username, password
        As typed (the username is compared in lower case).
    address
        The client's address (see :func:`login_address`; normalised here again).
    now
        The time of the attempt (default: now).

    Returns
    -------
    User or str
        The user; ``"wrong"`` (unknown user, disabled user or wrong password: the same
        answer) or ``"locked"`` (over a limit: the password was not checked).
    """
    at = now or datetime.now(UTC)
    name = username.strip().lower()[:64]
    allowed = auth_store.claim_login_attempt(
        store,
        username=name,
        ip=login_address(address),
        at=at,
        since=at - LOGIN_WINDOW,
        max_per_username=MAX_FAILURES_PER_USERNAME,
        max_per_ip=MAX_FAILURES_PER_ADDRESS,
    )
    if not allowed:
        return "locked"
    user = verify_password(store, name, password)
    if user is None:
        return "wrong"
    auth_store.clear_failed_logins(store, username=name, before=at - LOGIN_WINDOW)
    return user


def set_active(store: Store, username: str, *, active: bool) -> tuple[User, User]:
    """Enable or disable a user; disabling ends the user's sessions at once.

    Returns
    -------
    tuple of User
        ``(before, after)``.

    Raises
    ------
    NotFoundError
        When there is no such user.
    """
    before = find_user(store, username)
    auth_store.update_user(store, before.user_id, active=active)
    if not active:
        auth_store.delete_sessions_of(store, before.user_id)
    return before, get_user(store, before.user_id)


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(store: Store, username: str) -> str:
    """Issue a new API token for an active user; the token is returned once, never stored.

    Raises
    ------
    NotFoundError
        When there is no such user.
    ConflictError
        When the user is disabled.
    """
    user = find_user(store, username)
    if not user.active:
        raise ConflictError(f"username: {user.username!r} is disabled; enable the user first")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    auth_store.insert_token(
        store, user_id=user.user_id, token_hash=token_hash(token), created_at=datetime.now(UTC)
    )
    return token


def user_for_token(store: Store, token: str) -> User | None:
    """Return the active user an active API token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = auth_store.user_by_token_hash(store, token_hash(token), now=datetime.now(UTC))
    return None if row is None else User.from_row(row)


def edit_user(
    store: Store,
    username: str,
    *,
    role: str,
    display_name: str | None = None,
    district: str | None = None,
) -> tuple[User, User]:
    """Change a user's role (crew), district and display name.

    Parameters
    ----------
    store : Store
        The store (joins the caller's ``store.begin()``).
    username : str
        The user.
    role : str, keyword-only
        ``dispatcher``, ``planner``, ``admin`` or ``crew:<crew id>`` (checked as
        :func:`parse_role`; the caller checks the crew exists).
    display_name, district : str, keyword-only, optional
        The name shown on pages (empty: the username); a dispatcher's district (empty: every
        district; checked by the caller).

    Returns
    -------
    tuple of User
        ``(before, after)``.

    Raises
    ------
    InputError
        For a role that is not one.
    NotFoundError
        When there is no such user.
    """
    kind, crew_id = parse_role(role)
    before = find_user(store, username)
    auth_store.update_user(
        store,
        before.user_id,
        role=kind,
        crew_id=crew_id,
        display_name=(display_name or "").strip()[:200] or before.username,
        district=(district or "").strip()[:200] or None,
    )
    return before, get_user(store, before.user_id)


def set_password(store: Store, username: str, password: str) -> User:
    """Give a user a new password; every session of the user ends (sign in again).

    Raises
    ------
    InputError
        For a password too short or too long (names ``password``).
    NotFoundError
        When there is no such user.
    """
    check_password(password)
    user = find_user(store, username)
    auth_store.update_user(store, user.user_id, password_hash=_hasher.hash(password))
    auth_store.delete_sessions_of(store, user.user_id)
    return user

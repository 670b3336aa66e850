"""The audit log of the staff application: who did what, when, before and after."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from geo311.db.store import Store
from geo311.staff import store as auth_store


def record(
    store: Store, actor: str, action: str, obj: str, *, before: Any = None, after: Any = None
) -> int:
    """Write one audit row.

    Inside the caller's ``with store.begin():`` block it joins that transaction (committed
    with the change it records); else it commits on its own.

    Parameters
    ----------
    store : Store
        The store.
    actor : str
        Username (or ``token:<id>`` for a static bearer token: :func:`api.principal.static_token_id`).
    action : str
        What was done, e.g. ``user.add``, ``plan.publish``, ``stop.done``.
    obj : str
        The object acted on, e.g. ``user:dana``, ``plan:12``.
    before, after : JSON-ready, keyword-only, optional
        The object's state before and after.

    Returns
    -------
    int
        The audit row's id.
    """
    return auth_store.insert_audit(
        store, at=datetime.now(UTC), actor=actor, action=action, obj=obj, before=before, after=after
    )


def user_state(user: Any) -> dict[str, Any]:
    """Return what the audit log keeps of a user (never the password hash)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role_label,
        "active": user.active,
    }

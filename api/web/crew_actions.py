"""A crew's stop actions (done, can't do, arrive; a dispatcher's reopen): applied exactly once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.open311.service import media_url
from api.plans import stops as _stops
from api.plans.stops import Actor
from api.web.deps import check_csrf, page_user
from api.web.sessions import WebSession
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.i18n import N_
from geo311.plans import stop_states
from geo311.plans.stop_states import StopChange
from geo311.requests.media import store_image
from geo311.settings import Settings
from geo311.staff import positions
from geo311.staff import store as auth_store

DONE_PRESETS = (
    N_("Repaired."),
    N_("Pothole filled."),
    N_("Streetlight repaired."),
    N_("Inspected: nothing to repair."),
)
CANT_REASONS = stop_states.CANT_REASONS
ACTIONS = {
    "done": "done",
    "cant": "cant_do",
    "arrive": "arrive",
    "reopen": "reopen",
    "undo": "undo",
}
"""The page's action word -> the state machine's action (:data:`geo311.plans.stop_states.TRANSITIONS`)."""
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class CrewAction:
    """One action on one stop, with the phone's idempotency key (and a photo of the work)."""

    key: str
    plan_id: int
    crew_id: str
    job_id: str
    action: str
    note: str
    reason: str
    media_url: str = ""


def parse_action(data: dict[str, Any]) -> CrewAction:
    """Check an action's fields.

    Raises
    ------
    InputError
        Naming the field and the values it takes.
    """
    # media_url is never taken from the client: it is the URL of the photo stored here
    text = {
        k: str(data.get(k) or "").strip()
        for k in CrewAction.__dataclass_fields__
        if k != "media_url"
    }
    if not KEY_RE.match(text["key"]):
        raise InputError("key: send an idempotency key of 8-64 letters, digits, '-'", field="key")
    if not text["plan_id"].isdigit() or not 0 < int(text["plan_id"]) < 2**31:
        raise InputError("plan_id: send the plan's number", field="plan_id")
    for name in ("crew_id", "job_id"):
        if not ID_RE.match(text[name]):
            raise InputError(f"{name}: send the id shown on the page", field=name)
    if text["action"] not in ACTIONS:
        raise InputError(f"action: send one of {', '.join(ACTIONS)}", field="action")
    if text["action"] == "cant" and text["reason"] not in CANT_REASONS:
        raise InputError(f"reason: pick one of {', '.join(CANT_REASONS)}", field="reason")
    if len(text["note"]) > 2000:
        raise InputError("note: keep it under 2000 characters", field="note")
    return CrewAction(**{**text, "plan_id": int(text["plan_id"])})  # type: ignore[arg-type]


async def read_action(
    request: Request, store: Store
) -> tuple[CrewAction, WebSession, UploadFile | None]:
    """Return the request's action, session and photo: signed in and CSRF-checked.

    A form (``multipart/form-data``) may carry a ``photo`` of the finished work; it is
    returned unread (see :func:`attach_photo`). A JSON body has no photo.
    """
    session = await run_in_threadpool(page_user("crew", "dispatcher"), request, store)
    await check_csrf(request, session)
    if "json" in request.headers.get("content-type", ""):
        try:
            data = await request.json()
        except ValueError:
            raise InputError("the body is not JSON; send the action as a JSON object") from None
        if not isinstance(data, dict):
            raise InputError("the body must be a JSON object with key, plan_id, job_id, action")
        return parse_action(data), session, None
    form = await request.form()
    action = parse_action({k: v for k, v in form.items() if isinstance(v, str)})
    photo = form.get("photo")
    return action, session, photo if isinstance(photo, UploadFile) else None


async def attach_photo(
    request: Request, action: CrewAction, photo: UploadFile | None, settings: Settings
) -> tuple[CrewAction, Path | None]:
    """Check and store the photo of a ``done``; return the action with the photo's URL.

    The photo is checked by its content and stored without metadata (:mod:`geo311.requests.media`);
    without a photo (none, or the form's empty file field) the action comes back unchanged.
    Also returned: the photo's file when this call wrote it (to remove if the action is
    refused), else ``None``.

    Raises
    ------
    InputError
        Naming ``photo``: too large, not a JPEG/PNG/WebP image, damaged, or sent with a
        can't-do.
    """
    if photo is None:
        return action, None
    data = await photo.read(settings.max_media_bytes + 1)
    if not data and not photo.filename:  # a form's empty file field
        return action, None
    if action.action != "done":
        raise InputError("photo: only a stop marked done takes a photo; remove it", field="photo")
    stored = await run_in_threadpool(
        store_image,
        data,
        media_dir=settings.media_dir,
        max_bytes=settings.max_media_bytes,
        field="photo",
    )
    url = media_url(request, settings, stored.name)  # GEO311_PUBLIC_URL, never the Host
    new_file = settings.media_dir / stored.name if stored.created else None
    return replace(action, media_url=url), new_file


def _change(action: CrewAction, actor: Actor) -> StopChange:
    done = action.action == "done"
    return StopChange(
        plan_id=action.plan_id,
        job_id=action.job_id,
        crew_id=action.crew_id,
        action=ACTIONS[action.action],
        by=actor.name,
        reason=action.reason if action.action == "cant" else "",
        note=(action.note or DONE_PRESETS[0]) if done else action.note,
        key=action.key,
        media_url=action.media_url,
    )


def _earlier(action: CrewAction, earlier: dict[str, Any]) -> dict[str, Any]:
    """Return the answer of a key used before; 409 when it was used for another action."""
    same = (earlier["plan_id"], earlier["job_id"], earlier["action"]) == (
        action.plan_id,
        action.job_id,
        action.action,
    )
    if not same or earlier["result"] is None:
        raise HTTPException(409, f"key {action.key!r} was used for another action; send a new key")
    return dict(json.loads(earlier["result"]))


def apply_once(
    store: Store, catalogue: Catalogue, action: CrewAction, actor: Actor
) -> tuple[dict[str, Any], bool]:
    """Apply an action unless its key was seen; return ``(result, duplicate)``.

    The key's claim, the stop's row, the work order, the key's result and the audit row
    commit together (:func:`api.plans.stops.act`), or none of them; the same key sent again while
    it is applied waits for it and gets its answer.

    Raises
    ------
    HTTPException
        409 when the key was used for another action; 403 when the actor may not act on
        this stop.
    Geo311Error
        From the plan, the stop's state (409 with the state) and the work order; on this or
        any other error nothing of the action is stored, its key claim included, so that a
        retry may work.
    """
    values = {
        "idempotency_key": action.key,
        "plan_id": action.plan_id,
        "crew_id": action.crew_id,
        "job_id": action.job_id,
        "action": action.action,
        "at": datetime.now(UTC),
        "actor": actor.name,
        "result": None,
    }
    # The key's claim, the stop's row, the work order, the key's result and the audit row
    # commit together, or none of them (a server killed mid-action leaves no claim behind).
    with store.begin():
        earlier = auth_store.claim_action(store, values)
        if earlier is not None:
            return _earlier(action, earlier), True
        result = _stops.act(store, catalogue, actor, _change(action, actor))
        auth_store.finish_action(store, action.key, result=json.dumps(result))
    return result, False


async def read_position(request: Request) -> tuple[float, float, float | None]:
    """Return the ``lat``, ``lon`` and ``accuracy`` a phone sent (JSON or form), checked.

    Raises
    ------
    InputError
        Naming the field: not JSON, not a number, or out of range.
    """
    if "json" in request.headers.get("content-type", ""):
        try:
            data = await request.json()
        except ValueError:
            raise InputError("the body is not JSON; send lat, lon and accuracy") from None
        if not isinstance(data, dict):
            raise InputError("the body must be a JSON object with lat, lon and accuracy")
    else:
        data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return positions.check_point(data.get("lat"), data.get("lon"), data.get("accuracy"))


def share_position(store: Store, position: positions.CrewPosition) -> None:
    """Store a crew's position and its ``crew.position`` audit row in one transaction."""
    with store.begin() as conn:
        positions.record_position(store, position)
        auth_store.write_audit(
            conn,
            at=position.at,
            actor=position.by_user,
            action="crew.position",
            obj=f"crew:{position.crew_id}",
            after={"lat": position.lat, "lon": position.lon, "accuracy_m": position.accuracy_m},
        )

"""The dispatcher's hand edits of a plan: check a move or drop, then save it as a new plan.

``POST /dispatch/plans/{id}/edit`` applies one change (move, drop, lock, unlock) to the
stored plan and drives the changed routes again (:func:`routing.dispatch.editing.edit_day`):
the page shows the new ETAs and what breaks, naming the crew, the stop and why. Nothing is
stored until the dispatcher saves (``.../edit/save``, which checks the change again):

- a *hard* violation (a crew without the skill, a truck over capacity) cannot be saved;
- *soft* ones (work after the end of the shift, a missed time window or break) are saved
  only when the dispatcher ticks "save anyway" — overtime is the dispatcher's call.

A saved change is a new plan (``kind='edited'``, its parent the edited plan) and an audit
row with the changed crews' stops before and after. Locking and unlocking change no route:
they are saved at once. A published plan is not edited: re-plan it instead. A dispatcher of
a district edits only its district's plans (:func:`api.scope.check_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from api.deps import CatalogueDep, SettingsDep, StoreDep
from api.principal import Principal
from api.scope import check_plan
from api.web import audit, plan_view
from api.web.deps import PageRoute, action_user
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import ConflictError
from geo311.plans.document import PlanDocument, RouteDoc
from geo311.plans.repo import load_plan_document
from geo311.settings import Settings
from geo311.staff import store as auth_store

if TYPE_CHECKING:  # routing.dispatch loads OR-Tools and the graph: imported where used
    from routing.dispatch.editing import EditResult, HandEdit

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherAction = Annotated[WebSession, Depends(action_user("dispatcher"))]
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class EditForm(BaseModel):
    """The form of one hand edit: the action, the stop, and where it goes (for a move)."""

    action: str = Field(pattern="^(move|lock|unlock|drop)$")
    job_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    crew_id: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")
    position: int = Field(0, ge=0, le=10_000)

    def hand_edit(self) -> HandEdit:
        """Return the edit as :func:`routing.dispatch.editing.edit_day` takes it."""
        from routing.dispatch.editing import HandEdit

        return HandEdit(self.action, self.job_id, self.crew_id, self.position)


class SaveEditForm(EditForm):
    """The form that saves a hand edit: the edit and "save anyway" (``yes``)."""

    accept: str = Field("", max_length=8)


def _editable(store: Store, plan_id: int, session: WebSession) -> PlanDocument:
    """Return the stored plan unless it is published (then 409: re-plan it instead).

    A dispatcher of a district edits only its district's plans (403).
    """
    doc = load_plan_document(store, plan_id)
    check_plan(Principal.of_user(session.user), doc, plan_id)
    if auth_store.publication(store, plan_id) is not None:
        raise ConflictError(
            f"plan {plan_id} is published: the crews work from it; use 'Re-plan now' on its "
            "page to make a new plan instead of editing it"
        )
    return doc


def _stops(route: RouteDoc) -> list[str]:
    return [str(s.job_id) for s in route.steps if s.type == "job" and s.job_id is not None]


def _check(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    plan_id: int,
    edit: HandEdit,
    session: WebSession,
) -> tuple[PlanDocument, EditResult]:
    from routing.dispatch.editing import edit_day  # the graph and matrices: load on use

    doc = _editable(store, plan_id, session)
    user = session.user.username
    return doc, edit_day(store, catalogue, doc, edit, user=user, settings=settings)


def _preview(
    request: Request,
    doc: PlanDocument,
    result: EditResult,
    edit: HandEdit,
    *,
    message: str = "",
) -> Response:
    tz = ZoneInfo(str(doc.timezone or "UTC"))
    units = request.app.state.city.units
    new = result.day.to_document().to_dict()
    columns = [
        c for c in plan_view.crew_columns(new, tz, units=units) if c["crew_id"] in result.changed
    ]
    old = {
        c["crew_id"]: c
        for c in plan_view.crew_columns(doc.to_dict(), tz, units=units)
        if c["crew_id"] in result.changed
    }
    violations = result.evaluation.violations
    context = {
        "plan": doc,
        "edit": edit,
        "change": edit.describe(),
        "change_label": doc.labels.get(edit.job_id, ""),
        "columns": columns,
        "before": old,
        "hard": [v for v in violations if v.hard],
        "soft": [v for v in violations if not v.hard],
        "message": message,
    }
    return render(request, "plan_edit.html", context, status_code=409 if message else 200)


@router.post("/plans/{plan_id}/edit", summary="Check a change to a plan")
def check_edit(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    plan_id: PlanId,
    form: Annotated[EditForm, Form()],
) -> Response:
    """Drive the changed routes again and show the new ETAs and what breaks (saves nothing).

    Locking and unlocking change no route: they are saved at once.
    """
    edit = form.hand_edit()
    if form.action in ("lock", "unlock"):
        deps = _EditDeps(session, store, catalogue, settings)
        return _save(request, deps, plan_id, edit, accept=False)
    doc, result = _check(store, catalogue, settings, plan_id, edit, session)
    return _preview(request, doc, result, edit)


@router.post("/plans/{plan_id}/edit/save", summary="Save a change to a plan")
def save_edit(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    plan_id: PlanId,
    form: Annotated[SaveEditForm, Form()],
) -> Response:
    """Check the change again and store it as a new plan (audited); go to that plan."""
    deps = _EditDeps(session, store, catalogue, settings)
    return _save(request, deps, plan_id, form.hand_edit(), accept=form.accept == "yes")


@dataclass(frozen=True)
class _EditDeps:
    """Who edits and with what: the dispatcher's session, the store, catalogue and settings."""

    session: WebSession
    store: Store
    catalogue: Catalogue
    settings: Settings


def _save(
    request: Request, deps: _EditDeps, plan_id: int, edit: HandEdit, *, accept: bool
) -> Response:
    from routing.dispatch.editing import save_derived

    session, store, catalogue, settings = deps.session, deps.store, deps.catalogue, deps.settings

    user = session.user.username
    doc, result = _check(store, catalogue, settings, plan_id, edit, session)
    if result.evaluation.hard:
        return _preview(
            request, doc, result, edit, message="Not saved: this change cannot be worked."
        )
    if result.evaluation.violations and not accept:
        return _preview(
            request, doc, result, edit, message="Not saved: tick 'save anyway' to accept it."
        )
    with store.begin():  # the new plan and its audit row commit together
        saved = save_derived(store, result.day, doc, kind="edited", locks=result.locks)
        crews = sorted({*result.changed, *(c for c in result.locks)})
        before = {c: _stops(doc.route(c)) for c in crews if c in doc.crew_ids()}
        after = {c: _stops(saved.route(c)) for c in crews if c in saved.crew_ids()}
        audit.record(
            store,
            user,
            "plan.edit",
            f"plan:{saved.plan_id}",
            before={"plan_id": plan_id, "routes": before, "locks": _locks_of(doc)},
            after={
                "plan_id": saved.plan_id,
                "change": edit.describe(),
                "routes": after,
                "locks": result.locks,
                "violations": [v.message for v in result.evaluation.violations],
            },
        )
    return RedirectResponse(f"/dispatch/plans/{saved.plan_id}", status_code=303)


def _locks_of(doc: PlanDocument) -> dict[str, list[str]]:
    from routing.dispatch.editing import dispatcher_locks

    return dispatcher_locks(doc)

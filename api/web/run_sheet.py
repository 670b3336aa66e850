"""A crew's printable run sheet, from the dispatcher's plan page (signed-in, no token).

The sheet is :func:`maps.itinerary.itinerary_html`: the crew's stops in route order with
ETAs, the work to do and the turn-by-turn directions between them, on one self-contained
page made for paper (no script, no map tiles, no network).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from api.deps import StoreDep
from api.plans import service as _plans
from api.principal import Principal
from api.scope import check_plan_id
from api.web.deps import PageRoute, page_user
from api.web.sessions import WebSession
from api.web.templating import staff_i18n
from geo311.plans.repo import load_plan_document
from maps.itinerary import itinerary_html

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherPage = Annotated[WebSession, Depends(page_user("dispatcher"))]
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CrewId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/plans/{plan_id}/crews/{crew_id}/sheet", summary="A crew's run sheet")
def run_sheet(
    request: Request, session: DispatcherPage, store: StoreDep, plan_id: PlanId, crew_id: CrewId
) -> HTMLResponse:
    """Return a crew's printable run sheet of a plan (404 naming the plan's crews)."""
    check_plan_id(Principal.of_user(session.user), store, plan_id)
    it = _plans.crew_itinerary(load_plan_document(store, plan_id), crew_id)
    return HTMLResponse(itinerary_html(it, i18n=staff_i18n(request)))

"""Planner endpoints for the season what-if: start a simulation, read its result and plot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import JSONResponse

from api.deps import PlannerDep, SimulationsDep, StoreDep
from api.planner.schemas import SimulationOut, SimulationRequest
from api.schemas import NON_JSON_ERRORS, STAFF_RESPONSES, Problem
from api.web import audit

router = APIRouter(
    prefix="/simulations",
    tags=["planner"],
    responses=STAFF_RESPONSES,
)
SimulationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "",
    response_model=SimulationOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a season simulation",
    responses={
        429: {"model": Problem, "description": "too many simulations are waiting; retry later"}
    },
)
def start_simulation(
    body: SimulationRequest,
    who: PlannerDep,
    runner: SimulationsDep,
    store: StoreDep,
) -> JSONResponse:
    """Replay the embedded 2015 reports with K crews (or a sweep of K) in a job worker.

    Answers at once with the simulation id and ``status='running'``; poll
    ``GET /simulations/{simulation_id}`` until ``done`` (a short replay takes seconds, a
    3-month sweep minutes). Each server process computes one simulation at a time; the others
    wait in order, and any process answers the polls.
    """
    doc = runner.submit(body, store=store, created_by=who.actor)
    out = SimulationOut.model_validate(doc).model_dump(mode="json")
    audit.record(
        store,
        who.actor,
        "simulation.start",
        f"simulation:{out['simulation_id']}",
        after=body.model_dump(mode="json", by_alias=True),
    )
    return JSONResponse(
        out,
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/simulations/{out['simulation_id']}"},
    )


@router.get(
    "/{simulation_id}",
    response_model=SimulationOut,
    summary="A simulation's status and result",
    responses={404: {"model": Problem}},
)
def get_simulation(
    simulation_id: SimulationId, _role: PlannerDep, runner: SimulationsDep, store: StoreDep
) -> dict[str, Any]:
    """Return the status (running, done or failed) and, when done, the result.

    Per service group: simulated and the City's actual days to repair, crew utilisation, the
    backlog, and the smallest crew count meeting the target.
    """
    return runner.get(store, simulation_id)


@router.get(
    "/{simulation_id}/plot.png",
    response_class=Response,
    summary="A finished simulation's plot (PNG)",
    responses={**NON_JSON_ERRORS, 200: {"content": {"image/png": {}}}},
)
def get_simulation_plot(
    simulation_id: SimulationId, _role: PlannerDep, runner: SimulationsDep, store: StoreDep
) -> Response:
    """Return the plot of days to repair (simulated vs the City) and the backlog over time.

    404 while the simulation is running or when it failed.
    """
    return Response(runner.plot(store, simulation_id), media_type="image/png")

"""The planners' three maps as HTML: request hotspots, open work orders, a plan's routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans import repo as plan_repo
from geo311.settings import Settings
from maps.stored import hotspots_figure, open_work_figure


def render_map(
    name: str, store: Store, catalogue: Catalogue, settings: Settings, *, plan_id: int | None
) -> str:
    """Return one planner map as a self-contained HTML page.

    Parameters
    ----------
    name : str
        ``hotspots``, ``open-work`` or ``plan``.
    store, catalogue, settings
        The application's objects.
    plan_id : int, keyword-only, optional
        The plan to draw (required for ``plan``).

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    InputError
        When ``plan`` is asked without ``plan_id``.
    """
    if name == "plan":
        from api.plans.service import plan_map_html

        if plan_id is None:
            raise InputError("plan_id: the plan map needs ?plan_id=<id>", field="plan_id")
        return plan_map_html(plan_repo.load_plan_document(store, plan_id), settings)
    if name == "open-work":
        fmap: Any = open_work_figure(store, catalogue, settings, at=datetime.now(UTC))
    else:
        fmap = hotspots_figure(store, catalogue, settings)
    return str(fmap.get_root().render())

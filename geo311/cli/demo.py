"""The context handed from step to step of ``geo311 demo``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import WorkOrder
from geo311.plans.document import PlanDocument
from geo311.settings import Settings


@dataclass
class DemoResults:
    """What the demo steps leave for the later ones (each field names its writer).

    Attributes
    ----------
    work_orders_built
        The import step merged the reports into work orders.
    open_work_orders
        The work orders open at the demo's moment (import step).
    plan
        The stored plan document of the demo day (routing step).
    plan_id
        Its id (routing step).
    itineraries
        The crews' itinerary files (routing step, with the maps package installed).
    maps
        The map files written (maps step).
    """

    work_orders_built: bool = False
    open_work_orders: list[WorkOrder] = field(default_factory=list)
    plan: PlanDocument | None = None
    plan_id: int | None = None
    itineraries: list[Path] = field(default_factory=list)
    maps: list[Path] = field(default_factory=list)


@dataclass
class DemoContext:
    """What each demo step gets: settings, the fresh store, the output folder, the moment.

    Steps leave results in ``results`` (:class:`DemoResults`) for later steps (the plan for the maps).
    """

    settings: Settings
    store: Store
    catalogue: Catalogue
    out_dir: Path
    at: datetime
    results: DemoResults = field(default_factory=DemoResults)

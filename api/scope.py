"""What a caller may act on: a dispatcher's district, a crew's own work.

A dispatcher with a district (:attr:`api.principal.Principal.district`) plans, edits,
re-plans and publishes only that district's plans, changes only that district's crews and
work orders, and lists only that district's work orders. A plan belongs to the district it
records (``district`` of the plan document; a plan without one covers every district); a crew
to the district of its start yard (``crews.toml``); a work order to the district whose
polygon holds it (:mod:`geo311.city.districts`). A crew reads only the work orders of its stops in
its newest published plan. Refusals are 403 naming the district (or crew) and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fastapi import HTTPException

from api.principal import Principal
from geo311.db.store import Store
from geo311.model import WorkOrder
from geo311.plans import repo as plan_repo
from geo311.settings import Settings
from geo311.staff import store as auth_store

PUBLISHED_LOOKBACK = 30
"""How many of the newest publications are searched for a crew's published plan."""


@lru_cache(maxsize=4)
def city_districts(path: str) -> Any:
    """Return the city's districts (read once per file)."""
    from geo311.city.districts import load_districts

    return load_districts(path)


def districts_of(orders: list[WorkOrder], settings: Settings) -> list[str]:
    """Return each work order's district name (``""``: outside every district)."""
    if not orders:
        return []
    areas = city_districts(str(settings.districts_file))
    return [str(n) for n in areas.assign([o.lat for o in orders], [o.lon for o in orders])]


def in_district(orders: list[WorkOrder], settings: Settings, name: str | None) -> list[WorkOrder]:
    """Return the work orders of district ``name`` (all of them for None).

    A work order belongs to the district whose polygon holds it, or the nearest one within
    the margin of :mod:`geo311.city.districts`.
    """
    if name is None or not orders:
        return list(orders)
    city_districts(str(settings.districts_file)).get(name)  # an unknown name: the known ones
    where = districts_of(orders, settings)
    return [o for o, n in zip(orders, where, strict=True) if n == name]


def _refuse(principal: Principal, what: str) -> HTTPException:
    return HTTPException(
        403,
        f"{what}; your district is {principal.district!r}: a dispatcher of a district may "
        "change only its own district's work (ask a dispatcher of every district)",
    )


def plan_district(doc: Mapping[str, Any] | Any) -> str | None:
    """Return the district a plan document records (None: a plan of every district)."""
    value = doc.get("district") if isinstance(doc, Mapping) else getattr(doc, "district", None)
    return str(value) if value else None


def check_plan(principal: Principal, doc: Mapping[str, Any] | Any, plan_id: int) -> None:
    """Refuse (403) a dispatcher of a district changing a plan of another district.

    A plan without a district covers every district: only a dispatcher without a district
    changes it.
    """
    if not principal.scoped:
        return
    district = plan_district(doc)
    if district != principal.district:
        where = f"of district {district!r}" if district else "of every district"
        raise _refuse(principal, f"plan {plan_id} is a plan {where}")


def check_plan_id(principal: Principal, store: Store, plan_id: int) -> None:
    """:func:`check_plan` for a stored plan (read only for a dispatcher of a district)."""
    if principal.scoped:
        check_plan(principal, plan_repo.get_plan(store, plan_id), plan_id)


def check_planning(principal: Principal, district: str | None) -> None:
    """Refuse (403) a dispatcher of a district planning another district (or every one)."""
    if principal.scoped and district != principal.district:
        where = f"district {district!r}" if district else "every district"
        raise _refuse(principal, f"district: you asked to plan {where}")


def check_work_order(principal: Principal, wo: WorkOrder, settings: Settings) -> None:
    """Refuse (403) a dispatcher of a district acting on a work order of another district."""
    if not principal.scoped:
        return
    (district,) = districts_of([wo], settings)
    if district != principal.district:
        where = f"in district {district!r}" if district else "outside every district"
        raise _refuse(principal, f"work order {wo.work_order_id} is {where}")


def crew_district(crew_id: str, settings: Settings) -> str | None:
    """Return the district of a crew: its start yard's (None: every district).

    A yard without a district serves every district; in a city of one district that is
    the one district.
    """
    from routing.engine.crews import load_crews

    config = load_crews(settings.crews_file)
    crew = next((c for c in config.crews if c.id == crew_id), None)
    yard = next((y for y in config.yards if crew and y.id == crew.start_yard), None)
    if yard is not None and yard.district:
        return yard.district
    names = city_districts(str(settings.districts_file)).names
    return str(names[0]) if len(names) == 1 else None


def check_crew(principal: Principal, crew_id: str, settings: Settings) -> None:
    """Refuse (403) a dispatcher of a district changing a crew of another district."""
    if not principal.scoped:
        return
    district = crew_district(crew_id, settings)
    if district != principal.district:
        where = f"of district {district!r}" if district else "of every district"
        raise _refuse(principal, f"crew {crew_id!r} is a crew {where}")


def crew_published_plan(store: Store, crew_id: str) -> dict[str, Any] | None:
    """Return the newest published plan that has a route for the crew, or None."""
    for row in auth_store.latest_publications(store, limit=PUBLISHED_LOOKBACK):
        doc = plan_repo.get_plan(store, int(row["plan_id"]))
        if any(r.get("crew_id") == crew_id for r in doc.get("routes") or []):
            return doc
    return None


def crew_work_order_ids(store: Store, crew_id: str) -> set[int]:
    """Return the work orders of a crew's stops in its newest published plan."""
    doc = crew_published_plan(store, crew_id)
    routes = [r for r in (doc or {}).get("routes") or [] if r.get("crew_id") == crew_id]
    return {
        int(ref)
        for r in routes
        for s in r.get("steps") or []
        if s.get("type") == "job" and (ref := str(s.get("ref") or "")).isdigit()
    }


def check_crew_reads(principal: Principal, store: Store, work_order_id: int) -> None:
    """Refuse (403) a crew reading a work order that is none of its published stops."""
    if principal.role == "crew" and work_order_id not in crew_work_order_ids(
        store, str(principal.crew_id)
    ):
        raise HTTPException(
            403,
            f"work order {work_order_id} is not a stop of crew {principal.crew_id!r} in its "
            "published plan; a crew token reads only its own crew's work",
        )

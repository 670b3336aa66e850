"""A handful of Back Bay / South End service requests for the dispatch, itinerary and CLI tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.workorders.grouping import rebuild_work_orders

TZ = ZoneInfo("America/New_York")
AT = datetime(2015, 10, 6, 7, 0, tzinfo=TZ)

# (id, service code, lat, lon, address, days before AT)
POINTS = [
    ("r-boylston", "streetlight_outage", 42.34990, -71.07760, "500 Boylston St", 20),
    ("r-columbus", "streetlight_outage", 42.34700, -71.07200, "100 Columbus Ave", 3),
    ("r-tremont", "general_lighting", 42.34410, -71.07020, "600 Tremont St", 10),
    ("r-newbury", "streetlight_knockdown", 42.35040, -71.08010, "200 Newbury St", 1),
    ("r-berkeley", "pothole", 42.34860, -71.07270, "200 Berkeley St", 2),
    ("r-clarendon", "pothole", 42.34800, -71.07400, "100 Clarendon St", 1),
]
FAR = ("r-dorchester", "streetlight_outage", 42.30000, -71.05000, "1 Far Away Rd", 5)


def request(
    rid: str, code: str, lat: float, lon: float, address: str, days: float
) -> ServiceRequest:
    return ServiceRequest(
        service_request_id=rid,
        service_code=code,
        status="open",
        requested_datetime=AT - timedelta(days=days),
        source="test",
        source_id=rid,
        address=address,
        lat=lat,
        long=lon,
    )


def fill(store: Store, catalogue: Catalogue, *, far: bool = True, build: bool = True) -> None:
    for p in POINTS + ([FAR] if far else []):
        request_repo.add_request(store, request(*p))
    if build:
        rebuild_work_orders(store, catalogue)

"""Synthetic work orders for the map tests and bench/map_bench.py (random but reproducible)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from geo311.city.catalogue import Catalogue
from geo311.model import WorkOrder

BACK_BAY_BOX = (42.3440, -71.0920, 42.3560, -71.0700)  # min lat, min lon, max lat, max lon
CODES = ("pothole", "streetlight_outage", "general_lighting", "streetlight_knockdown")


def synthetic_work_orders(
    n: int,
    catalogue: Catalogue,
    *,
    at: datetime,
    seed: int = 0,
    box: tuple[float, float, float, float] = BACK_BAY_BOX,
    closed_share: float = 0.0,
) -> list[WorkOrder]:
    """Return ``n`` work orders spread uniformly over ``box``, opened up to 600 h before ``at``.

    The first four use each of :data:`CODES` once; addresses hold ``<&>`` to test escaping.
    """
    rng = random.Random(seed)
    min_lat, min_lon, max_lat, max_lon = box
    out = []
    for i in range(n):
        code = CODES[i % len(CODES)] if i < len(CODES) else rng.choice(CODES)
        service = catalogue.service(code)
        opened = at - timedelta(hours=rng.uniform(1, 600))
        out.append(
            WorkOrder(
                work_order_id=i + 1,
                service_group=service.group,
                service_code=code,
                lat=rng.uniform(min_lat, max_lat),
                lon=rng.uniform(min_lon, max_lon),
                opened=opened,
                sla_due=opened + service.sla,
                report_count=rng.randint(1, 5),
                status="fixed" if rng.random() < closed_share else "open",
                address=f"{rng.randint(1, 400)} Boylston St <&>",
            )
        )
    return out

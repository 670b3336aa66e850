"""The context handed from step to step of ``geo311 demo``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.settings import Settings


@dataclass
class DemoContext:
    """What each demo step gets: settings, the fresh store, the output folder, the moment.

    Steps may leave results in ``results`` for later steps (e.g. the plan for the maps).
    """

    settings: Settings
    store: Store
    catalogue: Catalogue
    out_dir: Path
    at: datetime
    results: dict[str, Any] = field(default_factory=dict)

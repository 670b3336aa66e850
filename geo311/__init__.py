"""geo311: a geospatial work-order optimizer for city 311 services.

The core package: domain model, city profile, service catalogue, import, geocoding, clustering
of duplicate reports into work orders, the store and the service metrics. It imports none of
``routing``, ``maps`` or ``api``.

The public functions and classes are importable from here (``from geo311 import Store,
import_file``); each is loaded on first use, so ``import geo311`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geo311.lazy import lazy_exports

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "Catalogue": "geo311.city.catalogue",
    "load_catalogue": "geo311.city.catalogue",
    "City": "geo311.city.profile",
    "default_city": "geo311.city.profile",
    "load_city": "geo311.city.profile",
    "ConfigurationError": "geo311.errors",
    "ConflictError": "geo311.errors",
    "GeocodingError": "geo311.errors",
    "Geo311Error": "geo311.errors",
    "InputError": "geo311.errors",
    "NotFoundError": "geo311.errors",
    "RoutingError": "geo311.errors",
    "Geocoder": "geo311.geocoding.geocoder",
    "geocode_csv": "geo311.geocoding.batch",
    "geocode_pending_requests": "geo311.geocoding.batch",
    "ImportOptions": "geo311.ingest.importer",
    "ImportSummary": "geo311.ingest.importer",
    "import_file": "geo311.ingest.importer",
    "backlog_by_age": "geo311.requests.metrics",
    "compute_metrics": "geo311.requests.metrics",
    "requests_frame": "geo311.requests.metrics",
    "service_metrics": "geo311.requests.metrics",
    "work_orders_frame": "geo311.requests.metrics",
    "ServiceRequest": "geo311.model",
    "WorkOrder": "geo311.model",
    "is_placeholder_point": "geo311.model",
    "Settings": "geo311.settings",
    "get_settings": "geo311.settings",
    "Store": "geo311.db.store",
    "apply_status": "geo311.workorders.workflow",
    "check_transition": "geo311.workorders.workflow",
    "assign_request": "geo311.workorders.grouping",
    "close_work_order": "geo311.workorders.closing",
    "open_work_orders_at": "geo311.workorders.open_view",
    "rebuild_work_orders": "geo311.workorders.grouping",
}

__all__ = [
    "__version__",
    "Catalogue",
    "City",
    "ConfigurationError",
    "ConflictError",
    "Geo311Error",
    "Geocoder",
    "GeocodingError",
    "ImportOptions",
    "ImportSummary",
    "InputError",
    "NotFoundError",
    "RoutingError",
    "ServiceRequest",
    "Settings",
    "Store",
    "WorkOrder",
    "apply_status",
    "assign_request",
    "backlog_by_age",
    "check_transition",
    "close_work_order",
    "compute_metrics",
    "default_city",
    "geocode_csv",
    "geocode_pending_requests",
    "get_settings",
    "import_file",
    "is_placeholder_point",
    "load_catalogue",
    "load_city",
    "open_work_orders_at",
    "rebuild_work_orders",
    "requests_frame",
    "service_metrics",
    "work_orders_frame",
]

if TYPE_CHECKING:
    from geo311.city.catalogue import Catalogue, load_catalogue
    from geo311.city.profile import City, default_city, load_city
    from geo311.db.store import Store
    from geo311.errors import (
        ConfigurationError,
        ConflictError,
        Geo311Error,
        GeocodingError,
        InputError,
        NotFoundError,
        RoutingError,
    )
    from geo311.geocoding.batch import geocode_csv, geocode_pending_requests
    from geo311.geocoding.geocoder import Geocoder
    from geo311.ingest.importer import ImportOptions, ImportSummary, import_file
    from geo311.model import ServiceRequest, WorkOrder, is_placeholder_point
    from geo311.requests.metrics import (
        backlog_by_age,
        compute_metrics,
        requests_frame,
        service_metrics,
        work_orders_frame,
    )
    from geo311.settings import Settings, get_settings
    from geo311.workorders.closing import close_work_order
    from geo311.workorders.grouping import assign_request, rebuild_work_orders
    from geo311.workorders.open_view import open_work_orders_at
    from geo311.workorders.workflow import apply_status, check_transition

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

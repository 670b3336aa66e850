"""geo311: a geospatial work-order optimizer for city 311 services.

The core package: domain model, service catalogue, import, geocoding, clustering of
duplicate reports into work orders, the store and the service metrics. It imports none
of ``routing``, ``maps`` or ``api``.
"""

__version__ = "0.1.0"

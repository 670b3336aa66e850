"""One settings object for the whole application (environment prefix ``GEO311_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class Settings(BaseSettings):
    """Application settings, read from ``GEO311_*`` environment variables or a ``.env`` file.

    Core functions never read settings themselves: callers pass what they need.
    """

    model_config = SettingsConfigDict(env_prefix="GEO311_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///geo311.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
    )
    data_dir: Path = Field(default=REPO_DATA_DIR, description="folder of the embedded data")
    timezone: str = Field(default="America/New_York", description="the city's local time zone")
    solver_time_limit_s: float = Field(default=10.0, gt=0, description="OR-Tools time limit")
    solver_seed: int = Field(default=0, description="seed for reproducible plans")
    api_keys: list[str] = Field(
        default_factory=list, description="Open311 api_key values allowed to POST requests"
    )
    staff_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="bearer token -> role ('dispatcher', 'planner' or 'crew:<crew id>')",
    )
    max_request_bytes: int = Field(default=1_000_000, gt=0, description="largest accepted body")
    cluster_address: str | None = Field(
        default=None,
        description="Dask scheduler for district plans and sweeps (tcp://scheduler:8786); "
        "unset: a local cluster on this machine's cores",
    )

    @property
    def services_file(self) -> Path:
        """Path of the service catalogue (``services.toml``)."""
        return self.data_dir / "services.toml"

    @property
    def crews_file(self) -> Path:
        """Path of the default crews and yard (``crews.toml``)."""
        return self.data_dir / "crews.toml"

    @property
    def boston_311_file(self) -> Path:
        """Path of the embedded Boston 311 2015 export."""
        return self.data_dir / "boston311" / "boston311_2015_streetlights_potholes.csv.gz"

    @property
    def osm_drive_file(self) -> Path:
        """Path of the embedded OSM drivable-street extract."""
        return self.data_dir / "osm" / "boston_backbay_drive.osm.bz2"

    @property
    def osm_addresses_file(self) -> Path:
        """Path of the embedded OSM address points."""
        return self.data_dir / "osm" / "boston_backbay_addresses.osm.bz2"

    @property
    def boundary_file(self) -> Path:
        """Path of the district outline (GeoJSON)."""
        return self.data_dir / "osm" / "boston_backbay_boundary.geojson"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once from the environment).

    Returns
    -------
    Settings
        The settings object.
    """
    return Settings()

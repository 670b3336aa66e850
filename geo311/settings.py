"""One settings object for the whole application (environment prefix ``GEO311_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo311.city import City, default_city

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
    city_file: Path | None = Field(
        default=None,
        description="the city profile (city.toml); default <data_dir>/city.toml, else the embedded one",
    )
    timezone: str = Field(
        default="", description="the city's local time zone; default the city profile's"
    )
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
    media_dir: Path = Field(
        default=Path("media"), description="folder of the photos posted with reports"
    )
    max_media_bytes: int = Field(
        default=5_000_000, gt=0, description="largest accepted photo (on top of the body limit)"
    )

    @model_validator(mode="after")
    def _city_defaults(self) -> Settings:
        if self.city_file is None:
            # A data folder without a profile of its own (e.g. only other crews) keeps the
            # embedded city.
            own = self.data_dir / "city.toml"
            self.city_file = own if own.is_file() else REPO_DATA_DIR / "city.toml"
        if not self.timezone:
            self.timezone = self.city.timezone
        return self

    @property
    def city(self) -> City:
        """The city profile of :attr:`city_file` (read once per process and path)."""
        return default_city(str(self.city_file or REPO_DATA_DIR / "city.toml"))

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

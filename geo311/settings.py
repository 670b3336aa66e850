"""One settings object for the whole application (environment prefix ``GEO311_``)."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo311.city.profile import City, default_city
from geo311.embedded import EMBEDDED_DATA_DIR, user_data_dir
from geo311.errors import ConfigurationError

REPO_DATA_DIR = EMBEDDED_DATA_DIR
"""The embedded data folder (:data:`geo311.embedded.EMBEDDED_DATA_DIR`)."""


class Settings(BaseSettings):
    """Application settings, read from ``GEO311_*`` environment variables or a ``.env`` file.

    Core functions never read settings themselves: callers pass what they need.
    """

    model_config = SettingsConfigDict(env_prefix="GEO311_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{user_data_dir() / 'geo311.db'}",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db; "
        "default a geo311.db in the user data folder (GEO311_HOME, else ~/.local/share/geo311)",
    )
    data_dir: Path = Field(
        default=REPO_DATA_DIR,
        description="data folder (OSM extracts for the geocoder); default the city folder",
    )
    city_dir: Path | None = Field(
        default=None,
        description="the city profile folder (city.toml, services, crews, districts, streets); "
        "default the data folder (the embedded profile)",
    )
    city_file: Path | None = Field(
        default=None,
        description="the city profile (city.toml); default <city_dir>/city.toml, else the embedded one",
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
        description="bearer token -> role ('dispatcher', 'planner', 'crew:<crew id>', or "
        "'dispatcher@<district name>' for a dispatcher limited to one district)",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="addresses or CIDR networks of the reverse proxies in front of the app, "
        "comma-separated (e.g. 127.0.0.1,10.0.0.0/8): X-Forwarded-For and X-Forwarded-Proto "
        "are believed from these only (the rightmost hop not in the list is the client); "
        "empty: the client is the connection's address",
    )
    max_request_bytes: int = Field(default=1_000_000, gt=0, description="largest accepted body")
    cluster_address: str | None = Field(
        default=None,
        description="Dask scheduler for district plans and sweeps (tcp://scheduler:8786); "
        "unset: a local cluster on this machine's cores",
    )
    media_dir: Path = Field(
        default_factory=lambda: user_data_dir() / "media",
        description="folder of the photos posted with reports; default media/ in the user "
        "data folder (GEO311_HOME, else ~/.local/share/geo311)",
    )
    cache_dir: Path = Field(
        default_factory=lambda: user_data_dir() / "cache",
        description="folder of results worth keeping between runs (the calibrated what-if's "
        "fitted City policies, keyed by the data they were fitted on); default cache/ in the "
        "user data folder",
    )
    max_media_bytes: int = Field(
        default=5_000_000, gt=0, description="largest accepted photo (on top of the body limit)"
    )
    report_limit_per_ip: int = Field(
        default=20,
        ge=0,
        description="reports taken per hour from one client address (Open311 POST and the "
        "report page; 0: no limit)",
    )
    report_limit_per_email: int = Field(
        default=5, ge=0, description="reports taken per hour with one e-mail address (0: no limit)"
    )
    report_limit_ip_exempt_keys: list[str] = Field(
        default_factory=list,
        description="api_key values of relays (e.g. FixMyStreet) that post many citizens' "
        "reports from one address: no per-address limit (the per-e-mail one still applies)",
    )
    # -- citizen notifications (geo311.notify) ------------------------------------------
    smtp_host: str = Field(default="localhost", description="SMTP relay host")
    smtp_port: int = Field(default=25, gt=0, description="SMTP relay port (587 with STARTTLS)")
    smtp_user: str = Field(default="", description="SMTP login user (empty: no login)")
    smtp_password: str = Field(default="", repr=False, description="SMTP login password")
    smtp_starttls: bool = Field(default=False, description="upgrade the SMTP link with STARTTLS")
    smtp_timeout_s: float = Field(default=30.0, gt=0, description="SMTP socket timeout")
    mail_from: str = Field(
        default="geo311 <noreply@localhost>", description="From: of citizen e-mails"
    )
    public_url: str = Field(
        default="http://localhost:8000",
        description="public base URL of the site (status and unsubscribe links in messages)",
    )
    notify_secret: str = Field(
        default="", repr=False, description="secret that signs one-click unsubscribe links"
    )
    notify_max_attempts: int = Field(
        default=8, gt=0, description="delivery attempts before a message goes to the dead list"
    )
    notify_backoff_s: float = Field(
        default=30.0, ge=0, description="first retry delay; doubles per attempt (max 6 h)"
    )
    notify_webhook_timeout_s: float = Field(default=10.0, gt=0, description="webhook timeout")
    notify_sender_in_serve: bool = Field(
        default=True, description="geo311 serve also runs the notification sender"
    )
    # -- serving ---------------------------------------------------------------------------------
    request_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="threads of each server process that run the requests' blocking work "
        "(database, geocoding); Python's threads share one core per process, so more of them "
        "only queue for it: scale with `geo311 serve --workers` instead",
    )
    # -- planning and simulation jobs (geo311.plans.jobs) -------------------------------------
    job_workers: int = Field(
        default=1,
        ge=0,
        le=32,
        description="planning runs each server process solves side by side (0: none here; "
        "each process also runs one simulation at a time unless this is 0)",
    )
    job_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="a job worker's lease, renewed every third of it; a dead worker's job is "
        "taken over by another once it expires",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        """Read a comma-separated list (or a JSON list); every entry must be an address/CIDR."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if not isinstance(value, list | tuple):
            return value
        entries = []
        for entry in (str(v).strip() for v in value if str(v).strip()):
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address or CIDR network; "
                    "write e.g. 127.0.0.1 or 10.0.0.0/8"
                ) from None
            entries.append(str(network) if "/" in entry else entry)
        return entries

    @property
    def public_base(self) -> str:
        """The base of the URLs the site stores and publishes (photos, Open311 discovery).

        :attr:`public_url` without its trailing ``/`` when it is configured
        (``GEO311_PUBLIC_URL``); unset, ``""``: such URLs are then site-relative
        (``/media/...``), never built from a request's ``Host`` header, which a client
        chooses.
        """
        return self.public_url.rstrip("/") if "public_url" in self.model_fields_set else ""

    @property
    def notify_templates_dir(self) -> Path:
        """Folder of the notification templates (``templates/notify``)."""
        return self.data_dir / "templates" / "notify"

    @model_validator(mode="after")
    def _city_defaults(self) -> Settings:
        if self.city_dir is None:
            self.city_dir = self.data_dir
        else:
            if not (self.city_dir / "city.toml").is_file():
                raise ConfigurationError(
                    f"city_dir {self.city_dir} holds no city.toml; create the profile with "
                    "`geo311 city init DIR --name NAME --osm FILE --timezone TZ`",
                    field="city_dir",
                )
            if "data_dir" not in self.model_fields_set:
                self.data_dir = self.city_dir
        if self.city_file is None:
            # A data folder without a profile of its own (e.g. only other crews) keeps the
            # embedded city.
            own = self.city_dir / "city.toml"
            self.city_file = own if own.is_file() else REPO_DATA_DIR / "city.toml"
        if not self.timezone:
            self.timezone = self.city.timezone
        return self

    @property
    def city(self) -> City:
        """The city profile of :attr:`city_file` (read once per process and path)."""
        return default_city(str(self.city_file or REPO_DATA_DIR / "city.toml"))

    @property
    def folder(self) -> Path:
        """The city folder: :attr:`city_dir` (set by the validator)."""
        return self.city_dir or self.data_dir

    def _file(self, key: str) -> Path:
        """Return a file of the city profile, inside the city folder."""
        name = self.city.files.get(key, "")
        if not name:
            raise ConfigurationError(
                f"the city profile {self.city_file} names no {key} file; add "
                f'`{key} = "..."` to its [files] or [osm] table',
                field=key,
            )
        return self.folder / name

    @property
    def services_file(self) -> Path:
        """Path of the service catalogue (``services.toml``)."""
        return self._file("services")

    @property
    def crews_file(self) -> Path:
        """Path of the crews and yards (``crews.toml``)."""
        return self._file("crews")

    @property
    def sample_requests_file(self) -> Path:
        """Path of the city's sample 311 export (``[files] sample_requests``, used by the demo)."""
        return self._file("sample_requests")

    @property
    def osm_drive_file(self) -> Path:
        """Path of the city's OSM street extract (``[osm] streets``)."""
        return self._file("streets")

    @property
    def osm_addresses_file(self) -> Path:
        """Path of the city's OSM address points (``[osm] addresses``)."""
        return self._file("addresses")

    @property
    def districts_file(self) -> Path:
        """Path of the city's districts (GeoJSON polygons with a ``name``)."""
        return self._file("districts")

    @property
    def boundary_file(self) -> Path:
        """Path of the district outline drawn on maps (the districts file)."""
        return self.districts_file


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once from the environment).

    Returns
    -------
    Settings
        The settings object.
    """
    return Settings()

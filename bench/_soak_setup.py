"""Set-up of ``bench/ops_soak.py``: a PostgreSQL schema, a city folder with 25 crews, the demo
data and the staff users, and the ``geo311 serve`` process (start, SIGKILL, restart)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
API_KEY = "soak-api-key"
PASSWORD = "a long soak password"
PROBE = "/open311/v2/discovery.json"
# Asphalt crews for potholes, electrical crews for streetlights, as in data/crews.toml.
CREW_KINDS = (("pothole", 13), ("streetlight", 12))


def crew_ids() -> list[str]:
    """Return the soak's 25 crew ids, the two kinds in turn (``streetlight-1``,
    ``pothole-1``, ``streetlight-2``, ...), so that the first N crews have both kinds."""
    ids = [[f"{kind}-{i}" for i in range(1, n + 1)] for kind, n in CREW_KINDS]
    turn = [c for pair in zip(ids[1], ids[0], strict=False) for c in pair]
    return turn + ids[0][len(ids[1]) :]


def crews_toml() -> str:
    """Return a crews file with the city's yard and 25 crews copied from its two crew kinds.

    Shifts and the yard's hours span the whole day (00:00-23:59), so that a plan made "now"
    has work for the crews whenever the soak runs.
    """
    base = tomllib.loads((DATA / "crews.toml").read_text(encoding="utf-8"))
    lines = [f"timezone = {json.dumps(base['timezone'])}", ""]
    all_day = {"open": "00:00", "close": "23:59", "shift": ["00:00", "23:59"]}
    for yard_id, yard in base["yards"].items():
        lines.append(f"[yards.{yard_id}]")
        lines += [f"{k} = {_toml_value(all_day.get(k, v))}" for k, v in yard.items()]
        lines.append("")
    for kind, n in CREW_KINDS:
        model = base["crews"][f"{kind}-1"]
        for i in range(1, n + 1):
            lines.append(f"[crews.{kind}-{i}]")
            for k, v in model.items():
                value = f"{kind.title()} crew {i} (soak)" if k == "label" else all_day.get(k, v)
                lines.append(f"{k} = {_toml_value(value)}")
            lines.append("")
    return "\n".join(lines)


def _toml_value(v: object) -> str:
    """Write a TOML value (strings, numbers, booleans, lists and inline tables of them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))


def city_folder(tmp: Path) -> Path:
    """Write a city folder: the embedded profile's files (linked) and a 25-crew ``crews.toml``."""
    folder = tmp / "city"
    folder.mkdir()
    for entry in DATA.iterdir():
        if entry.name != "crews.toml":
            (folder / entry.name).symlink_to(entry)
    (folder / "crews.toml").write_text(crews_toml(), encoding="utf-8")
    return folder


def new_schema(admin_url: str) -> tuple[str, str]:
    """Create a fresh schema; return its name and a database URL that uses it."""
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in admin_url else "?"
    return schema, f"{admin_url}{sep}options=-csearch_path%3D{schema}"


def drop_schema(admin_url: str, schema: str) -> None:
    """Drop the soak's schema and everything in it."""
    engine = sa.create_engine(admin_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def fill_store(url: str, city: Path) -> dict[str, Any]:
    """Import the embedded demo data, build the work orders and add the staff users.

    Users: ``soak-dispatcher``, ``soak-planner`` and one ``crew-<crew id>`` per crew (role
    ``crew:<crew id>``), all with :data:`PASSWORD`; as ``geo311 users add`` makes them.
    Returns the counts (``requests``, ``work_orders``) and the planner's API ``token``.
    """
    from geo311.city.catalogue import load_catalogue
    from geo311.db.store import Store
    from geo311.ingest.importer import ImportOptions, import_file
    from geo311.settings import Settings
    from geo311.staff import users
    from geo311.workorders.grouping import rebuild_work_orders

    settings = Settings(database_url=url, city_dir=city)
    with Store(url) as store:
        catalogue = load_catalogue(settings.services_file)
        import_file(
            store,
            settings.sample_requests_file,
            catalogue,
            ImportOptions(timezone=settings.timezone),
        )
        rebuild_work_orders(store, catalogue)
        users.create_user(store, "soak-dispatcher", role="dispatcher", password=PASSWORD)
        users.create_user(store, "soak-planner", role="planner", password=PASSWORD)
        for crew in crew_ids():
            users.create_user(store, f"crew-{crew}", role=f"crew:{crew}", password=PASSWORD)
        token = users.issue_token(store, "soak-planner")
        return {
            "requests": request_repo.count_requests(store),
            "work_orders": len(work_order_repo.query_work_orders(store)),
            "token": token,
        }


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``geo311 serve`` on 127.0.0.1 in a process of its own: started, killed, restarted."""

    url: str
    city: Path
    tmp: Path
    time_limit_s: float
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def base(self) -> str:
        """The server's base URL (loopback)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Return the server's environment: this tree's code, the soak's store and city."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith("GEO311_")}
        return {
            **keep,
            "PYTHONPATH": str(REPO),
            "GEO311_DATABASE_URL": self.url,
            "GEO311_CITY_DIR": str(self.city),
            "GEO311_API_KEYS": json.dumps([API_KEY]),
            "GEO311_MEDIA_DIR": str(self.tmp / "media"),
            "GEO311_NOTIFY_SENDER_IN_SERVE": "false",
            "GEO311_SOLVER_TIME_LIMIT_S": str(self.time_limit_s),
            "GEO311_PUBLIC_URL": self.base,
            # the 50 citizens all come from 127.0.0.1: they post as a relay exempt from the
            # per-address report limit (in a city they are 50 addresses)
            "GEO311_REPORT_LIMIT_IP_EXEMPT_KEYS": json.dumps([API_KEY]),
            **self.extra_env,
        }

    def start(self, *, timeout_s: float = 120.0) -> float:
        """Start ``geo311 serve`` on the port; return the seconds until it answered."""
        command = [sys.executable, "-c", "from geo311.cli.app import main; main()", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        log = (self.tmp / f"server-{self.starts}.log").open("wb")
        t0 = time.monotonic()
        # its own process group: a kill takes the server with any process it started
        self.proc = subprocess.Popen(
            command,
            env=self.env(),
            cwd=self.tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"geo311 serve exited with {self.proc.returncode}; see {log.name}"
                )
            try:
                if httpx.get(self.base + PROBE, timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"geo311 serve did not answer {PROBE} in {timeout_s:.0f} s")

    def kill(self) -> None:
        """SIGKILL the server and the processes it started (no clean shutdown); reap it."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after 20 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)  # the group gets it: the server and its children
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=20)
            return
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def _signal_group(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the server's process group (the group this soak created; only
        while its leader, the server, has not been reaped, so the id is still ours)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)


def clean(tmp: Path) -> None:
    """Remove the soak's temporary folder."""
    shutil.rmtree(tmp, ignore_errors=True)

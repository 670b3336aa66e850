"""geo311 installed from its wheel (not editable) runs the demo and serves its pages anywhere.

The wheel is built from this checkout and installed into a new virtual environment; the
dependencies come from the test's own environment (a ``.pth`` line), so the test needs no
network. The demo runs in an empty folder with ``GEO311_HOME`` pointing elsewhere: the
embedded data must be found inside the installed package, every page asset must ship in the
wheel, and nothing may be written into the current folder but the outputs asked for.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow
_NOT_SOURCES = (".git", ".venv", "out", "build", "*.egg-info", "__pycache__", ".*_cache", "media")


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel of this checkout installed (not editable)."""
    work = tmp_path_factory.mktemp("wheel")
    dist, venv = work / "dist", work / "venv"
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCES))
    # --no-build-isolation: setuptools and wheel come from the dev dependencies, not the network
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(dist), str(source)],
        cwd=work,
    )
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    wheel = next(dist.glob("geo311-*.whl"))
    # installed before the dependencies are visible, or pip would find the editable geo311
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--no-index", str(wheel)],
        env=_env(work),
    )
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    deps = Path(purelib.stdout.strip())
    (deps / "_geo311_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _env(home: Path, **extra: str) -> dict[str, str]:
    # no GEO311_* settings and no PYTHONPATH: only the installed package is seen
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO311_") and k != "PYTHONPATH"}
    return {**env, "GEO311_HOME": str(home), **extra}


def test_embedded_data_is_found_inside_the_installed_package(
    installed: Path, tmp_path: Path
) -> None:
    code = "import geo311.embedded as e, geo311; print(e.EMBEDDED_DATA_DIR); print(geo311.__file__)"
    done = _run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env(tmp_path))
    data_dir, module = done.stdout.split()
    assert data_dir.startswith(str(installed)) and module.startswith(str(installed))
    assert (Path(data_dir) / "city.toml").is_file()
    assert (Path(data_dir) / "osm" / "boston_backbay_drive.osm.bz2").is_file()


def test_the_installed_package_speaks_spanish(installed: Path, tmp_path: Path) -> None:
    code = (
        "from geo311.i18n import LOCALES_DIR, available_languages, translations; "
        "print(LOCALES_DIR); print(available_languages()); "
        "print(translations('es').gettext('Send report'))"
    )
    done = _run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, env=_env(tmp_path))
    where, languages, words = done.stdout.strip().splitlines()
    assert where.startswith(str(installed)) and "'es'" in languages
    assert words == "Enviar aviso"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, deadline: float) -> tuple[int, str]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback)
                return answer.status, answer.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_demo_and_serve_from_the_wheel_in_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    here, home = tmp_path / "empty", tmp_path / "home"
    here.mkdir()
    geo311 = str(installed / "bin" / "geo311")
    _run([geo311, "demo"], cwd=here, env=_env(home))
    assert sorted(p.name for p in here.iterdir()) == ["out"]  # nothing else in the folder
    assert (here / "out" / "routes.html").stat().st_size > 0
    port = _free_port()
    env = _env(
        home,
        GEO311_DATABASE_URL=f"sqlite:///{here / 'out' / 'demo.db'}",
        GEO311_NOTIFY_SENDER_IN_SERVE="false",
    )
    server = subprocess.Popen(
        [geo311, "serve", "--port", str(port)],
        cwd=here,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        status, script = _get(f"http://127.0.0.1:{port}/static/staff/crew.js", deadline)
        assert status == 200 and "function" in script
        status, page = _get(f"http://127.0.0.1:{port}/login", deadline)
        assert status == 200 and 'name="password"' in page
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert sorted(p.name for p in here.iterdir()) == ["out"]

"""Where geo311's embedded files live, installed or in a source tree; where it writes its own.

The embedded city (profile, catalogue, crews, OSM extracts, sample requests, e-mail templates)
ships inside the installed package as ``geo311/data`` (the wheel maps the source tree's top-level
``data/`` folder there, see ``setup.py``) and is found through :mod:`importlib.resources`; in a
source checkout (an editable install, or ``PYTHONPATH``) it is the top-level ``data/`` folder.
A city's own profile folder (``--city DIR`` / ``GEO311_CITY_DIR``) still overrides it.

Files geo311 creates without being told where (the default SQLite database, citizens' photos)
go to a per-user data folder (:func:`user_data_dir`), never into the current directory.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path

__all__ = ["EMBEDDED_DATA_DIR", "HOME_ENV", "embedded_data_dir", "user_data_dir"]

HOME_ENV = "GEO311_HOME"
"""Environment variable naming the folder for geo311's own files (database, photos)."""


def embedded_data_dir() -> Path:
    """Return the folder of the embedded data: the installed package's, else the source tree's.

    Returns
    -------
    Path
        A folder holding ``city.toml``, ``services.toml``, ``crews.toml``, ``osm/`` ...
    """
    packaged = Path(str(files("geo311").joinpath("data")))
    if (packaged / "city.toml").is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "data"


def user_data_dir() -> Path:
    """Return the folder for the files geo311 makes by default (not created here).

    ``$GEO311_HOME`` when set; else the platform's per-user data folder: ``$XDG_DATA_HOME/geo311``
    or ``~/.local/share/geo311`` on Linux, ``~/Library/Application Support/geo311`` on macOS,
    ``%LOCALAPPDATA%/geo311`` on Windows.
    """
    own = os.environ.get(HOME_ENV)
    if own:
        return Path(own).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "geo311"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "geo311"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "geo311"


EMBEDDED_DATA_DIR = embedded_data_dir()
"""The embedded data folder of this installation (:func:`embedded_data_dir`)."""

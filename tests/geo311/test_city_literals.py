"""Nothing city-specific in package code: the city is data (``data/`` and a city profile folder)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("geo311", "routing", "maps", "api")
SUFFIXES = {".py", ".html", ".j2", ".jinja", ".js", ".css", ".toml", ".txt", ".md"}

# Literals of one city: its name, time zone, jurisdiction, the City Hall placeholder point and
# a neighbourhood name (docstrings and comments included).
LITERALS = {
    "Boston": re.compile(r"boston", re.I),
    "America/New_York": re.compile(r"America/New_York"),
    "boston.gov": re.compile(r"boston\.gov", re.I),
    "placeholder lat": re.compile(r"42\.359"),
    "placeholder lon": re.compile(r"71\.058"),
    "Back Bay": re.compile(r"back\s+bay", re.I),  # (boston_backbay is caught as Boston)
}

# Where "Boston" is allowed, and why (no other literal is allowed anywhere):
# - the Boston CSV export schema is a supported input format, like Open311 JSON; its reader,
#   the import pipeline, the catalogue's `boston_types` column map, the request model's
#   source name `boston` and the season replay of such an export name the format;
# - the geocoder's docstrings show how US 311 exports write addresses (input examples).
FORMAT_MODULES = {
    "geo311/ingest/boston.py",
    "geo311/ingest/boston_rows.py",
    "geo311/ingest/importer.py",
    "geo311/ingest/rows.py",
    "geo311/ingest/open311_json.py",
    "geo311/city/catalogue.py",
    "geo311/model.py",
    "routing/simulate/run.py",
    "routing/simulate/season.py",
}
GEOCODER_EXAMPLES = {
    "geo311/geocoding/geocoder.py",
    "geo311/geocoding/address.py",
    "geo311/geocoding/index.py",
    "geo311/geocoding/osm.py",
    "geo311/geocoding/extracts.py",
    "geo311/geocoding/results.py",
}
ALLOWED = {("Boston", m) for m in FORMAT_MODULES | GEOCODER_EXAMPLES}


def _package_files() -> list[Path]:
    return sorted(
        p
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*")
        if p.is_file() and p.suffix in SUFFIXES and "migrations" not in p.parts
    )


def find_city_literals() -> list[str]:
    """Return ``file:line: literal`` for every city literal in package code."""
    hits = []
    for path in _package_files():
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for name, pattern in LITERALS.items():
                if pattern.search(line) and (name, rel) not in ALLOWED:
                    hits.append(f"{rel}:{number}: {name}: {line.strip()[:100]}")
    return hits


def test_package_code_holds_no_city_literal() -> None:
    hits = find_city_literals()
    assert not hits, "city literals in package code (move them to the city profile):\n" + "\n".join(
        hits
    )


def test_the_grep_finds_a_literal_where_one_is_written(tmp_path: Path, monkeypatch) -> None:
    # The check itself can fail: a module of a package with the time zone in it is found.
    fake = tmp_path / "routing"
    fake.mkdir()
    (fake / "x.py").write_text('TZ = "America/New_York"  # Back Bay\n')
    (fake / "_boston_like.py").write_text('"""Boston."""\n')
    for pkg in ("geo311", "maps", "api"):
        (tmp_path / pkg).mkdir()
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    hits = find_city_literals()
    assert len(hits) == 3
    assert any("America/New_York" in h for h in hits) and any("Back Bay" in h for h in hits)
    assert any("_boston_like.py:1: Boston" in h for h in hits)


def test_the_allow_list_names_existing_modules() -> None:
    for module in FORMAT_MODULES | GEOCODER_EXAMPLES:
        assert (ROOT / module).is_file(), f"{module} is gone: drop it from the allow-list"

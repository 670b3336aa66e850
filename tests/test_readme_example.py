"""The README's "From Python" example runs as written and produces what it promises."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README has no python block under '## From Python'"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(_example(), str(README), "exec"), {"__name__": "readme_example"})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    plan_id, served = re.search(r"^(\d+) (\d+) jobs served$", out, flags=re.M).groups()  # type: ignore[union-attr]
    assert int(plan_id) >= 1 and int(served) > 0
    assert (tmp_path / "routes.html").stat().st_size > 0
    assert (tmp_path / "assets").is_dir()
    gpx = sorted((tmp_path / "itineraries").glob("*.gpx"))
    assert gpx and all(p.read_text().startswith("<?xml") for p in gpx)

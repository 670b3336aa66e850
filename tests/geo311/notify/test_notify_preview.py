"""``geo311 notify preview``: a city checks its edited e-mail templates (and the README shots)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from geo311.cli.app import _register_plugins, app


def test_preview_renders_the_scheduled_email_with_a_one_hour_window() -> None:
    if not any(getattr(c, "name", None) == "plan" for c in app.registered_commands):
        _register_plugins()  # once per process, as the other CLI tests do
    result = CliRunner().invoke(app, ["notify", "preview", "scheduled"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Subject: A crew is scheduled: Pothole repair (101)")
    # Boston's locale (en_US) writes "9:30 AM"
    window = re.search(r"between (\d+):(\d\d)\W(AM|PM) and (\d+):(\d\d)\W(AM|PM)", result.output)
    assert window is not None, result.output
    start, end = (int(window[1]), int(window[2])), (int(window[4]), int(window[5]))
    assert start[1] == end[1] == 30 and (end[0] - start[0]) % 12 == 1
    html = CliRunner().invoke(app, ["notify", "preview", "scheduled", "--html"])
    assert html.exit_code == 0 and "<html" in html.output and "Hello Ada" in html.output

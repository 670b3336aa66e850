"""Render citizen e-mails with ``geo311 notify preview --html`` and screenshot them (README).

Usage: python docs/notify_screenshots.py [EVENT ...]   (default: scheduled closed)

Each event's e-mail is rendered by the same command a city runs to check its edited templates
(``geo311 notify preview EVENT --html``: the templates in ``data/templates/notify/``, sample
values), framed with its From / To / Subject lines and screenshotted with Playwright and the
system Chromium (``/usr/bin/chromium``, no network) into ``docs/img/notify_EVENT.png``.
The settings come from the environment (e.g. ``GEO311_MAIL_FROM``, ``GEO311_PUBLIC_URL``).
"""

from __future__ import annotations

import html
import sys
import tempfile
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo311.cli.app import _register_plugins, app  # noqa: E402
from geo311.settings import get_settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FRAME = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<style>body{{margin:0;background:#fff}} .env{{font:13px/1.5 sans-serif;color:#333;
padding:14px 24px;border-bottom:1px solid #ccc;margin:0 16px}}</style></head><body>
<div class="env">From: {sender}<br>To: ada@example.org<br><b>Subject: {subject}</b></div>
<iframe srcdoc="{body}" style="border:0;width:100%;height:1200px"></iframe></body></html>"""


def preview(event: str) -> tuple[str, str]:
    """Return the subject and the HTML part of ``geo311 notify preview EVENT --html``."""
    result = CliRunner().invoke(app, ["notify", "preview", event, "--html"])
    if result.exit_code != 0:
        raise SystemExit(f"geo311 notify preview {event} failed: {result.output}")
    head, _, body = result.output.partition("\n\n")
    subject = head.splitlines()[0].removeprefix("Subject: ")
    return subject, body


def main(events: list[str]) -> None:
    """Write ``docs/img/notify_EVENT.png`` for each event."""
    from playwright.sync_api import sync_playwright

    _register_plugins()
    sender = get_settings().mail_from
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 600, "height": 560})
        for event in events:
            subject, body = preview(event)
            framed = Path(tmp) / f"{event}.html"
            framed.write_text(
                FRAME.format(
                    sender=html.escape(sender), subject=html.escape(subject), body=html.escape(body)
                ),
                encoding="utf-8",
            )
            page.goto(framed.as_uri())
            out = ROOT / "docs" / "img" / f"notify_{event}.png"
            page.screenshot(path=str(out))
            print(f"{out.relative_to(ROOT)}: {subject}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:] or ["scheduled", "closed"])

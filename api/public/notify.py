"""The links of citizen e-mails: unsubscribe, and confirm the address.

``/notify/unsubscribe/{token}`` and ``/notify/confirm/{token}``.

The signed token is the capability (no login, no CSRF token: the link itself is the secret).
GET shows a confirmation page with one button; POST unsubscribes, which is also what mail
clients send for RFC 8058 one-click (``List-Unsubscribe-Post``). Confirming works the same
way (a GET only shows the button: mail scanners that open links confirm nothing).
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep, StoreDep
from geo311.errors import InputError, NotFoundError
from geo311.notify import confirm as confirm_address_of
from geo311.notify import unsubscribe

router = APIRouter(prefix="/notify", tags=["citizens"], include_in_schema=False)
Token = Annotated[str, Path(max_length=500, pattern=r"^[A-Za-z0-9_.\-]+$")]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:18px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;
color:#111}} button{{font-size:1.1rem;padding:.7rem 1.2rem;border:2px solid #0b2545;
background:#0b2545;color:#fff;border-radius:6px}}</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status)


@router.get("/unsubscribe/{token}", summary="Confirm unsubscribing")
def confirm(token: Token) -> HTMLResponse:
    """Show one button that stops the e-mails about this report."""
    form = (
        f'<p>Stop the e-mails about your 311 reports?</p><form method="post" '
        f'action="/notify/unsubscribe/{escape(token)}"><button type="submit">'
        "Unsubscribe</button></form>"
    )
    return _page("Unsubscribe", form)


@router.post("/unsubscribe/{token}", summary="Unsubscribe")
def do_unsubscribe(token: Token, store: StoreDep, settings: SettingsDep) -> HTMLResponse:
    """Opt the reporter out (every request of their address) and drop what is queued."""
    try:
        with store.begin() as conn:
            unsubscribe(conn, token, secret=settings.notify_secret)
    except InputError:
        return _page(
            "Link not valid",
            "<p>This unsubscribe link is not valid. Use the link from the e-mail as it is.</p>",
            400,
        )
    except NotFoundError:
        return _page("Nothing to unsubscribe", "<p>No e-mail address is kept for it.</p>", 404)
    return _page("Unsubscribed", "<p>You will get no more e-mails about your reports.</p>")


@router.get("/confirm/{token}", summary="Confirm an e-mail address (the button)")
def confirm_page(token: Token) -> HTMLResponse:
    """Show one button that confirms the address (news about this and later reports)."""
    form = (
        "<p>Get e-mails about your 311 reports at this address: when a crew is scheduled and "
        f'when the work is done?</p><form method="post" action="/notify/confirm/{escape(token)}">'
        '<button type="submit">Confirm my e-mail address</button></form>'
    )
    return _page("Confirm your e-mail address", form)


@router.post("/confirm/{token}", summary="Confirm an e-mail address")
def do_confirm(token: Token, store: StoreDep, settings: SettingsDep) -> HTMLResponse:
    """Confirm the reporter's address; an address that unsubscribed stays unsubscribed."""
    try:
        with store.begin() as conn:
            state = confirm_address_of(conn, token, secret=settings.notify_secret)
    except InputError as exc:
        return _page("Link not valid", f"<p>{escape(str(exc).capitalize())}.</p>", 400)
    except NotFoundError:
        return _page("Nothing to confirm", "<p>No e-mail address is kept for it.</p>", 404)
    if state == "unsubscribed":
        return _page(
            "Unsubscribed earlier",
            "<p>This address asked for no more e-mails, so it gets none.</p>",
        )
    return _page("Address confirmed", "<p>Thank you. We will write about your reports.</p>")

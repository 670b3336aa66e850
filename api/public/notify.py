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

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep, StoreDep
from api.public.language import city_localizer, request_language
from geo311.errors import InputError, NotFoundError
from geo311.i18n import Localizer
from geo311.notify import confirm as confirm_address_of
from geo311.notify import unsubscribe

router = APIRouter(prefix="/notify", tags=["citizens"], include_in_schema=False)
Token = Annotated[str, Path(max_length=500, pattern=r"^[A-Za-z0-9_.\-]+$")]

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:18px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;
color:#111}} button{{font-size:1.1rem;padding:.7rem 1.2rem;border:2px solid #0b2545;
background:#0b2545;color:#fff;border-radius:6px}}</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def _words(request: Request) -> Localizer:
    """Return the reader's words: the e-mail's link carries the language, else the browser's."""
    city = request.app.state.city
    return city_localizer(city, request_language(request, city))


def _page(tr: Localizer, title: str, text: str, status: int = 200, form: str = "") -> HTMLResponse:
    body = f"<p>{escape(text)}</p>{form}"
    page = _PAGE.format(lang=escape(tr.language), title=escape(title), body=body)
    return HTMLResponse(page, status_code=status)


def _button(action: str, label: str) -> str:
    return (
        f'<form method="post" action="{escape(action)}"><button type="submit">'
        f"{escape(label)}</button></form>"
    )


@router.get("/unsubscribe/{token}", summary="Confirm unsubscribing")
def confirm(request: Request, token: Token) -> HTMLResponse:
    """Show one button that stops the e-mails about this report."""
    tr = _words(request)
    action = f"/notify/unsubscribe/{token}?{request.url.query}".rstrip("?")
    form = _button(action, tr.gettext("Unsubscribe"))
    return _page(
        tr,
        tr.gettext("Unsubscribe"),
        tr.gettext("Stop the e-mails about your 311 reports?"),
        form=form,
    )


@router.post("/unsubscribe/{token}", summary="Unsubscribe")
def do_unsubscribe(
    request: Request, token: Token, store: StoreDep, settings: SettingsDep
) -> HTMLResponse:
    """Opt the reporter out (every request of their address) and drop what is queued."""
    tr = _words(request)
    try:
        with store.begin() as conn:
            unsubscribe(conn, token, secret=settings.notify_secret)
    except InputError:
        return _page(
            tr,
            tr.gettext("Link not valid"),
            tr.gettext(
                "This unsubscribe link is not valid. Use the link from the e-mail as it is."
            ),
            400,
        )
    except NotFoundError:
        text = tr.gettext("No e-mail address is kept for it.")
        return _page(tr, tr.gettext("Nothing to unsubscribe"), text, 404)
    text = tr.gettext("You will get no more e-mails about your reports.")
    return _page(tr, tr.gettext("Unsubscribed"), text)


@router.get("/confirm/{token}", summary="Confirm an e-mail address (the button)")
def confirm_page(request: Request, token: Token) -> HTMLResponse:
    """Show one button that confirms the address (news about this and later reports)."""
    tr = _words(request)
    action = f"/notify/confirm/{token}?{request.url.query}".rstrip("?")
    form = _button(action, tr.gettext("Confirm my e-mail address"))
    text = tr.gettext(
        "Get e-mails about your 311 reports at this address: when a crew is scheduled and "
        "when the work is done?"
    )
    return _page(tr, tr.gettext("Confirm your e-mail address"), text, form=form)


@router.post("/confirm/{token}", summary="Confirm an e-mail address")
def do_confirm(
    request: Request, token: Token, store: StoreDep, settings: SettingsDep
) -> HTMLResponse:
    """Confirm the reporter's address; an address that unsubscribed stays unsubscribed."""
    tr = _words(request)
    try:
        with store.begin() as conn:
            state = confirm_address_of(conn, token, secret=settings.notify_secret)
    except InputError:
        text = tr.gettext("This confirmation link is not valid or has expired.")
        return _page(tr, tr.gettext("Link not valid"), text, 400)
    except NotFoundError:
        text = tr.gettext("No e-mail address is kept for it.")
        return _page(tr, tr.gettext("Nothing to confirm"), text, 404)
    if state == "unsubscribed":
        text = tr.gettext("This address asked for no more e-mails, so it gets none.")
        return _page(tr, tr.gettext("Unsubscribed earlier"), text)
    text = tr.gettext("Thank you. We will write about your reports.")
    return _page(tr, tr.gettext("Address confirmed"), text)

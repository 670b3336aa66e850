"""Render a queued event into a citizen e-mail from the city's editable templates.

Templates live in ``data/templates/notify/`` (the ``notify_templates_dir`` setting), one pair
per event type: ``{event}.txt`` (first line ``Subject: ...``) and ``{event}.html``. A pair named
``{event}.{service_code}.txt`` / ``.html`` overrides them for one service. They are Jinja2
templates (HTML autoescaped) and see the event payload plus ``status_url``,
``unsubscribe_url``, ``city``, ``eta_window``, ``first_name`` (and ``confirm_url`` in the
``confirm`` message an address gets before it confirmed).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from geo311.city.profile import default_city
from geo311.errors import ConfigurationError
from geo311.i18n import Localizer, install, localizer
from geo311.notify.confirm import confirm_path
from geo311.notify.unsubscribe import unsubscribe_path

_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, _UTF8_QP)  # quoted-printable: readable in the raw message
    return part


def message_id(idempotency_key: str, *, domain: str) -> str:
    """Return the e-mail Message-ID of an outbox row: the same key gives the same id.

    Parameters
    ----------
    idempotency_key : str
        The outbox row's idempotency key (event id + recipient).
    domain : str
        The sender's domain.

    Returns
    -------
    str
        ``<hash@domain>``; a resend after a crash carries the same id, so a mailbox that
        drops repeated Message-IDs shows the message once.
    """
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}.geo311@{domain}>"


def _eta_window(payload: dict[str, Any], i18n: Localizer) -> str:
    if not payload.get("eta_start") or not payload.get("eta_end"):
        return ""
    start = datetime.fromisoformat(payload["eta_start"])
    end = datetime.fromisoformat(payload["eta_end"])
    return i18n.gettext("%(day)s between %(start)s and %(end)s") % {
        "day": i18n.weekday(start),
        "start": i18n.time(start),
        "end": i18n.time(end),
    }


class Renderer:
    """Turn outbox payloads into e-mails.

    Parameters
    ----------
    templates_dir : Path
        Folder of the templates.
    public_url : str, keyword-only
        The site's public base URL (links to ``/requests/{id}`` and the unsubscribe page).
    secret : str, keyword-only
        The ``notify_secret`` setting (signs unsubscribe links).
    mail_from : str, keyword-only
        The From: header, e.g. ``City 311 <noreply@311.example.gov>``.
    timezone : str, keyword-only, optional
        Local time of dates in messages; default the city's.
    """

    def __init__(
        self,
        templates_dir: Path,
        *,
        public_url: str,
        secret: str,
        mail_from: str,
        timezone: str | None = None,
    ) -> None:
        if not templates_dir.is_dir():
            raise ConfigurationError(
                f"notification templates folder {templates_dir} does not exist; point "
                "GEO311_DATA_DIR at a data folder with templates/notify/",
                field="data_dir",
            )
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        install(self.env)  # {% trans %}: the reporter's language (the payload's `language`)
        self.public_url = public_url.rstrip("/")
        self.secret = secret
        self.mail_from = mail_from
        addresses = getaddresses([mail_from])
        if not addresses or "@" not in addresses[0][1]:
            raise ConfigurationError(
                f"mail_from {mail_from!r} has no e-mail address; set GEO311_MAIL_FROM to e.g. "
                "'City 311 <noreply@city.gov>'",
                field="mail_from",
            )
        self.envelope_from = addresses[0][1]
        self.domain = self.envelope_from.rsplit("@", 1)[1]
        city = default_city()
        self.city = city.name
        self.tz = ZoneInfo(timezone or city.timezone)
        self.locale, self.units, self.languages = city.locale, city.units, city.languages
        self.texts = city.translations

    def localizer(self, language: str | None) -> Localizer:
        """Return the reporter's :class:`~geo311.i18n.Localizer` (else the city's language).

        Parameters
        ----------
        language : str or None
            The language stored with the report's contact; one the city no longer offers
            falls back to the city's default.
        """
        chosen = language if language in self.languages else self.languages[0]
        return localizer(
            chosen,
            city_locale=self.locale,
            timezone=str(self.tz),
            units=self.units,
            city_texts=self.texts.get(chosen, {}),
        )

    def _template(self, event_type: str, service_code: str, ext: str) -> jinja2.Template:
        names = [f"{event_type}.{service_code}.{ext}", f"{event_type}.{ext}"]
        try:
            return self.env.select_template(names)
        except jinja2.TemplatesNotFound:
            raise ConfigurationError(
                f"no notification template {names[-1]} in the templates folder; add it",
                field="data_dir",
            ) from None

    def context(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the template variables of an outbox payload."""
        # Fields that may stand in a Subject line hold one line, whatever a citizen typed.
        one_line = {
            k: " ".join(str(payload.get(k) or "").split())
            for k in ("address", "service_name", "service_request_id", "first_name")
        }
        i18n = self.localizer(payload.get("language"))
        one_line["service_name"] = i18n.city(one_line["service_name"])  # the city's word for it
        # the links open their pages in the reporter's language (the city's needs no ?lang=)
        lang = f"?lang={i18n.language}" if i18n.language != self.languages[0] else ""
        rid = payload["service_request_id"]
        return {
            **payload,
            **one_line,
            "i18n": i18n,
            "city": self.city,
            "status_url": self.public_url + payload["status_path"] + lang,
            "unsubscribe_url": self.public_url + unsubscribe_path(rid, secret=self.secret) + lang,
            "eta_window": _eta_window(payload, i18n),
            "confirm_url": (
                self.public_url + confirm_path(rid, secret=self.secret) + lang
                if payload.get("type") == "confirm"
                else ""
            ),
        }

    def email(self, payload: dict[str, Any], *, to: str, idempotency_key: str) -> Message:
        """Render the e-mail of one outbox row.

        Parameters
        ----------
        payload : dict
            The row's payload (the event and the reporter's first name).
        to : str, keyword-only
            The recipient's address.
        idempotency_key : str, keyword-only
            The row's key; the Message-ID derives from it.

        Returns
        -------
        Message
            A multipart/alternative message (plain text and HTML, UTF-8).
        """
        ctx = self.context(payload)
        kind, code = payload["type"], payload.get("service_code", "")
        text = self._template(kind, code, "txt").render(ctx)
        subject, _, body = text.partition("\n")
        if not subject.startswith("Subject:"):
            raise ConfigurationError(
                f"template {kind}.txt must start with a 'Subject: ...' line", field="data_dir"
            )
        # The compat32 MIME classes: several times faster to build and flatten than
        # EmailMessage's header objects, which dominated the sender's time.
        msg = MIMEMultipart("alternative")
        # One line whatever a field holds (an address from a citizen may carry CR/LF).
        title = " ".join(subject.removeprefix("Subject:").split())
        msg["Subject"] = title if title.isascii() else Header(title, "utf-8").encode()
        msg["From"] = self.mail_from
        msg["To"] = to
        msg["Message-ID"] = message_id(idempotency_key, domain=self.domain)
        msg["Date"] = format_datetime(datetime.fromisoformat(payload["occurred_at"]))
        msg["Auto-Submitted"] = "auto-generated"
        msg["List-Unsubscribe"] = f"<{ctx['unsubscribe_url']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["X-Geo311-Event"] = payload["event_id"]
        msg.attach(_text_part(body.lstrip("\n"), "plain"))
        msg.attach(_text_part(self._template(kind, code, "html").render(ctx), "html"))
        return msg

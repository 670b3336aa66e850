"""Delivery channels: how one queued message leaves geo311 (e-mail over SMTP, webhooks).

A channel is anything with ``send(delivery) -> None`` that raises :class:`DeliveryError`
when the message did not go out; an SMS channel would plug in the same way (a ``channel``
value in the outbox and an entry in the sender's channel map).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass
from email.policy import compat32
from typing import Any, Protocol

import httpx

from geo311.errors import Geo311Error
from geo311.notify.templates import Renderer

# SMTP wants CRLF line ends (smtplib leaves a bytes message as it is); headers fold only past
# the hard limit of 998, so a long unsubscribe URL stays on its header line.
_SMTP_LINES = compat32.clone(linesep="\r\n", max_line_length=998)


@dataclass(frozen=True)
class Delivery:
    """One outbox row being delivered.

    Attributes
    ----------
    id : int
        The outbox row.
    idempotency_key : str
        Event id + recipient; the same on every attempt.
    channel : str
        ``email`` or ``webhook``.
    address : str
        The e-mail address, or the webhook's URL.
    payload : dict
        The event (plus the reporter's first name for e-mail).
    attempt : int
        This attempt's number (1 for the first).
    secret : str
        The webhook's signing secret (empty for e-mail).
    """

    id: int
    idempotency_key: str
    channel: str
    address: str
    payload: dict[str, Any]
    attempt: int
    secret: str = ""


class DeliveryError(Geo311Error):
    """A message did not go out; ``permanent`` when trying again cannot help (dead-letter now)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    """What the sender needs of a channel."""

    def send(self, delivery: Delivery) -> None:
        """Deliver one message or raise :class:`DeliveryError`."""

    def close(self) -> None:
        """Release connections."""


class SmtpChannel:
    """E-mail through an SMTP relay, one connection kept open across messages.

    Parameters
    ----------
    renderer : Renderer
        Builds the e-mail from the templates.
    host, port : str, int, keyword-only
        The relay.
    user, password : str, keyword-only
        Login (skipped when ``user`` is empty).
    starttls : bool, keyword-only
        Upgrade the connection with STARTTLS before logging in.
    timeout_s : float, keyword-only
        Socket timeout.
    """

    def __init__(
        self,
        renderer: Renderer,
        *,
        host: str,
        port: int,
        user: str = "",
        password: str = "",
        starttls: bool = False,
        timeout_s: float = 30.0,
    ) -> None:
        self.renderer = renderer
        self.host, self.port = host, port
        self.user, self.password, self.starttls = user, password, starttls
        self.timeout_s = timeout_s
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None and time.monotonic() - self._last_used > 10:
            try:  # an idle connection the relay may have dropped: check before using it
                self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            self._smtp = smtp
        return self._smtp

    def send(self, delivery: Delivery) -> None:
        """Send the row's e-mail; 5xx answers are permanent failures, the rest temporary."""
        msg = self.renderer.email(
            delivery.payload, to=delivery.address, idempotency_key=delivery.idempotency_key
        )
        try:
            smtp = self._connection()
            data = msg.as_bytes(policy=_SMTP_LINES)
            refused = smtp.sendmail(self.renderer.envelope_from, [delivery.address], data)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"SMTP refused {delivery.address}: {exc.recipients}",
                permanent=all(c >= 500 for c in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPSenderRefused)
            raise DeliveryError(
                f"SMTP {exc.smtp_code} {exc.smtp_error!r}", permanent=permanent
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc!r}") from None
        finally:
            self._last_used = time.monotonic()
        if refused:
            raise DeliveryError(f"SMTP refused {delivery.address}: {refused}", permanent=True)

    def close(self) -> None:
        """Quit the SMTP connection if one is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def signature(body: bytes, secret: str) -> str:
    """Return the ``X-Geo311-Signature`` value of a webhook body: ``sha256=<hex HMAC>``.

    Parameters
    ----------
    body : bytes
        The exact request body.
    secret : str
        The webhook's secret.

    Returns
    -------
    str
        The header value; a receiver recomputes it and compares with ``hmac.compare_digest``.
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Answers that a later attempt may turn into a success; other 4xx are the receiver refusing.
_RETRYABLE_4XX = {408, 409, 425, 429}


class WebhookChannel:
    """JSON POST to a subscribed URL, signed, with the row's ``Idempotency-Key``.

    Parameters
    ----------
    timeout_s : float, keyword-only
        Request timeout.
    client : httpx.Client, keyword-only, optional
        The HTTP client (default: a new one).
    """

    def __init__(self, *, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, delivery: Delivery) -> None:
        """POST the event; a 2xx answer is success, 5xx / 408 / 429 / network errors retry."""
        body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "geo311-notify/1",
            "Idempotency-Key": delivery.idempotency_key,
            "X-Geo311-Event": str(delivery.payload.get("type", "")),
            "X-Geo311-Delivery-Attempt": str(delivery.attempt),
            "X-Geo311-Signature": signature(body, delivery.secret),
        }
        try:
            response = self.client.post(delivery.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {delivery.address}: {exc!r}") from None
        code = response.status_code
        if 200 <= code < 300:
            return
        permanent = 300 <= code < 500 and code not in _RETRYABLE_4XX
        raise DeliveryError(
            f"webhook {delivery.address} answered {code}: {response.text[:200]!r}",
            permanent=permanent,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

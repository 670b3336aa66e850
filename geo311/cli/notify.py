"""``geo311 notify``: run the outbox sender, list and retry dead messages, preview templates.

Registered through the ``geo311.commands`` entry point (``register``); ``python -m
geo311.notify`` runs the same commands without the installed entry point.
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from geo311.cli.options import DatabaseOption
from geo311.db.store import Store
from geo311.notify.channels import SmtpChannel, WebhookChannel
from geo311.notify.contacts import add_webhook
from geo311.notify.events import EVENT_TYPES
from geo311.notify.outbox import list_outbox, retry, status_path
from geo311.notify.sender import Sender
from geo311.notify.templates import Renderer
from geo311.notify.unsubscribe import unsubscribe_token
from geo311.settings import Settings, get_settings


def _settings(database_url: str | None) -> Settings:
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def renderer_from_settings(settings: Settings) -> Renderer:
    """Return the e-mail renderer configured by ``settings`` (fails early on a missing secret)."""
    unsubscribe_token("0", secret=settings.notify_secret)
    return Renderer(
        settings.notify_templates_dir,
        public_url=settings.public_url,
        secret=settings.notify_secret,
        mail_from=settings.mail_from,
        timezone=settings.timezone,
    )


def sender_from_settings(settings: Settings, engine: Engine) -> Sender:
    """Return a sender with the SMTP and webhook channels configured by ``settings``.

    Parameters
    ----------
    settings : Settings
        SMTP (``smtp_*``, ``mail_from``), links (``public_url``, ``notify_secret``) and
        retries (``notify_max_attempts``, ``notify_backoff_s``).
    engine : Engine
        The database.

    Returns
    -------
    Sender
        The sender (not started).
    """
    smtp = SmtpChannel(
        renderer_from_settings(settings),
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        timeout_s=settings.smtp_timeout_s,
    )
    hooks = WebhookChannel(timeout_s=settings.notify_webhook_timeout_s)
    return Sender(
        engine,
        {"email": smtp, "webhook": hooks},
        max_attempts=settings.notify_max_attempts,
        backoff_s=settings.notify_backoff_s,
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_command(
    once: Annotated[
        bool, typer.Option("--once", help="deliver what is due now, then exit")
    ] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="messages per pass")] = 100,
    poll: Annotated[float, typer.Option(help="seconds between polls when idle")] = 1.0,
    database_url: DatabaseOption = None,
) -> None:
    """Deliver queued notifications (e-mail, webhooks) until stopped, or once with --once."""
    settings = _settings(database_url)
    with (
        Store(settings.database_url) as store,
        sender_from_settings(settings, store.engine) as sender,
    ):
        if once:
            report = sender.drain(batch=batch)
        else:
            report = sender.run(batch=batch, poll_s=poll, stop=_stop_on_signals())
    typer.echo(report.line())


def dead_command(
    limit: Annotated[int, typer.Option(help="messages to list")] = 50,
    database_url: DatabaseOption = None,
) -> None:
    """List dead-lettered messages (all attempts failed) with their last error."""
    settings = _settings(database_url)
    with Store(settings.database_url) as store, store.engine.connect() as conn:
        rows = list_outbox(conn, status="dead", limit=limit)
    typer.echo(f"{len(rows)} dead message(s)")
    for r in rows:
        typer.echo(
            f"  {r.id:<8} {r.event_type:<10} {r.channel:<8} {r.address:<40} "
            f"attempts {r.attempts}  {r.last_error[:120]}"
        )


def retry_command(
    outbox_id: Annotated[int, typer.Argument(help="the message id (geo311 notify dead)")],
    database_url: DatabaseOption = None,
) -> None:
    """Queue a dead message again, due now, with a fresh round of attempts."""
    settings = _settings(database_url)
    with Store(settings.database_url) as store, store.begin() as conn:
        retry(conn, outbox_id)
    typer.echo(f"message {outbox_id} queued again")


def webhook_add_command(
    url: Annotated[str, typer.Argument(help="the receiver's URL")],
    secret: Annotated[str, typer.Option(help="HMAC-SHA256 signing secret (16+ characters)")],
    events: Annotated[str, typer.Option(help="comma-separated event types, or *")] = "*",
    database_url: DatabaseOption = None,
) -> None:
    """Subscribe a webhook URL to notification events."""
    settings = _settings(database_url)
    wanted = tuple(e.strip() for e in events.split(",") if e.strip())
    with Store(settings.database_url) as store, store.begin() as conn:
        webhook_id = add_webhook(conn, url, secret=secret, events=wanted)
    typer.echo(f"webhook {webhook_id} -> {url} ({','.join(wanted)})")


def preview_command(
    event: Annotated[str, typer.Argument(help=f"one of {', '.join(EVENT_TYPES)}, or confirm")],
    service: Annotated[str, typer.Option(help="service code (per-service templates)")] = "",
    html: Annotated[bool, typer.Option("--html", help="print the HTML part")] = False,
    language: Annotated[
        str, typer.Option(help="the reporter's language (one of the city's `languages`)")
    ] = "",
) -> None:
    """Render an event's e-mail with sample values, to check edited templates."""
    settings = get_settings()
    if not settings.notify_secret:
        settings = settings.model_copy(update={"notify_secret": "preview-only-secret-0123456789"})
    renderer = renderer_from_settings(settings)
    now = datetime.now(UTC)
    eta = now.replace(minute=30, second=0, microsecond=0) + timedelta(hours=2)  # a published ETA
    payload = {
        "event_id": f"{event}:101", "type": event, "service_request_id": "101",
        "work_order_id": 7, "service_code": service, "service_name": "Pothole repair",
        "address": "1 Boylston St", "status": "fixed", "note": "Filled with hot asphalt.",
        "neighbours": 3, "eta_start": eta.isoformat(),
        "eta_end": (eta + timedelta(hours=1)).isoformat(), "occurred_at": now.isoformat(),
        "status_path": status_path("101"), "first_name": "Ada", "language": language,
    }  # fmt: skip
    msg = renderer.email(payload, to="ada@example.org", idempotency_key=f"{event}:101|preview")
    wanted = "text/html" if html else "text/plain"
    part = next(p for p in msg.walk() if p.get_content_type() == wanted)
    subject = str(make_header(decode_header(str(msg["Subject"]))))
    typer.echo(f"Subject: {subject}\nMessage-ID: {msg['Message-ID']}\n")
    typer.echo(part.get_payload(decode=True).decode())  # type: ignore[union-attr]


def notify_app() -> typer.Typer:
    """Return the ``notify`` command group (run, dead, retry, webhook-add, preview)."""
    notify = typer.Typer(
        help="Citizen notifications: the outbox sender and its dead letters.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    notify.command("run")(run_command)
    notify.command("dead")(dead_command)
    notify.command("retry")(retry_command)
    notify.command("webhook-add")(webhook_add_command)
    notify.command("preview")(preview_command)
    return notify


def register(app: typer.Typer) -> None:
    """Add ``geo311 notify run|dead|retry|webhook-add|preview`` to the geo311 CLI.

    Parameters
    ----------
    app : typer.Typer
        The geo311 application.
    """
    app.add_typer(notify_app(), name="notify")

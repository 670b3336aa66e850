"""Citizen notifications through a transactional outbox (e-mail over SMTP, signed webhooks).

State changes call :func:`enqueue` / :func:`enqueue_work_order` with their own transaction's
connection; ``geo311 notify run`` (:class:`~geo311.notify.sender.Sender`) delivers the rows.
"""

from __future__ import annotations

from geo311.notify.confirm import (
    address_state,
    confirm,
    confirm_address,
    confirm_path,
    suppress_address,
)
from geo311.notify.contacts import (
    add_webhook,
    contact_values,
    save_contact,
    save_contacts,
    set_webhook_active,
)
from geo311.notify.events import EVENT_TYPES, Event, WorkOrderEvent
from geo311.notify.outbox import enqueue, enqueue_work_order, list_outbox, retry, status_path
from geo311.notify.unsubscribe import unsubscribe, unsubscribe_path, unsubscribe_token

__all__ = [
    "EVENT_TYPES",
    "Event",
    "WorkOrderEvent",
    "add_webhook",
    "address_state",
    "confirm",
    "confirm_address",
    "confirm_path",
    "contact_values",
    "enqueue",
    "enqueue_work_order",
    "list_outbox",
    "retry",
    "save_contact",
    "save_contacts",
    "set_webhook_active",
    "status_path",
    "suppress_address",
    "unsubscribe",
    "unsubscribe_path",
    "unsubscribe_token",
]

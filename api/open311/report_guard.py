"""What guards a posted report (Open311 POST and the report page): limits and its photo.

* Limits per client address and per e-mail address (:mod:`geo311.requests.limits`): checked
  before the slow work, counted in the report's own transaction; over a limit the answer is
  the spec's error list with code 429 and a ``Retry-After`` header.
* The photo is checked before anything is stored but put in place only once the report has
  committed (:func:`geo311.requests.media.stage_image`): a refused report leaves no file behind.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from starlette.exceptions import HTTPException

from api.errors import Open311HTTPError
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.requests.limits import Limits, TooManyReports, check_reports, count_report
from geo311.requests.media import StagedImage, stage_image
from geo311.settings import Settings


@dataclass(frozen=True)
class Gate:
    """The limits that apply to one posted report and whom it counts against."""

    limits: Limits
    ip: str
    email: str
    now: datetime

    def check(self, store: Store) -> None:
        """Refuse early (a 429) a report that would be over a limit; counts nothing."""
        try:
            check_reports(store, self.limits, ip=self.ip, email=self.email, now=self.now)
        except TooManyReports as exc:
            raise too_many(exc) from None

    def count(self, store: Store) -> None:
        """Count the report in the open transaction of ``store`` (a 429 rolls it back)."""
        try:
            count_report(store, self.limits, ip=self.ip, email=self.email, now=self.now)
        except TooManyReports as exc:
            raise too_many(exc) from None


def gate_of(
    request: Request, settings: Settings, *, api_key: str | None, email: str, now: datetime
) -> Gate:
    """Return the :class:`Gate` of a posted report.

    The client address is the one uvicorn reports (it trusts ``X-Forwarded-For`` from the
    proxies of ``FORWARDED_ALLOW_IPS``, by default 127.0.0.1); posts carrying an api_key in
    ``report_limit_ip_exempt_keys`` (a relay of many citizens) skip the per-address limit.
    """
    if request.url.path.startswith("/report."):
        api_key = None  # the report page's POST checks no api_key: none exempts it
    exempt = api_key is not None and any(
        hmac.compare_digest(api_key.encode(), k.encode())
        for k in settings.report_limit_ip_exempt_keys
    )
    limits = Limits(
        per_ip=0 if exempt else settings.report_limit_per_ip,
        per_email=settings.report_limit_per_email,
    )
    ip = request.client.host if request.client else ""
    return Gate(limits=limits, ip=ip, email=email.strip(), now=now)


def too_many(exc: TooManyReports) -> HTTPException:
    """Return the 429 of a report over a limit (the spec's error list, with ``Retry-After``)."""
    return HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})


def stage_photo(data: bytes, settings: Settings) -> StagedImage:
    """Check an uploaded photo and write it under a temporary name (see :mod:`geo311.requests.media`).

    Raises
    ------
    Open311HTTPError
        413 when it is larger than ``settings.max_media_bytes``; 400 when it is not a JPEG,
        PNG or WebP image, is damaged or has too many pixels.
    """
    if len(data) > settings.max_media_bytes:
        raise Open311HTTPError(
            413,
            f"media: the photo has {len(data):,} bytes, more than {settings.max_media_bytes:,};"
            " send a smaller photo",
        )
    try:
        return stage_image(data, media_dir=settings.media_dir, max_bytes=settings.max_media_bytes)
    except InputError as exc:
        raise Open311HTTPError(400, str(exc)) from None

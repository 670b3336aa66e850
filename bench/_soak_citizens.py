"""The citizens of ``bench/ops_soak.py``: Open311 reports (some with a photo, a few with a
control character), each with an ``Idempotency-Key``; now and then a resend or a list read."""

from __future__ import annotations

import random
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

from _soak_http import Http, Tally, photo
from _soak_setup import API_KEY

# Back Bay / South End: inside the street extract the crews are planned on.
BOX = (42.338, -71.090, 42.352, -71.068)
CODES = ("pothole", "pothole", "streetlight_outage", "general_lighting")
BAD = ("\x00", "\x0b")  # a NUL byte, a vertical tab


@dataclass
class SentReport:
    """One report (one key): its answers' statuses and the id each 2xx answer gave."""

    key: str
    photo: bool
    bad: bool
    statuses: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    @property
    def acked(self) -> bool:
        """Whether any send was answered 2xx with a request id."""
        return bool(self.ids)


class Citizen(threading.Thread):
    """A resident reporting until ``end`` (a report every few seconds)."""

    def __init__(self, http: Http, *, end: float, since: datetime, seed: int):
        super().__init__(name=f"citizen-{seed}", daemon=True)
        self.http = http
        self.end = end
        self.since = since
        self.rng = random.Random(seed)
        self.sent: list[SentReport] = []
        self.malformed_xml = 0

    def run(self) -> None:
        """Report, sometimes resend the same key, sometimes read the public list."""
        while time.monotonic() < self.end:
            report = self.report()
            if report.acked and self.rng.random() < 0.1:
                self.post(report, self._form(report))  # a retry after a lost answer
            if self.rng.random() < 0.05:
                self.read_xml()
            time.sleep(self.rng.uniform(2.0, 6.0))

    def _form(self, report: SentReport) -> dict[str, str]:
        rng = random.Random(report.key)  # the same body for every send of one key
        text = f"soak report {report.key}"
        if report.bad:
            bad = BAD[int(report.key[0], 16) % len(BAD)]
            text += f" with a {bad!r} here: {bad}."
        return {
            "api_key": API_KEY,
            "service_code": rng.choice(CODES),
            "lat": f"{rng.uniform(BOX[0], BOX[2]):.6f}",
            "long": f"{rng.uniform(BOX[1], BOX[3]):.6f}",
            "description": text,
        }

    def report(self) -> SentReport:
        """Post one new report (a new key); 25 % carry a photo, 4 % a control character."""
        report = SentReport(
            uuid.uuid4().hex, photo=self.rng.random() < 0.25, bad=self.rng.random() < 0.04
        )
        self.sent.append(report)
        self.post(report, self._form(report))
        return report

    def post(self, report: SentReport, form: dict[str, str]) -> None:
        """Send the report (multipart with its photo, else form-encoded); record the answer."""
        headers = {"Idempotency-Key": report.key}
        kwargs: dict[str, object] = {"data": form, "headers": headers}
        if report.photo:
            kwargs["files"] = {"media": photo(random.Random(report.key))}
        answer = self.http.call("POST", "/open311/v2/requests.json", **kwargs)  # type: ignore[arg-type]
        if answer is None:
            return
        report.statuses.append(answer.status_code)
        if 200 <= answer.status_code < 300:
            body = answer.json()
            rid = body[0].get("service_request_id") if body else None
            if rid:
                report.ids.append(str(rid))

    def read_xml(self) -> None:
        """Read the soak's reports as Open311 XML; count an answer that is not well-formed."""
        start = self.since.strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = self.http.call("GET", f"/open311/v2/requests.xml?start_date={start}")
        if answer is None or answer.status_code != 200:
            return
        try:
            ET.fromstring(answer.content)
        except ET.ParseError:
            self.malformed_xml += 1


def start_citizens(
    base: str, tally: Tally, n: int, *, end: float, give_up: float, seed: int
) -> list[Citizen]:
    """Start ``n`` citizen threads, their first reports spread over the first seconds."""
    since = datetime.now(UTC)
    out = []
    for i in range(n):
        citizen = Citizen(Http(base, tally, give_up), end=end, since=since, seed=seed + 1000 + i)
        citizen.start()
        out.append(citizen)
        time.sleep(0.05)
    return out

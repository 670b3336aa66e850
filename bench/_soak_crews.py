"""The crews of ``bench/ops_soak.py``: each signs in, reads its published stops and sends
done / can't-do with idempotency keys; some work offline and replay their queue."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from _soak_http import Http, Tally, crew_data, csrf_of, photo, short, stop_finished
from _soak_setup import PASSWORD

REASONS = ("no_access", "parts_missing", "not_found", "unsafe", "other")


@dataclass
class SentAction:
    """One crew action (one idempotency key) and every status it was answered with."""

    key: str
    plan_id: int
    crew_id: str
    job_id: str
    action: str
    statuses: list[int] = field(default_factory=list)
    second: bool = False  # a second action on a stop already acted on (another phone)
    unanswered: list[int] = field(default_factory=list)  # a 1 per send left unanswered
    refusal: str = ""  # the last 4xx answer's message
    answered_at: float = 0.0  # time.monotonic() of the last answer
    reason: str = ""  # of a can't-do
    photo: bool = False  # a done sent as a form with a photo

    @property
    def acked(self) -> bool:
        """Whether any send of this key was answered 2xx (the crew saw it accepted)."""
        return any(200 <= s < 300 for s in self.statuses)


class Crew(threading.Thread):
    """A crew's phone until ``end``: online it sends each action as it is taken; offline
    (``offline=True``) it queues a few, then replays the queue and sends each key twice more.
    Every send of one key carries the same body (a quarter of the done carry a photo).

    Now and then a done stop gets a second action from another phone (a new key): the same
    done sent twice at once, or a can't-do from a page that still shows the buttons.
    """

    def __init__(self, crew_id: str, http: Http, *, end: float, offline: bool, seed: int):
        super().__init__(name=f"crew-{crew_id}", daemon=True)
        self.crew_id = crew_id
        self.http = http
        self.end = end
        self.offline = offline
        self.rng = random.Random(seed)
        self.sent: list[SentAction] = []
        self.taken: set[str] = set()  # job ids this crew has acted on (any plan)
        self.lock = threading.Lock()
        self.signed_in = False

    def run(self) -> None:
        """Sign in, then act on the published stops until ``end``."""
        self.signed_in = self.http.login(f"crew-{self.crew_id}", PASSWORD)
        while self.signed_in and time.monotonic() < self.end:
            page = self.http.call("GET", "/crew")
            data = crew_data(page.text) if page is not None and page.status_code == 200 else None
            todo = self._todo(data)
            if data is None or not todo:
                time.sleep(self.rng.uniform(2.0, 4.0))
                continue
            token = csrf_of(page.text) if page is not None else ""
            if self.offline:
                self._offline_round(int(data["plan_id"]), todo, token)
            else:
                self._act(int(data["plan_id"]), todo[0], token)
            time.sleep(self.rng.uniform(1.5, 5.0))

    def _todo(self, data: dict[str, Any] | None) -> list[str]:
        """Return the job ids of the page's stops this crew has not acted on yet."""
        if data is None:
            return []
        stops = data.get("stops") or []
        return [
            str(s["job_id"])
            for s in stops
            if not stop_finished(s) and str(s["job_id"]) not in self.taken
        ]

    def _new_action(self, plan_id: int, job_id: str, action: str) -> SentAction:
        sent = SentAction(uuid.uuid4().hex, plan_id, self.crew_id, job_id, action)
        sent.reason = self.rng.choice(REASONS) if action == "cant" else ""
        sent.photo = action == "done" and self.rng.random() < 0.25
        with self.lock:
            self.sent.append(sent)
            self.taken.add(job_id)
        return sent

    def _act(self, plan_id: int, job_id: str, token: str) -> None:
        """Take one action online; sometimes a second phone acts on the same stop."""
        action = "done" if self.rng.random() < 0.75 else "cant"
        first = self._new_action(plan_id, job_id, action)
        twice = action == "done" and self.rng.random() < 0.1
        if twice:  # two phones send "done" for the stop at the same moment, each its own key
            other = self._new_action(plan_id, job_id, "done")
            other.second = True
            both = [threading.Thread(target=self.send, args=(a, token)) for a in (first, other)]
            for t in both:
                t.start()
            for t in both:
                t.join()
            return
        self.send(first, token)
        if first.acked and action == "done" and self.rng.random() < 0.1:
            stale = self._new_action(plan_id, job_id, "cant")  # a stale page's other button
            stale.second = True
            self.send(stale, token)

    def _offline_round(self, plan_id: int, todo: list[str], token: str) -> None:
        """Queue 2-4 actions in a dead spot, then replay them: each key sent twice,
        the second time from two senders at once (the page and the service worker)."""
        queued = [
            self._new_action(plan_id, job, "done" if self.rng.random() < 0.75 else "cant")
            for job in todo[: self.rng.randint(2, 4)]
        ]
        time.sleep(self.rng.uniform(3.0, 10.0))  # out of signal
        for action in queued:
            self.send(action, token)
        again = [
            threading.Thread(target=self.send, args=(a, token)) for a in queued for _ in range(2)
        ]
        for t in again:
            t.start()
        for t in again:
            t.join()

    def send(self, action: SentAction, token: str) -> None:
        """Send one action (JSON, or a form with a photo for some done); record the status."""
        fields = {
            "key": action.key,
            "plan_id": action.plan_id,
            "crew_id": action.crew_id,
            "job_id": action.job_id,
            "action": action.action,
            "note": "soak",
            "reason": action.reason,
        }
        headers = {"X-CSRF-Token": token, "Accept": "application/json"}
        if action.photo:
            files = {"photo": photo(random.Random(action.key))}
            form = {k: str(v) for k, v in fields.items()}
            answer = self.http.call(
                "POST",
                "/crew/actions",
                data=form,
                files=files,
                headers=headers,
                unanswered=action.unanswered,
            )
        else:
            answer = self.http.call(
                "POST", "/crew/actions", json=fields, headers=headers, unanswered=action.unanswered
            )
        if answer is not None:
            with self.lock:
                action.statuses.append(answer.status_code)
                action.answered_at = time.monotonic()
                if answer.status_code >= 400:
                    action.refusal = short(answer.text)


def start_crews(
    base: str, tally: Tally, crews: list[str], *, end: float, give_up: float, seed: int
) -> list[Crew]:
    """Start one thread per crew; every third crew works offline (queue, then replay)."""
    out = []
    for i, crew_id in enumerate(crews):
        http = Http(base, tally, give_up)
        crew = Crew(crew_id, http, end=end, offline=i % 3 == 2, seed=seed + i)
        crew.start()
        out.append(crew)
    return out

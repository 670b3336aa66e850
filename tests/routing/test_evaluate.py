"""Fixed stop sequences driven as written: ETAs, and what a hand edit breaks."""

from __future__ import annotations

import pytest

from geo311.errors import RoutingError
from routing.engine.checks import check_routes
from routing.engine.evaluate import evaluate_routes
from routing.engine.problem import Job, TimeWindow
from routing.engine.solve import SolveParams, solve
from tests.routing._line_problems import H, crew, problem

# yard at 0 m; stops every 3.6 km along the street: 6 minutes apart at 10 m/s
XS = [0.0, 3600.0, 7200.0, 10800.0, 14400.0]


def _jobs(*, service_s: float = 3600.0, demand: float = 1.0) -> list[Job]:
    skills = ["asphalt", "asphalt", "electrical", "asphalt"]
    return [
        Job(f"j{k}", k, service_s, skill, demand=demand) for k, skill in enumerate(skills, start=1)
    ]


def _problem(*, end: float = 15.5 * H, capacity: float = 100.0, lunch: bool = False):
    crews = [
        crew("c1", {"asphalt"}, end=end, capacity=capacity, lunch=lunch),
        crew("c2", {"asphalt", "electrical"}, end=end, capacity=capacity, lunch=lunch),
    ]
    return problem(crews, _jobs(), XS)


def test_a_feasible_move_gets_new_etas_and_passes_the_independent_check() -> None:
    p = _problem(lunch=True)
    moved = evaluate_routes(p, {"c1": ["j1", "j2"], "c2": ["j3", "j4"]})
    assert moved.violations == () and moved.checks == ()
    r1 = moved.route("c1")
    arrivals = [s.arrival_s for s in r1.steps if s.type == "job"]
    # leaves at 07:00, 6 min to j1, 1 h there, 6 min on to j2
    assert arrivals == pytest.approx([7 * H + 360.0, 8 * H + 720.0])
    assert r1.travel_s == pytest.approx(1440.0) and r1.distance_m == pytest.approx(14400.0)
    # the lunch window opens at 11:00, after c1's last stop: it waits for it, then drives back
    lunch = [s for s in r1.steps if s.type == "break"]
    assert len(lunch) == 1 and lunch[0].arrival_s == pytest.approx(11 * H)
    assert r1.steps[-1].arrival_s == pytest.approx(11.5 * H + 720.0)  # 12 min back
    # moving j2 to the other crew shifts the ETAs of both routes
    again = evaluate_routes(p, {"c1": ["j1"], "c2": ["j2", "j3", "j4"]})
    assert again.violations == () and again.checks == ()
    assert again.route("c2").job_ids == ["j2", "j3", "j4"]
    assert [s.arrival_s for s in again.route("c2").steps if s.type == "job"][0] == pytest.approx(
        7 * H + 720.0
    )
    # a solver's plan, driven again as it stands, gives the same arrivals
    plan = solve(p, SolveParams(time_limit_s=1, seed=0, workers=1))
    same = evaluate_routes(p, {r.crew_id: r.job_ids for r in plan.routes})
    assert same.checks == ()
    for mine, theirs in zip(same.routes, plan.routes, strict=True):
        assert mine.job_ids == theirs.job_ids
        assert mine.travel_s == pytest.approx(theirs.travel_s)


def test_a_move_past_the_end_of_the_shift_says_when_the_crew_arrives() -> None:
    p = _problem(end=10 * H)  # a short shift: 07:00-10:00
    late = evaluate_routes(p, {"c1": ["j1", "j2", "j4"], "c2": ["j3"]})
    codes = [(v.crew_id, v.job_id, v.code) for v in late.violations]
    assert ("c1", "j4", "shift_end") in codes and ("c1", None, "shift_end") in codes
    j4 = next(v for v in late.violations if v.job_id == "j4")
    # 07:00 + 6 min + 1 h + 6 min + 1 h + 12 min = 09:24 arrival at j4, work ends 10:24
    assert j4.message == "stop 3 (j4): work ends 10:24, after shift end 10:00"
    back = next(v for v in late.violations if v.job_id is None)
    assert back.message == "crew c1 is back at the yard 10:48 after shift end 10:00"
    assert not late.hard  # overtime: the dispatcher may accept it
    assert late.checks and all("c1" in c for c in late.checks)  # the independent check agrees
    later = evaluate_routes(p, {"c2": ["j1", "j2", "j3", "j4"]})
    j4_late = next(v for v in later.violations if v.job_id == "j4")
    assert j4_late.message.startswith("stop 4 (j4): arrives 10:24 after shift end 10:00")


def test_a_stop_moved_to_a_crew_without_the_skill_is_a_hard_violation() -> None:
    p = _problem()
    wrong = evaluate_routes(
        p, {"c1": ["j3", "j1"], "c2": ["j2", "j4"]}, labels={"j3": "Streetlight, 1 Main St"}
    )
    assert [(v.job_id, v.code, v.hard) for v in wrong.violations] == [("j3", "no_skill", True)]
    assert wrong.violations[0].message == (
        "stop 1 (Streetlight, 1 Main St): crew c1 lacks skill electrical (it has asphalt)"
    )
    assert wrong.hard and any("lacks" in c for c in wrong.checks)


def test_a_route_over_capacity_is_a_hard_violation_at_the_first_stop_too_many() -> None:
    p = _problem(capacity=2.0)
    full = evaluate_routes(p, {"c2": ["j1", "j2", "j3"], "c1": ["j4"]})
    assert [(v.job_id, v.code) for v in full.violations] == [("j3", "capacity")]
    assert "would carry 3, above its capacity 2" in full.violations[0].message
    assert full.hard and any("capacity" in c for c in full.checks)


def test_a_time_window_waits_or_is_missed() -> None:
    p = _problem()
    windowed = problem(
        p.crews,
        [*p.jobs[:3], Job("j4", 4, 600.0, "asphalt", windows=(TimeWindow(8 * H, 9 * H),))],
        XS,
    )
    early = evaluate_routes(windowed, {"c1": ["j4"]})
    step = next(s for s in early.route("c1").steps if s.type == "job")
    assert step.arrival_s == pytest.approx(7 * H + 1440.0)
    assert step.service_start_s == pytest.approx(8 * H) and early.violations == ()
    missed = evaluate_routes(windowed, {"c1": ["j1", "j2", "j4"]})
    assert [v.code for v in missed.violations] == ["window"]
    assert "arrives 09:24 after its time window closed at 09:00" in missed.violations[0].message
    assert missed.checks == tuple(check_routes(windowed, list(missed.routes)))


def test_bad_sequences_name_the_crew_and_job() -> None:
    p = _problem()
    with pytest.raises(RoutingError, match="job 'j9' is not a job"):
        evaluate_routes(p, {"c1": ["j9"]})
    with pytest.raises(RoutingError, match="'j1' is on the route of crew 'c1' and of crew 'c2'"):
        evaluate_routes(p, {"c1": ["j1"], "c2": ["j1"]})
    with pytest.raises(RoutingError, match=r"crews \['c9'\]"):
        evaluate_routes(p, {"c9": []})

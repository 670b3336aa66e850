from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from geo311.city.profile import default_city
from geo311.errors import ConfigurationError, RoutingError
from routing.engine.crews import load_crews, parse_crews
from routing.engine.problem import (
    PRIORITY_DUE_TODAY,
    PRIORITY_DUE_TOMORROW,
    PRIORITY_LATER,
    PRIORITY_OVERDUE,
    Break,
    Crew,
    Depot,
    Job,
    Problem,
    TimeWindow,
    priority_from_sla,
)
from routing.engine.reasons import NO_SKILL, precheck

H = 3600.0
ORIGIN = datetime(2015, 10, 6, tzinfo=default_city().tz)


def line_matrices(xs_m: list[float], speed_mps: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Locations on a straight street: distance |xi - xj| m, time distance / speed."""
    xs = np.asarray(xs_m, dtype=float)
    dist = np.abs(xs[:, None] - xs[None, :])
    return dist / speed_mps, dist


def crew(
    cid: str,
    skills: set[str],
    *,
    start: float = 7 * H,
    end: float = 15.5 * H,
    capacity: float = 100.0,
    lunch: bool = False,
) -> Crew:
    breaks = (Break(1800.0, (TimeWindow(11 * H, 13 * H),), "lunch"),) if lunch else ()
    return Crew(
        cid,
        frozenset(skills),
        TimeWindow(start, end),
        capacity,
        "yard",
        "yard",
        breaks=breaks,
        cost_per_hour=100.0,
    )


def problem(crews: list[Crew], jobs: list[Job], xs_m: list[float], **kw: object) -> Problem:
    dur, dist = line_matrices(xs_m)
    return Problem(
        (Depot("yard", 0, label="test yard"),), tuple(crews), tuple(jobs), dur, dist, ORIGIN, **kw
    )


def test_valid_problem_passes() -> None:
    p = problem([crew("c1", {"asphalt"})], [Job("j1", 1, 600, "asphalt")], [0, 1000])
    assert p.validate() is p


def test_validate_reports_every_error_at_once_with_ids() -> None:
    bad = problem(
        [crew("c1", {"asphalt"}, start=10 * H, end=8 * H)],
        [
            Job("j-window", 1, 600, "asphalt", windows=(TimeWindow(5 * H, 4 * H),)),
            Job("j-neg", 1, -5, "asphalt"),
            Job("j-far", 7, 600, "asphalt"),
            Job("j-typo", 1, 600, "asfalt"),
        ],
        [0, 1000],
        known_skills=frozenset({"asphalt", "electrical"}),
    )
    with pytest.raises(RoutingError) as err:
        bad.validate()
    msg = str(err.value)
    for needle in (
        "crew 'c1' shift",
        "job 'j-window'",
        "job 'j-neg'",
        "job 'j-far'",
        "location_index 7",
        "job 'j-typo'",
        "'asfalt' is unknown",
    ):
        assert needle in msg
    assert "5 error(s)" in msg


def test_matrix_shape_and_unreachable_job() -> None:
    dur = np.array([[0.0, np.inf], [np.inf, 0.0]])
    p = Problem(
        (Depot("yard", 0),),
        (crew("c1", {"asphalt"}),),
        (Job("island", 1, 60, "asphalt"),),
        dur,
        np.zeros((3, 3)),
        ORIGIN,
    )
    msg = str(pytest.raises(RoutingError, p.validate).value)
    assert "distances_m has shape (3, 3)" in msg
    assert "job 'island'" in msg and "NaN/inf" in msg


def test_job_no_crew_can_do_is_not_a_validation_error() -> None:
    p = problem([crew("c1", {"asphalt"})], [Job("j1", 1, 600, "electrical")], [0, 1000])
    p.validate()
    keep, left_out = precheck(p)
    assert keep == []
    assert left_out[0].code == NO_SKILL
    assert "no crew has the skill 'electrical'" in left_out[0].reason


def test_naive_origin_rejected() -> None:
    p = problem([crew("c1", {"asphalt"})], [], [0])
    naive = Problem(p.depots, p.crews, p.jobs, p.durations_s, p.distances_m, datetime(2015, 1, 1))
    assert "naive" in str(pytest.raises(RoutingError, naive.validate).value)


def test_priority_from_sla() -> None:
    day = datetime(2015, 10, 6, 7, tzinfo=default_city().tz)
    assert priority_from_sla(day - timedelta(hours=1), day_start=day) == PRIORITY_OVERDUE
    assert priority_from_sla(day + timedelta(hours=5), day_start=day) == PRIORITY_DUE_TODAY
    assert priority_from_sla(day + timedelta(hours=30), day_start=day) == PRIORITY_DUE_TOMORROW
    assert priority_from_sla(day + timedelta(days=5), day_start=day) == PRIORITY_LATER
    assert priority_from_sla(None, day_start=day) == PRIORITY_LATER
    with pytest.raises(RoutingError, match="naive"):
        priority_from_sla(datetime(2015, 10, 6), day_start=day)


def test_default_crews_file_loads() -> None:
    cfg = load_crews(known_skills={"asphalt", "electrical", "general"})
    ids = [c.id for c in cfg.crews]
    assert ids == ["pothole-1", "pothole-2", "streetlight-1", "streetlight-2"]
    yard = cfg.yards[0]
    assert yard.assumed and "assumed" in yard.note
    assert 42.3344 <= yard.lat <= 42.3678 and -71.1067 <= yard.lon <= -71.0626
    origin = cfg.origin(datetime(2015, 10, 6).date())
    crews = cfg.crews_for(origin=origin)
    assert crews[0].shift == TimeWindow(7 * H, 15.5 * H)
    assert crews[0].breaks[0].windows == (TimeWindow(11 * H, 13 * H),)
    assert crews[0].capacity == 3.0 and crews[2].capacity == 12
    depots = cfg.depots({"yard": 5}, origin=origin)
    assert depots[0].location_index == 5


def test_crew_file_errors_name_crew_and_field() -> None:
    data = {
        "yards": {"yard": {"lat": 42.34, "lon": -71.07}},
        "crews": {
            "p1": {"skills": ["asphalt"], "shift": ["15:00", "07:00"], "capacity": -1},
            "p2": {"skills": [], "shift": ["7am", "15:00"], "capacity": 1, "start_yard": "x"},
        },
    }
    with pytest.raises(ConfigurationError) as err:
        parse_crews(data)
    msg = str(err.value)
    assert "crew 'p1' field 'shift'" in msg
    assert "crew 'p1' field 'capacity'" in msg
    assert "crew 'p2' field 'skills'" in msg
    assert "crew 'p2' field 'shift'" in msg and "HH:MM" in msg
    assert "crew 'p2' field 'start_yard'" in msg


def test_crew_file_override(tmp_path) -> None:
    f = tmp_path / "crews.toml"
    f.write_text(
        f'timezone = "{default_city().timezone}"\n[yards.y]\nlat = 42.35\nlon = -71.08\n'
        '[crews.solo]\nskills = ["asphalt"]\nshift = ["08:00", "12:00"]\ncapacity = 1\n'
        'start_yard = "y"\nend_yard = "y"\n'
    )
    cfg = load_crews(f)
    assert [c.id for c in cfg.crews] == ["solo"]
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_crews(tmp_path / "missing.toml")

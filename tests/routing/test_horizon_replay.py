"""The season replay's ``prepare`` hook (how bench/horizon_bench.py replays with a horizon)."""

from __future__ import annotations

from dataclasses import replace

from routing.dispatch.horizon import horizon_days, horizon_problem, plan_horizon
from routing.engine.problem import Problem

from .test_simulate import run_hand


def test_prepare_decides_the_problem_solved_each_morning() -> None:
    seen: list[int] = []

    def nothing(problem: Problem) -> Problem:
        seen.append(len(problem.jobs))
        return replace(problem, jobs=())

    idle = run_hand(prepare=nothing)
    assert seen and max(seen) > 0
    assert all(when is None for when in idle.repaired_at.values())
    assert all(d.travel_s == 0.0 for d in idle.days)
    plain = run_hand()
    assert sum(d.travel_s for d in plain.days) > 0.0


def test_a_replay_with_the_horizon_repairs_the_light_season_the_same() -> None:
    def with_horizon(problem: Problem) -> Problem:
        days = horizon_days(problem.origin.date(), 5)
        return horizon_problem(problem, plan_horizon(problem, days=days))

    assert run_hand(prepare=with_horizon).repaired_at == run_hand().repaired_at

"""Runs compared with π*: reproducible, every figure reported, a shortfall said."""

from __future__ import annotations

import math

from lab.training.runs import run_tabular, tabular_experiment
from lab.training.tabular import TabularConfig
from lab.worlds.tabular import default_world, random_world


def test_a_run_is_reproducible_and_reports_every_figure() -> None:
    world = random_world(2, 3, seed=3)
    config = TabularConfig(steps=200)
    first, _ = run_tabular(world, config, n_pairs=200, seed=7)
    second, _ = run_tabular(world, config, n_pairs=200, seed=7)
    assert first.max_abs_error == second.max_abs_error
    assert first.mode == "samples" and first.device == "cpu"
    row = first.as_dict()
    assert {"max_abs_error", "tv", "kl", "rlhf_max_abs_difference", "mle_exists"} <= set(row)
    assert 0 <= row["tv"] <= 1 and row["kl"] >= 0
    population, _ = run_tabular(world, config)
    assert population.mode == "population" and population.n_pairs is None


def test_a_population_run_that_misses_its_target_is_said_to() -> None:
    from lab.training.runs import POPULATION_TARGET, population_misses, summarise

    world = random_world(2, 3, seed=3)
    met, _ = run_tabular(world, TabularConfig(steps=400))
    missed, _ = run_tabular(world, TabularConfig(steps=20))
    assert met.max_abs_error <= POPULATION_TARGET < missed.max_abs_error
    assert population_misses([met]) == [] and summarise([met])["population_target_met"] is True
    (miss,) = population_misses([missed])
    assert miss.startswith("the population run missed the 1e-06 target: max |π_θ − π*| = ")
    assert summarise([missed])["population_target_met"] is False


def test_a_population_run_farther_from_pi_star_than_pi_ref_is_said_to() -> None:
    """β = 1e9 puts π* within 4e-10 of π_ref; Adam's steps overshoot it."""
    from lab.training.runs import population_misses

    report, _ = run_tabular(default_world(), TabularConfig(beta=1e9, steps=200))
    assert report.tv > report.reference_tv
    assert any("farther from π* than π_ref started" in m for m in population_misses([report]))


def test_a_small_beta_gives_a_finite_kl_where_pi_star_underflows() -> None:
    """At β = 1e-3, π* = π_ref·exp(r/β)/Z is 0 in float64 where r is 1 below the best: the KL is
    read from log π*, and is finite."""
    report, _ = run_tabular(default_world(), TabularConfig(beta=1e-3, steps=20))
    assert math.isfinite(report.kl) and report.kl > 1


def test_runs_say_each_phase_to_the_log() -> None:
    lines: list[str] = []
    tabular_experiment(
        random_world(2, 3, seed=0), TabularConfig(steps=5), (50,), (0,), log=lines.append
    )
    assert lines == [
        "training population run 1/2 (DPO, 5 Adam steps) …",
        "  reward model + KL-RL …",
        "training run 2/2: N=50 seed=0 (DPO, 5 Adam steps) …",
        "  reward model + KL-RL …",
    ]

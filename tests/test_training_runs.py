"""Runs compared with π*: reproducible, every figure reported."""

from __future__ import annotations

from lab.training.runs import run_tabular
from lab.training.tabular import TabularConfig
from lab.worlds.tabular import random_world


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

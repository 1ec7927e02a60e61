"""The transformer trainer: step 0 at log 2, short runs closing on π*, minibatches, bad configs.

Runs here are short (tens of steps); the full run is ``dpo-lab train --policy transformer``."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lab.data.enumerated import policy_probs, world_pairs
from lab.training.runs import compare_to_optimum
from lab.training.transformer import (
    TrainingDiverged,
    TransformerConfig,
    start_policy,
    train_transformer,
)
from lab.training.transformer_runs import TV_EVERY, run_transformer_pairs
from lab.training.weighted_loss import METRIC_NAMES

# reference_world (conftest): the token world with responses of at most 2 tokens.
CONFIG = TransformerConfig()


def test_step_zero_loss_is_ln2_and_rewards_are_zero(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", 500, seed=0).with_reference(reference)
    policy = start_policy(reference)
    config = replace(CONFIG, steps=2, learning_rate=1e-3)
    history = train_transformer(policy, batch, config, progress=False)
    assert set(history[0]) == set(METRIC_NAMES)
    assert abs(history[0]["loss"] - math.log(2)) < 1e-6
    assert history[0]["rewards/chosen"] == history[0]["rewards/rejected"] == 0.0
    assert history[1]["rewards/margins"] > 0, "one step on the pairs should favour the chosen"


def test_a_short_population_run_closes_most_of_the_distance_to_pi_star(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", None, seed=0)
    config = replace(CONFIG, steps=120)
    report, policy, _ = run_transformer_pairs(
        config, reference, batch, enumerated, "population", None, 0, progress=False
    )
    assert report.reference_tv > 0.4
    assert report.tv < 0.05, (report.tv, report.reference_tv)
    assert report.metrics["loss"] < report.step0["loss"]
    assert report.metrics["rewards/accuracies"] > 0.5
    again = compare_to_optimum(policy_probs(policy, enumerated), enumerated.pi_star)
    assert again["tv"] == report.tv
    # TV to π* as training went: measured before the first update, every TV_EVERY, at the end.
    steps = [done for done, _ in report.tv_history]
    assert steps == [0, TV_EVERY, 2 * TV_EVERY, config.steps]
    assert report.tv_history[0][1] == pytest.approx(report.reference_tv, abs=1e-9)
    assert report.tv_history[-1][1] == pytest.approx(report.tv, abs=1e-12)
    assert report.tv_history[1][1] < report.tv_history[0][1]


def test_minibatches_train_too_and_runs_are_reproducible(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", 2000, seed=1)
    config = replace(CONFIG, steps=25, batch_pairs=64)
    arguments = (config, reference, batch, enumerated, "samples", 2000, 1)
    first, _, _ = run_transformer_pairs(*arguments, progress=False)
    second, _, _ = run_transformer_pairs(*arguments, progress=False)
    assert first.tv < first.reference_tv
    assert (first.tv, first.metrics) == (second.tv, second.metrics)


def test_bad_configs_are_refused() -> None:
    for bad in ({"beta": 0.0}, {"beta": float("nan")}, {"steps": 0}, {"pairs_from": "both"}):
        with pytest.raises(ValueError):
            TransformerConfig(**bad)


def test_a_learning_rate_beyond_float32_is_refused() -> None:
    """Adam would fail converting it to the float32 parameters' dtype, with a RuntimeError."""
    with pytest.raises(ValueError, match=r"learning_rate must be at most 3\.4e\+38 .*float32"):
        TransformerConfig(learning_rate=1e300)


def test_a_diverging_run_says_at_which_step(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", 200, seed=0).with_reference(reference)
    config = replace(CONFIG, steps=5, learning_rate=1e30)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step \d of 5") as error:
        train_transformer(start_policy(reference), batch, config, progress=False)
    assert error.value.learning_rate == 1e30 and 1 <= error.value.step <= 5


def test_a_run_without_a_bar_logs_a_few_steps(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", 200, seed=0).with_reference(reference)
    lines: list[str] = []
    config = replace(CONFIG, steps=10)
    train_transformer(start_policy(reference), batch, config, progress=False, log=lines.append)
    assert [line.split(",")[0] for line in lines] == [
        f"  transformer: step {step}/10" for step in (2, 4, 6, 8, 10)
    ]

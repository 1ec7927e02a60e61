"""The gradient experiment (lab.experiments.gradient, ``dpo-lab experiment gradient``): each
pair's weight σ(r̂_l − r̂_w) in a real DPO run, and the run without the weight."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lab.cli import main
from lab.experiments.gradient import ExperimentFailed, GradientConfig, gradient_experiment
from lab.training.solvers import fit_reward_model
from lab.training.tabular import TabularConfig


@pytest.fixture(scope="module")
def run():
    return gradient_experiment()


def test_every_pair_starts_at_one_half_and_the_loss_at_log_2(run) -> None:
    assert run.weights[0] == pytest.approx([0.5] * len(run.pairs), abs=1e-12)
    assert run.losses[0] == pytest.approx(math.log(2), abs=1e-12)
    assert run.losses[-1] < run.losses[0]


def test_weights_fall_for_pairs_ranked_right_and_stay_high_for_pairs_ranked_wrong(run) -> None:
    right, final = run.ranked_right, run.weights[-1]
    assert 0 < sum(right) < len(right)  # both kinds are in the run
    for weight, ranked_right in zip(final, right, strict=True):
        assert (weight < 0.5) == ranked_right
    summary = run.summary()
    assert summary["right_weight_max"] < 0.5 < summary["wrong_weight_min"]


def test_dpo_settles_where_bradley_terry_fits_the_pairs(run) -> None:
    """DPO's implicit-reward margins are the Bradley–Terry MLE's reward differences on the same
    pairs (fitted separately, by maximum likelihood)."""
    counts = torch.zeros(1, len(run.responses), len(run.responses), dtype=torch.float64)
    for w, loser, n in run.pairs:
        counts[0, w, loser] = n
    reward = fit_reward_model(counts / counts.sum(), TabularConfig(steps=3000))[0]
    fitted = [float(reward[w] - reward[loser]) for w, loser, _ in run.pairs]
    assert run.margins[-1] == pytest.approx(fitted, abs=1e-5)


def test_without_the_weight_the_margins_grow_at_a_constant_rate(run) -> None:
    summary = run.summary()
    assert summary["dpo_margin_drift"] < 1e-6
    assert summary["unweighted_margin_drift"] > 0.1
    assert summary["unweighted_margin_max"] > 20 * summary["dpo_margin_max"]
    largest = [max(map(abs, row)) for row in run.unweighted_margins]
    half = len(largest) // 2
    assert largest[-1] - largest[half] == pytest.approx(largest[half] - largest[0], rel=0.05)


def test_the_same_command_gives_the_same_record() -> None:
    assert gradient_experiment().as_dict() == gradient_experiment().as_dict()


def test_pairs_no_finite_reward_fits_are_refused() -> None:
    with pytest.raises(ExperimentFailed, match="never wins or never loses"):
        gradient_experiment(GradientConfig(n_pairs=8, seed=0))


def test_a_run_too_short_to_settle_is_refused() -> None:
    with pytest.raises(ExperimentFailed, match="had not settled after 50 steps"):
        gradient_experiment(GradientConfig(steps=50))


def test_the_command_writes_its_record_and_figure(tmp_path, capsys) -> None:
    assert main(["experiment", "gradient", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    record = json.loads((tmp_path / "gradient.json").read_text(encoding="utf-8"))
    assert record["summary"] == summary
    assert record["command"].startswith("dpo-lab experiment gradient")
    assert len(record["weights"]) == GradientConfig().steps + 1
    for suffix in ("png", "svg"):
        assert (tmp_path / "figures" / f"gradient_weights.{suffix}").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--beta", "0"], "--beta must be > 0"),
        (["--beta", "inf"], "--beta must be finite"),
        (["--steps", "5"], "--steps must be in 10..100,000"),
        (["--lr", "nan"], "--lr (--learning-rate) must be a finite number > 0"),
        (["--n-pairs", "1e12"], "--n-pairs must be in 2..1,000,000"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "gradient", "--out", str(tmp_path), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "gradient.json").exists()


def test_an_experiment_that_cannot_show_its_point_exits_1(tmp_path, capsys) -> None:
    assert main(["experiment", "gradient", "--out", str(tmp_path), "--steps", "50"]) == 1
    assert "had not settled" in capsys.readouterr().err
    assert not (tmp_path / "gradient.json").exists()

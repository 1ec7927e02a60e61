"""The length exploit (lab.experiments.length, ``dpo-lab experiment length``): DPO on labels that
favour longer answers lengthens them; R-DPO (lab.core.length) with α = b undoes it."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from lab.cli import main
from lab.core.dpo import dpo_loss, optimal_policy, total_variation
from lab.core.length import length_regularised_loss
from lab.data.pairs import population_pair_weights
from lab.experiments import ExperimentFailed
from lab.experiments.length import (
    LengthConfig,
    lecture_world,
    length_experiment,
    train_on_biased_labels,
)
from lab.training.length_loss import length_regularised_pairs
from lab.training.tabular import weighted_pair_loss
from lab.worlds.tabular import DTYPE, random_world

SMALL = LengthConfig(biases=(0.0, 1.0), betas=(0.1,), steps=300)
SMALL_OPTIONS = ["--biases", "0", "1", "--betas", "0.5", "--steps", "100"]


@pytest.fixture(scope="module")
def run():
    return length_experiment(SMALL)


def _logps(generator: torch.Generator, n: int = 50) -> list[torch.Tensor]:
    return list(-10 * torch.rand(4, n, generator=generator, dtype=DTYPE))


def test_rdpo_is_dpo_at_alpha_0_and_adds_the_length_margin_inside_the_sigmoid() -> None:
    generator = torch.Generator().manual_seed(0)
    logps = _logps(generator)
    chosen, rejected = (torch.randint(0, 4, (50,), generator=generator).to(DTYPE) for _ in "ab")
    at_zero = length_regularised_loss(*logps, 0.3, chosen, rejected, 0.0)
    for got, want in zip(at_zero, dpo_loss(*logps, 0.3), strict=True):
        assert torch.allclose(got, want, rtol=0, atol=1e-15)
    losses, _, _ = length_regularised_loss(*logps, 0.3, chosen, rejected, 0.7)
    h = (logps[0] - logps[2]) - (logps[1] - logps[3])
    assert torch.allclose(losses, -F.logsigmoid(0.3 * h + 0.7 * (chosen - rejected)), atol=1e-14)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alpha": float("inf")}, "alpha must be finite"),
        ({"chosen_lengths": torch.zeros(3, dtype=DTYPE)}, "chosen_lengths must have"),
        ({"rejected_lengths": torch.full((5,), float("nan"))}, "rejected_lengths must be finite"),
        ({"beta": 0.0}, "beta must be > 0"),
    ],
)
def test_rdpo_refuses_bad_input_naming_it(change, message) -> None:
    logps = _logps(torch.Generator().manual_seed(1), n=5)
    arguments = {"beta": 0.3, "chosen_lengths": torch.ones(5, dtype=DTYPE)} | {
        "rejected_lengths": torch.zeros(5, dtype=DTYPE),
        "alpha": 0.5,
    }
    with pytest.raises(ValueError, match=message):
        length_regularised_loss(*logps, **(arguments | change))


def test_the_trainers_loss_gets_each_pairs_own_lengths() -> None:
    """The factory's lengths line up with the pairs as the tabular trainer orders them: its
    weighted loss is Σ W · R-DPO computed pair by pair from the tables."""
    world = random_world(2, 5, seed=3)
    weights = population_pair_weights(world.pi_ref, world.reward)
    lengths = torch.tensor([0.0, 1, 2, 3, 1], dtype=DTYPE)
    policy = torch.log_softmax(torch.randn(world.pi_ref.shape, dtype=DTYPE), -1)
    reference = world.pi_ref.log()
    loss_fn = length_regularised_pairs(weights, lengths, alpha=0.6)
    got, _ = weighted_pair_loss(policy, reference, weights, 0.4, loss_fn, with_metrics=False)
    want = 0.0
    for x, w, l in weights.nonzero().tolist():  # noqa: E741
        h = (policy[x, w] - reference[x, w]) - (policy[x, l] - reference[x, l])
        want += weights[x, w, l] * -F.logsigmoid(0.4 * h + 0.6 * (lengths[w] - lengths[l]))
    assert got.item() == pytest.approx(want.item(), rel=1e-12)


def test_biased_labels_lengthen_dpos_answers_and_rdpo_brings_them_back(run) -> None:
    (unbiased, biased), (_, fixed) = run.dpo[0], run.rdpo[0]
    reference = run.reference["mean_length"]
    assert unbiased["mean_length"] < reference - 0.2  # the reward penalises length: shorter
    assert biased["mean_length"] > reference + 0.5  # b = 1 per token: longer than π_ref's
    assert fixed["mean_length"] == pytest.approx(unbiased["mean_length"], abs=0.01)
    assert biased["reward"] < unbiased["reward"] - 0.3  # the true reward pays for the padding
    assert biased["accuracy"] > 0.99  # the padded answers still state the right number
    assert run.max_tv_to_optimum < 0.05


def test_dpo_on_biased_labels_reaches_the_optimum_of_the_biased_reward() -> None:
    """The labels are Bradley–Terry on r + b|y|, and DPO's policy is that reward's π*."""
    world = lecture_world()
    pi = train_on_biased_labels(world, 0.5, 0.5, 300, 0.3)
    target = optimal_policy(world.pi_ref, world.reward + 0.5 * world.lengths, 0.5)
    assert total_variation(pi, target).max().item() < 1e-4


def test_the_record_names_what_the_model_now_says(run) -> None:
    record = run.as_dict()
    assert record["biases"] == [0.0, 1.0] and record["betas"] == [0.1]
    assert len(record["dpo"]) == 1 and len(record["dpo"][0]) == 2
    (likeliest,) = record["likeliest"]
    top = likeliest["responses"][0]
    assert likeliest["bias"] == 1.0 and len(top["response"].split()) >= 2  # "= 4", not "4"
    assert record["reference_likeliest"][0] == {
        "response": "4",
        "probability": pytest.approx(0.5, abs=0.01),
    }


def test_an_exploit_too_small_to_see_is_refused() -> None:
    """A bias of 0.05 per token barely moves the answers at β = 0.5 (and with no b = 0 in the
    sweep, the unbiased run is trained on its own)."""
    with pytest.raises(ExperimentFailed, match="raise the largest of --biases"):
        length_experiment(LengthConfig(biases=(0.02, 0.05), betas=(0.5,), steps=60))


def test_a_run_too_short_to_train_is_refused() -> None:
    with pytest.raises(ExperimentFailed, match="give it more --steps"):
        length_experiment(LengthConfig(biases=(0.0, 1.0), betas=(0.1,), steps=10))


def test_the_command_writes_its_record_and_figure(tmp_path, capsys) -> None:
    assert main(["experiment", "length", "--out", str(tmp_path), "--json", *SMALL_OPTIONS]) == 0
    summary = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    record = json.loads((tmp_path / "length.json").read_text(encoding="utf-8"))
    assert record["summary"] == summary
    assert record["command"].startswith("dpo-lab experiment length")
    assert summary["dpo_mean_length_b1_beta0.5"] > summary["dpo_mean_length_b0_beta0.5"] + 0.2
    for suffix in ("png", "svg"):
        assert (tmp_path / "figures" / f"length.{suffix}").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--biases", "0"], "--biases must be two or more finite numbers ≥ 0"),
        (["--biases", "0", "-1"], "--biases must be"),
        (["--biases", "1", "0.5"], "in increasing order, got 1 0.5"),
        (["--biases", "0", "inf"], "--biases must be"),
        (["--betas", "0"], "--betas must be one or more finite numbers > 0"),
        (["--betas", "0.5", "0.1"], "--betas must be"),
        (["--steps", "5"], "--steps must be in 10..100,000"),
        (["--lr", "nan"], "--lr (--learning-rate) must be a finite number > 0"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "length", "--out", str(tmp_path), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "length.json").exists()


def test_an_experiment_that_cannot_show_its_point_exits_1(tmp_path, capsys) -> None:
    options = ["--biases", "0", "0.05", "--betas", "0.5", "--steps", "60"]
    assert main(["experiment", "length", "--out", str(tmp_path), *options]) == 1
    assert "raise the largest of --biases" in capsys.readouterr().err
    assert not (tmp_path / "length.json").exists()

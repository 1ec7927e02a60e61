"""lab.train_transformer: pair weights, the DPO step on the transformer, short runs, the CLI.

Runs here are short (tens of steps); the full run is ``dpo-lab train --policy transformer``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lab.cli import main
from lab.policies import reference_policy
from lab.preference_data import EXAMPLE_FILE
from lab.token_world import TokenWorld, build_tokenizer
from lab.train import compare_to_optimum
from lab.train_transformer import (
    METRIC_NAMES,
    TransformerSetup,
    enumerate_world,
    pair_distribution,
    policy_probs,
    population_pair_weights,
    run_training,
    sampled_pair_weights,
    start_policy,
    train_dpo,
    world_pairs,
)

# Responses of at most 2 tokens: 43 per prompt instead of 259, so that runs here take seconds.
WORLD = TokenWorld(max_response_tokens=2)
SETUP = TransformerSetup()


@pytest.fixture(scope="module")
def reference_world():
    tokenizer = build_tokenizer(WORLD)
    reference = reference_policy(WORLD, tokenizer, seed=0, warmup_steps=SETUP.warmup_steps)
    return reference, enumerate_world(WORLD, tokenizer, reference, SETUP.beta)


def small_table(seed: int = 0, n_prompts: int = 2, n: int = 5):
    generator = torch.Generator().manual_seed(seed)
    proposal = torch.softmax(
        torch.randn(n_prompts, n, generator=generator, dtype=torch.float64), -1
    )
    reward = torch.randn(n_prompts, n, generator=generator, dtype=torch.float64)
    return proposal, reward


def test_population_weights_are_bradley_terry_odds_over_the_pair_distribution() -> None:
    proposal, reward = small_table()
    weights = population_pair_weights(proposal, reward)
    assert torch.isclose(weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.all(weights.diagonal(dim1=-2, dim2=-1) == 0)
    off = ~torch.eye(5, dtype=torch.bool)
    odds = (weights / weights.transpose(-2, -1))[:, off]
    want = torch.exp(reward[:, :, None] - reward[:, None, :])[:, off]
    assert torch.allclose(odds, want)  # P(a ≻ b)/P(b ≻ a) = e^{r_a − r_b}
    unordered = weights + weights.transpose(-2, -1)
    q = pair_distribution(proposal)
    assert torch.allclose(unordered, q + q.transpose(-2, -1))


def test_sampled_weights_are_counts_that_approach_the_population() -> None:
    proposal, reward = small_table()
    few = sampled_pair_weights(proposal, reward, 10, seed=0)
    assert torch.allclose(few * 10, (few * 10).round()) and math.isclose(few.sum().item(), 1)
    population = population_pair_weights(proposal, reward)
    error = [
        (sampled_pair_weights(proposal, reward, n, seed=0) - population).abs().sum().item()
        for n in (100, 100_000)
    ]
    assert error[1] < 0.05 < error[0]
    assert torch.equal(
        sampled_pair_weights(proposal, reward, 100, 3),
        sampled_pair_weights(proposal, reward, 100, 3),
    )


def test_pi_star_reweights_pi_ref_by_the_reward(reference_world) -> None:
    _, enumerated = reference_world
    assert torch.allclose(enumerated.pi_ref.sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-12)
    ratio = (enumerated.pi_star / enumerated.pi_ref).log() - enumerated.reward / SETUP.beta
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-9)  # = −log Z(x) per prompt
    names = enumerated.response_names()
    assert names[enumerated.pi_star[0].argmax()] == "4"


def test_step_zero_loss_is_ln2_and_rewards_are_zero(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", 500, seed=0).with_reference(reference)
    policy = start_policy(reference)
    history = train_dpo(policy, batch, SETUP.beta, steps=2, learning_rate=1e-3, progress=False)
    assert set(history[0]) == set(METRIC_NAMES)
    assert abs(history[0]["loss"] - math.log(2)) < 1e-6
    assert history[0]["rewards/chosen"] == history[0]["rewards/rejected"] == 0.0
    assert history[1]["rewards/margins"] > 0, "one step on the pairs should favour the chosen"


def test_a_short_population_run_closes_most_of_the_distance_to_pi_star(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", None, seed=0)
    setup = replace(SETUP, steps=120)
    report, policy = run_training(
        setup, reference, batch, enumerated, "population", None, 0, progress=False
    )
    assert report.reference_tv > 0.4
    assert report.tv < 0.05, (report.tv, report.reference_tv)
    assert report.metrics["loss"] < report.step0["loss"]
    assert report.metrics["rewards/accuracies"] > 0.5
    again = compare_to_optimum(policy_probs(policy, enumerated), enumerated.pi_star)
    assert again["tv"] == report.tv


def test_minibatches_train_too_and_runs_are_reproducible(reference_world) -> None:
    reference, enumerated = reference_world
    batch = world_pairs(enumerated, "uniform", 2000, seed=1)
    setup = replace(SETUP, steps=25, batch_pairs=64)
    first, _ = run_training(setup, reference, batch, enumerated, "samples", 2000, 1, progress=False)
    second, _ = run_training(
        setup, reference, batch, enumerated, "samples", 2000, 1, progress=False
    )
    assert first.tv < first.reference_tv
    assert (first.tv, first.metrics) == (second.tv, second.metrics)


def test_bad_setups_are_refused() -> None:
    for bad in ({"beta": 0.0}, {"beta": float("nan")}, {"steps": 0}, {"pairs_from": "both"}):
        with pytest.raises(ValueError):
            TransformerSetup(**bad)


QUICK = ["train", "--policy", "transformer", "--steps", "3", "--warmup-steps", "5"]


def test_cli_json_reports_distances_and_trl_metrics(capsys, tmp_path: Path) -> None:
    assert main([*QUICK, "--json", "--plots", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["command"].startswith("dpo-lab train --policy transformer")
    (run,) = report["runs"]
    assert run["mode"] == "population" and run["n_pairs"] is None
    assert run["distinct_pairs"] > 100_000 and run["mle_exists"] is True
    for key in ("max_abs_error", "tv", "kl"):
        assert isinstance(run[key], float) and run[key] >= 0
    assert report["summary"]["population_tv"] == run["tv"]
    assert set(run["metrics"]) == set(METRIC_NAMES)
    assert abs(run["step0"]["loss"] - math.log(2)) < 1e-6
    assert (tmp_path / "transformer_policies.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "transformer_policies.svg").read_text()


def test_cli_finite_sample_runs_and_a_table(capsys) -> None:
    arguments = [*QUICK, "--mode", "samples", "--n-pairs", "100", "1000", "--seeds", "0", "1"]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    assert out.count("samples") == 4  # 2 sizes × 2 seeds, no population row
    assert "population" not in out
    assert "TV(π_θ,π*)" in out and "|loss − ln 2| ≤" in out
    assert "no" in out.split("MLE")[1]  # 100 pairs over 259 responses: the MLE cannot exist


def test_n_pairs_alone_adds_sample_runs_to_the_population(capsys) -> None:
    assert main([*QUICK, "--n-pairs", "50", "--json"]) == 0
    modes = [run["mode"] for run in json.loads(capsys.readouterr().out)["runs"]]
    assert modes == ["population", "samples"]


def test_cli_trains_on_a_preference_file(capsys) -> None:
    assert main([*QUICK, "--data", str(EXAMPLE_FILE), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["mode"] == "file" and run["n_pairs"] == 48
    assert run["tv"] is not None  # the example's prompts are the world's


def test_cli_names_the_bad_line_of_a_preference_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "2 + 2 =", "chosen": "four", "rejected": "5"}\n')
    with pytest.raises(SystemExit) as exit_info:
        main([*QUICK, "--data", str(path)])
    assert exit_info.value.code == 2
    assert f"{path}:1: 'chosen' has tokens the vocabulary lacks: 'four'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--n-pairs", "0"], "every --n-pairs must be ≥ 1"),
        (["--beta", "-1"], "beta must be > 0"),
        (["--world", "random"], "drop --world"),
        (["--data", "x.jsonl", "--n-pairs", "10"], "drop --mode and --n-pairs"),
        (["--data", "absent.jsonl"], "absent.jsonl"),
    ],
)
def test_cli_usage_errors_exit_two(arguments, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*QUICK, *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_transformer_options_are_refused_for_the_tabular_policy(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--policy", "tabular", "--data", "x.jsonl"])
    assert exit_info.value.code == 2
    assert "--data: only with --policy transformer" in capsys.readouterr().err

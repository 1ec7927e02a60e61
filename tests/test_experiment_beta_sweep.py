"""The β sweep (lab.experiments.beta_sweep, ``dpo-lab experiment beta-sweep``): DPO trained at
each β on the same sampled pairs, against the closed-form π* at the same β."""

from __future__ import annotations

import json

import pytest
import torch

from lab.cli import main
from lab.experiments import ExperimentFailed
from lab.experiments.beta_sweep import BetaSweepConfig, beta_sweep_experiment


@pytest.fixture(scope="module")
def sweep():
    return beta_sweep_experiment()


def test_no_trained_policy_beats_the_closed_form_and_none_reaches_it_everywhere(sweep) -> None:
    gap = sweep.objective(sweep.optimal) - sweep.objective(sweep.trained)  # (β, prompt)
    assert gap.min() >= -1e-12
    assert gap.max() > 1e-3  # finite pairs: the trained policy is not π*


def test_small_beta_buys_reward_with_distance_from_the_reference(sweep) -> None:
    reward = sweep.reward(sweep.trained).mean(-1).tolist()
    kl = sweep.kl(sweep.trained).mean(-1).tolist()
    assert reward == sorted(reward, reverse=True)  # β increases along the sweep
    assert kl == sorted(kl, reverse=True)
    assert kl[0] > 5 * kl[-1]


def test_every_beta_fits_the_same_implicit_reward(sweep) -> None:
    """Converged on the same pairs, π_θ = π_ref exp(r̂/β)/Z with one r̂ for every β: β log π_θ/π_ref
    is the same at every β up to a constant per prompt."""
    implicit = torch.stack(
        [beta * (p.log() - sweep.world.pi_ref.log()) for beta, p in zip(
            sweep.config.betas, sweep.trained, strict=True)]
    )  # fmt: skip
    centred = implicit - implicit.mean(-1, keepdim=True)
    assert (centred - centred[-1]).abs().max() < 1e-8
    assert sweep.summary()["max_reward_gradient"] <= 1e-9


def test_the_summary_quotes_each_beta(sweep) -> None:
    summary = sweep.summary()
    assert summary["kl_at_0.1"] == pytest.approx(sweep.kl(sweep.trained)[3].mean().item())
    assert summary["optimal_reward_at_1"] == pytest.approx(
        sweep.reward(sweep.optimal)[-1].mean().item()
    )
    curve = sweep.curve()
    assert len(curve["betas"]) == 60
    assert curve["betas"][0] == pytest.approx(0.005) and curve["betas"][-1] == pytest.approx(2.0)


def test_the_same_command_gives_the_same_record(sweep) -> None:
    config = BetaSweepConfig(betas=(0.05, 0.1, 0.5))
    assert beta_sweep_experiment(config).as_dict() == beta_sweep_experiment(config).as_dict()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (BetaSweepConfig(n_pairs=30), "never wins or never loses"),
        (BetaSweepConfig(steps=50), "had not converged after 50 steps"),
        (BetaSweepConfig(learning_rate=80.0), "smaller --learning-rate if it diverged"),
    ],
)
def test_a_sweep_that_cannot_converge_is_refused(config, message) -> None:
    with pytest.raises(ExperimentFailed, match=message):
        beta_sweep_experiment(config)


def test_the_command_writes_its_record_and_figure(tmp_path, capsys) -> None:
    args = [
        "experiment",
        "beta-sweep",
        "--out",
        str(tmp_path),
        "--json",
        "--betas",
        "0.05",
        "0.1",
        "1",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    record = json.loads((tmp_path / "beta_sweep.json").read_text(encoding="utf-8"))
    assert record["summary"] == summary
    assert record["command"].startswith("dpo-lab experiment beta-sweep")
    assert record["betas"] == [0.05, 0.1, 1.0]
    assert len(record["trained"]["mean"]["kl"]) == 3
    assert len(record["optimal"]["per_prompt"]["reward"][0]) == 3  # β × prompt
    assert len(record["trained"]["policies"][0][0]) == 5  # β × prompt × response
    assert sum(record["pairs_per_prompt"]) == record["n_pairs"] == 300
    for suffix in ("png", "svg"):
        assert (tmp_path / "figures" / f"beta_sweep.{suffix}").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--betas", "0.1", "0.05", "1"], "--betas must be strictly increasing"),
        (["--betas", "0.1", "1"], "--betas must be 3 to 20 values"),
        (["--betas", "0", "0.1", "1"], "--betas must each be a finite number > 0"),
        (["--betas", "0.1", "inf", "nan"], "--betas must each be a finite number > 0"),
        (["--betas", "small", "large"], "argument --betas: invalid float value: 'small'"),
        (["--n-pairs", "1"], "--n-pairs must be in 2..1,000,000"),
        (["--steps", "0"], "--steps must be in 1..100,000"),
        (["--lr", "nan"], "--lr (--learning-rate) must be a finite number > 0"),
        (["--seed", "-1"], "--seed must be ≥ 0"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "beta-sweep", "--out", str(tmp_path), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "beta_sweep.json").exists()


def test_a_sweep_that_cannot_show_its_point_exits_1(tmp_path, capsys) -> None:
    assert main(["experiment", "beta-sweep", "--out", str(tmp_path), "--n-pairs", "30"]) == 1
    assert "draw more pairs (--n-pairs)" in capsys.readouterr().err
    assert not (tmp_path / "beta_sweep.json").exists()

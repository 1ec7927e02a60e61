"""No exploration (lab.experiments.no_exploration, ``dpo-lab experiment no-exploration``): the best
response of "What is 2 + 2?" in no pair; DPO cannot raise it, an online method with the reward
finds it."""

from __future__ import annotations

import json
import math

import pytest

from lab.cli import main
from lab.experiments import ExperimentFailed
from lab.experiments.no_exploration import NoExplorationConfig, no_exploration_experiment


@pytest.fixture(scope="module")
def run():
    return no_exploration_experiment()


def test_the_best_response_is_in_the_reference_but_in_no_pair(run) -> None:
    assert run.responses[run.best] == "4" and run.reward[run.best] == max(run.reward)
    assert run.pi_ref[run.best] == pytest.approx(0.35)
    assert all(n == 0 for n in run.counts[run.best])
    assert all(row[run.best] == 0 for row in run.counts)
    assert sum(map(sum, run.counts)) == run.config.n_pairs


def test_dpo_gives_the_best_logit_no_gradient_and_its_probability_falls(run) -> None:
    assert len(run.best_gradients) == run.config.steps + 1
    assert max(run.best_gradients) < 1e-15
    assert run.dpo[run.best] < run.pi_ref[run.best]
    # DPO still improves the reward, on the responses the pairs rank
    summary = run.summary()
    assert summary["reference_reward"] < summary["dpo_reward"] < summary["optimal_reward"]


def test_the_online_method_finds_the_best_response(run) -> None:
    assert run.online_history[0] == pytest.approx(run.pi_ref[run.best])
    assert len(run.online_history) == run.config.online_steps + 1
    assert run.online[run.best] > run.optimal[run.best] > run.pi_ref[run.best] + 0.1
    assert math.isclose(sum(run.online), 1, abs_tol=1e-12)


def test_pairs_that_contain_the_best_response_raise_it(run) -> None:
    assert run.dpo_with_best[run.best] > run.pi_ref[run.best] + 0.2
    assert run.dpo_with_best[run.best] == pytest.approx(run.optimal[run.best], abs=0.05)


def test_the_same_command_gives_the_same_record(run) -> None:
    again = no_exploration_experiment()
    assert again.as_dict() == run.as_dict()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (NoExplorationConfig(n_pairs=3), "never wins or never loses"),
        (NoExplorationConfig(steps=5), "DPO had not converged after 5 steps"),
        (NoExplorationConfig(online_learning_rate=1e-4), "did not measurably find"),
    ],
)
def test_a_run_that_cannot_show_its_point_is_refused(config, message) -> None:
    with pytest.raises(ExperimentFailed, match=message):
        no_exploration_experiment(config)


def test_the_command_writes_its_record_and_figure(tmp_path, capsys) -> None:
    assert main(["experiment", "no-exploration", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    record = json.loads((tmp_path / "no_exploration.json").read_text(encoding="utf-8"))
    assert record["summary"] == summary
    assert record["command"].startswith("dpo-lab experiment no-exploration")
    assert record["responses"][record["best"]] == "4"
    for key in ("pi_ref", "dpo", "online", "optimal", "dpo_with_best"):
        assert len(record[key]) == 5
    assert len(record["online_history"]) == record["config"]["online_steps"] + 1
    for suffix in ("png", "svg"):
        assert (tmp_path / "figures" / f"no_exploration.{suffix}").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--beta", "0"], "--beta must be a finite number > 0"),
        (["--n-pairs", "1"], "--n-pairs must be in 2..1,000,000"),
        (["--seed", "-3"], "--seed must be ≥ 0"),
        (["--steps", "0"], "--steps must be in 1..100,000"),
        (["--lr", "inf"], "--lr (--learning-rate) must be a finite number > 0"),
        (["--online-steps", "5"], "--online-steps must be in 10..100,000"),
        (["--group-size", "1"], "--group-size must be in 2..10,000"),
        (["--online-learning-rate", "-1"], "--online-learning-rate must be a finite number > 0"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "no-exploration", "--out", str(tmp_path), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "no_exploration.json").exists()


def test_an_online_method_that_finds_nothing_exits_1(tmp_path, capsys) -> None:
    args = ["--online-learning-rate", "1e-4"]
    assert main(["experiment", "no-exploration", "--out", str(tmp_path), *args]) == 1
    assert "did not measurably find the best response" in capsys.readouterr().err
    assert not (tmp_path / "no_exploration.json").exists()

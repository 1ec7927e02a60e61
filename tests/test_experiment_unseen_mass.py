"""The unseen-mass experiment (lab.experiments.unseen_mass, ``dpo-lab experiment unseen-mass``):
the tiny GPT-2 trained by DPO on N pairs from π_ref moves mass onto responses no pair compared;
the same N drawn uniformly, or ten times as many from π_ref, do not; and the chosen responses'
log-prob falls while the margin grows. A short run (100 DPO steps per run, π_ref warmed up once
for the module) keeps it to about half a minute; the lecture's run is the default (800 steps)."""

from __future__ import annotations

import json

import pytest
import torch

import lab.experiments.unseen_mass as unseen_mass
from lab.claims import get_claim
from lab.claims.limits_unseen import unseen_binding
from lab.claims.reading import tex_evidence
from lab.claims.tex import read_tex
from lab.cli import main
from lab.data.pairs import compared_responses
from lab.experiments import ExperimentFailed
from lab.experiments.unseen_mass import UnseenMassConfig, unseen_mass_experiment

SHORT = UnseenMassConfig(steps=100)


@pytest.fixture(scope="module")
def run() -> unseen_mass.UnseenMassRun:
    return unseen_mass_experiment(SHORT)


def test_pairs_from_pi_ref_leave_most_responses_in_no_pair_and_no_mle(run) -> None:
    summary = run.summary()
    assert summary["mle_exists"] == 0.0
    assert len(run.nodes) + len(run.unseen) == 259
    assert len(run.unseen) > 200
    seen = {node["response"] for node in run.nodes}
    assert {edge["chosen"] for edge in run.edges} | {e["rejected"] for e in run.edges} == seen
    assert sum(edge["count"] for edge in run.edges) == sum(node["wins"] for node in run.nodes)
    assert not seen & set(run.unseen)


def test_pi_theta_moves_mass_onto_the_unseen_responses_and_the_fixes_do_not(run) -> None:
    summary = run.summary()
    assert summary["unseen_mass_pi_theta"] > 10 * summary["unseen_mass_pi_ref"]
    assert summary["unseen_mass_pi_theta"] > 0.1
    assert summary["unseen_mass_pi_star"] < summary["unseen_mass_pi_ref"]
    assert summary["unseen_mass_more"] < summary["unseen_mass_pi_theta"] / 5
    assert summary["unseen_mass_uniform"] < summary["unseen_mass_pi_theta"] / 5
    assert summary["tv_more"] < summary["tv_reference"] / 2
    top = run.top_unseen
    assert top["response"] == run.unseen[0] == "4 4"
    assert top["pi_theta"] > 100 * top["pi_ref"]


def test_the_claims_tex_holds_on_the_gpt2_run(run) -> None:
    """limits.unseen_mass is checked on a small causal LM (no transformers import); the
    experiment's tiny GPT-2 satisfies the same TeX, on both prompts."""
    reading = read_tex(get_claim("limits.unseen_mass").tex)
    tables = run.tables
    binding = unseen_binding(tables["reference"], tables["pi_ref"], tables["seen"], "GPT-2")
    assert tex_evidence(reading, [binding]).passed
    optimal = unseen_binding(tables["pi_star"], tables["pi_ref"], tables["seen"], "π*")
    assert not tex_evidence(reading, [optimal]).passed  # π* puts less there than π_ref


def test_the_chosen_log_prob_falls_while_the_margin_grows(run) -> None:
    summary = run.summary()
    for prefix in ("", "pop_"):
        assert summary[f"{prefix}chosen_logp_after"] < summary[f"{prefix}chosen_logp_before"]
        assert summary[f"{prefix}chosen_reward"] < 0 < summary[f"{prefix}margin"]
    assert summary["table_chosen_reward"] < 0 < summary["table_margin"]
    assert summary["table_max_abs_error"] < 1e-6
    assert summary["shifted_loss_change"] < 1e-12
    before = run.chosen_falls["transformer"]["reference"]["step0"]
    assert before["rewards/chosen"] == before["rewards/margins"] == 0.0


def test_the_command_writes_its_record_and_figure(run, tmp_path, capsys, monkeypatch) -> None:
    """The command with --steps 100 (the run above, not trained again) writes the JSON the scene
    reads and the figure."""
    monkeypatch.setattr(unseen_mass, "unseen_mass_experiment", lambda c: run if c == SHORT else 0)
    assert main(["experiment", "unseen-mass", "--out", str(tmp_path), "--steps", "100"]) == 0
    record = json.loads((tmp_path / "unseen_mass.json").read_text(encoding="utf-8"))
    assert record["command"].startswith("dpo-lab experiment unseen-mass")
    assert record["summary"] == pytest.approx(run.summary())
    assert [r["name"] for r in record["runs"]] == ["reference", "uniform", "more", "population"]
    assert len(record["shown"]) == len(record["pi_ref"]) == len(record["runs"][0]["shown"]) == 8
    assert "tables" not in record
    for name in ("unseen_mass", "chosen_falls"):
        for suffix in ("png", "svg"):
            assert (tmp_path / "figures" / f"{name}.{suffix}").stat().st_size > 10_000
    assert "unseen_mass_pi_theta" in capsys.readouterr().out


def test_pairs_that_compare_nearly_everything_are_refused(tmp_path, capsys) -> None:
    """100 000 pairs from π_ref compare nearly every response, and what is left in no pair does
    not gain a measurable share: exit 1, nothing written (π_ref is the module's, warmed up once)."""
    options = {"n_pairs": 100_000, "steps": 100, "more": 2}
    with pytest.raises(ExperimentFailed, match=r"not 0\.01 more"):
        unseen_mass_experiment(UnseenMassConfig(**options))
    flags = ["--n-pairs", "1e5", "--steps", "100", "--more", "2"]
    assert main(["experiment", "unseen-mass", "--out", str(tmp_path), *flags]) == 1
    assert "draw fewer pairs (--n-pairs)" in capsys.readouterr().err
    assert not (tmp_path / "unseen_mass.json").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--n-pairs", "5"], "--n-pairs must be in 10..100,000"),
        (["--seed", "-1"], "--seed must be in 0..2147483647"),
        (["--steps", "5"], "--steps must be in 10..100,000"),
        (["--more", "1"], "--more must be in 2..100"),
        (["--n-pairs", "100000", "--more", "20"], "--more must be in 2..100 with more × n_pairs"),
        (["--steps", "1.5"], "argument --steps: '1.5' is not a whole number"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "unseen-mass", "--out", str(tmp_path), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "unseen_mass.json").exists()


def test_unseen_is_what_no_pair_mentions() -> None:
    weights = torch.zeros(2, 4, 4, dtype=torch.float64)
    weights[0, 1, 2] = weights[1, 3, 0] = 0.5
    assert compared_responses(weights).tolist() == [
        [False, True, True, False],
        [True, False, False, True],
    ]

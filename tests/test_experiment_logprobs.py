"""The log-probs experiment (lab.experiments.logprobs, ``dpo-lab experiment logprobs``): one
preference pair of the token world scored token by token under π_ref and the trained π_θ. A short
run (60 warm-up and 40 DPO steps) keeps it to seconds; the lecture's run is the default."""

from __future__ import annotations

import json
import math

import pytest
import torch

import lab.experiments.logprobs
from lab.cli import main
from lab.core.sequences import token_logprobs
from lab.experiments.logprobs import LogprobsRun
from lab.worlds.tokens import EOS

SHORT = ["--steps", "40", "--warmup-steps", "60"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("logprobs")
    assert main(["experiment", "logprobs", "--out", str(out), "--json", *SHORT]) == 0
    return json.loads((out / "logprobs.json").read_text(encoding="utf-8")) | {"out": out}


@pytest.fixture(scope="module")
def run(written) -> LogprobsRun:
    record = {k: v for k, v in written.items() if k not in ("command", "out")}
    return LogprobsRun.from_dict(record)


def test_the_command_writes_its_record_and_figure(written) -> None:
    assert written["command"].startswith("dpo-lab experiment logprobs")
    for suffix in ("png", "svg"):
        assert (written["out"] / "figures" / f"logprobs_tokens.{suffix}").stat().st_size > 10_000


def test_the_mask_covers_the_response_and_its_eos_not_the_prompt(run) -> None:
    for side, response in (("chosen", run.config.chosen), ("rejected", run.config.rejected)):
        scored = run.scored[f"policy_{side}"]
        prompt = run.config.prompt.split()
        assert scored.tokens == [*prompt, *response.split(), EOS]
        assert scored.mask == [0] * len(prompt) + [1] * (len(response.split()) + 1)


def test_log_pi_is_the_masked_sum_of_the_token_log_probs(run) -> None:
    for scored in run.scored.values():
        counted = [lp for lp, m in zip(scored.token_logps, scored.mask, strict=True) if m]
        assert scored.total == pytest.approx(sum(counted), abs=1e-12)
        assert scored.total < 0


def test_the_prompt_scores_the_same_before_either_response(run) -> None:
    """Token t is scored by the logits at t − 1 alone: the prompt's tokens come before the
    response, so they score the same in both rows of a model (and differently in the two models,
    which the mask keeps out of the loss)."""
    for model in ("policy", "reference"):
        chosen, rejected = run.scored[f"{model}_chosen"], run.scored[f"{model}_rejected"]
        prompt = chosen.mask.index(1)
        assert chosen.token_logps[:prompt] == rejected.token_logps[:prompt]
    assert (
        run.scored["policy_chosen"].token_logps[1] != run.scored["reference_chosen"].token_logps[1]
    )


def test_one_pass_matches_the_chain_rule_prefix_by_prefix(run) -> None:
    assert run.chain_rule_error <= 1e-5


def test_the_loss_comes_from_the_four_log_probs(run) -> None:
    four = run.four()
    margin = (four["policy_chosen"] - four["reference_chosen"]) - (
        four["policy_rejected"] - four["reference_rejected"]
    )
    assert run.loss == pytest.approx(math.log1p(math.exp(-run.beta * margin)), abs=1e-12)
    assert run.chosen_reward - run.rejected_reward == pytest.approx(run.beta * margin, abs=1e-12)
    assert run.loss < math.log(2)  # trained by DPO: the pair is ranked right, unlike at π_ref


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--chosen", "4 7"], "--chosen has words outside the vocabulary"),
        (["--rejected", "2 2 2 2"], "--rejected has 4 tokens; responses have at most 3"),
        (["--rejected", "4"], "--rejected must differ from chosen"),
        (["--prompt", "1 + 1 ="], "--prompt must be one of"),
        (["--steps", "0"], "--steps must be a whole number ≥ 1"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "logprobs", "--out", str(tmp_path), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "logprobs.json").exists()


def test_log_probs_that_break_the_chain_rule_exit_1(tmp_path, capsys, monkeypatch) -> None:
    """The classic bug, no shift (the logits at t score the token at t): the one-pass log-probs
    no longer match the prefixes, and the experiment says so instead of drawing them."""

    def not_shifted(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        return token_logprobs(logits, input_ids)[:, 1:]

    monkeypatch.setattr(lab.experiments.logprobs, "next_token_logprobs", not_shifted)
    assert main(["experiment", "logprobs", "--out", str(tmp_path), *SHORT]) == 1
    assert "one pass and the chain rule disagree" in capsys.readouterr().err
    assert not (tmp_path / "logprobs.json").exists()

"""The why-DPO experiment (lab.experiments.why_dpo, ``dpo-lab experiment why-dpo``): the models RLHF
and DPO hold in memory, the responses Z(x) sums over, the 2 + 2 pair; and its claim
``why.response_count``, whose TeX is read (V^k a power)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from lab.claims import get_claim, verify
from lab.claims.tex import Binary, Sym, read_tex
from lab.cli import main
from lab.experiments.why_dpo import (
    WhyDpoConfig,
    log10_response_count,
    model_sizes,
    why_dpo_experiment,
)
from lab.training.policies import world_model
from lab.worlds.tabular import default_world
from lab.worlds.tokens import TokenWorld, enumerate_responses


@pytest.fixture(scope="module")
def result():
    return why_dpo_experiment()


def test_rlhf_holds_four_models_and_dpo_two(result) -> None:
    for backbone in result.backbones:
        roles = [model.role for model in backbone.rlhf.models]
        assert roles == ["policy", "reference", "reward model", "value model"]
        assert [model.role for model in backbone.dpo.models] == ["policy", "reference"]
        policy, reference, reward, value = backbone.rlhf.models
        assert policy.parameters == reference.parameters  # π_ref is a copy of the SFT model
        assert reward.parameters == value.parameters  # the same backbone, a scalar head each
        assert 0 < reward.parameters - policy.parameters < policy.parameters / 100  # the head
        assert backbone.ratio > 1.9
        assert backbone.rlhf.as_dict()["bytes_float32"] == 4 * backbone.rlhf.parameters
        assert backbone.dpo.as_dict()["bytes_bfloat16"] == 2 * backbone.dpo.parameters


def test_the_counts_are_the_models_as_built(result) -> None:
    """GPT-2 small as everyone quotes it (124,439,808 with the tied head counted once); the tiny
    transformer as the lab trains it, built for real on the CPU."""
    tiny, gpt2 = result.backbones
    assert (tiny.name, gpt2.name) == ("tiny transformer", "GPT-2 small")
    assert gpt2.dpo.models[0].parameters == 124_439_808
    built = world_model(TokenWorld(), seed=0)
    assert tiny.dpo.models[0].parameters == sum(p.numel() for p in built.parameters())


def test_the_default_vocabulary_is_gpt2s() -> None:
    from transformers import GPT2Config

    assert WhyDpoConfig().vocab == GPT2Config().vocab_size


def test_the_pair_is_2_plus_2s_best_and_worst_answer(result) -> None:
    world = default_world()
    pair = result.pair
    assert pair.prompt == world.prompts[0]
    assert (pair.chosen, pair.rejected) == (world.responses[0][0], world.responses[0][4])
    assert pair.reward_chosen == float(world.reward[0].max())
    assert pair.reward_rejected == float(world.reward[0].min())
    expected = 1 / (1 + math.exp(-(pair.reward_chosen - pair.reward_rejected)))
    assert pair.preference_prob == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("vocab", "max_tokens"), [(2, 1), (3, 4), (7, 3), (50_257, 5)])
def test_log10_response_count_is_the_count_of_listed_responses(vocab, max_tokens) -> None:
    exact = sum(vocab**k for k in range(max_tokens + 1))  # Python integers: exact
    assert log10_response_count(vocab, max_tokens) == pytest.approx(math.log10(exact), abs=1e-12)
    if vocab**max_tokens < 10_000:
        listed = enumerate_responses(list(range(1, vocab + 1)), 0, max_tokens)
        assert len(listed) == exact


def test_gpt2s_responses_do_not_overflow(result) -> None:
    exact = sum(50_257**k for k in range(101))
    assert result.log10_responses == pytest.approx(math.log10(exact), abs=1e-12)
    assert math.isfinite(log10_response_count(10_000_000, 100_000))


def test_the_same_command_gives_the_same_record() -> None:
    assert why_dpo_experiment().as_dict() == why_dpo_experiment().as_dict()


def test_building_on_the_meta_device_allocates_nothing() -> None:
    before = torch.empty(0).device
    model_sizes()
    assert torch.empty(0).device == before  # the meta device does not leak out


def test_the_command_writes_its_record_and_figure(tmp_path, capsys) -> None:
    assert main(["experiment", "why-dpo", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    record = json.loads((tmp_path / "why_dpo.json").read_text(encoding="utf-8"))
    assert record["summary"] == summary
    assert record["command"].startswith("dpo-lab experiment why-dpo")
    assert summary["gpt2_rlhf_parameters"] == 2 * summary["gpt2_dpo_parameters"] + 2 * 768
    assert [len(backbone["rlhf"]["models"]) for backbone in record["memory"]] == [4, 4]
    assert record["pair"]["chosen"] == default_world().responses[0][0]
    for suffix in ("png", "svg"):
        assert (tmp_path / "figures" / f"why_dpo_memory.{suffix}").stat().st_size > 10_000


def test_the_options_set_v_and_l(tmp_path, capsys) -> None:
    command = ["experiment", "why-dpo", "--out", str(tmp_path), "--json"]
    assert main([*command, "--vocab", "7", "--max-tokens", "3"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    assert summary["log10_responses"] == pytest.approx(math.log10(1 + 7 + 49 + 343))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--vocab", "1"], "--vocab must be in 2..10,000,000"),
        (["--vocab", "1e8"], "--vocab must be in 2..10,000,000"),
        (["--max-tokens", "0"], "--max-tokens must be in 1..100,000"),
        (["--max-tokens", "1e6"], "--max-tokens must be in 1..100,000"),
        (["--max-tokens", "2.5"], "--max-tokens: '2.5' is not a whole number"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "why-dpo", "--out", str(tmp_path), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "why_dpo.json").exists()


def test_v_to_the_k_reads_as_a_power_and_p_star_as_a_name() -> None:
    power = read_tex(r"V^k")
    assert isinstance(power, Binary) and power.op == "^"
    assert power.left == Sym((0, 1), "V") and power.right == Sym((2, 3), "k")
    assert read_tex(r"V^{L+1}").right == read_tex(r"L + 1")
    assert read_tex(r"p^*") == Sym((0, 3), "p^{*}")


@pytest.mark.parametrize(
    "wrong",
    [
        r"|\mathcal{Y}| = \sum_{k=1}^{L} V^k",  # the empty response forgotten
        r"|\mathcal{Y}| = \sum_{k=0}^{L-1} V^k",  # the full-length responses forgotten
        r"|\mathcal{Y}| = \sum_{k=0}^{L} V^{k+1}",
        r"|\mathcal{Y}| = \sum_{k=0}^{L} k^V",
        r"|\mathcal{Y}| = V^L",
    ],
)
def test_the_response_count_fails_with_a_wrong_sum(wrong) -> None:
    """The sign and term mutants find nothing to change in this TeX; these wrong counts, each a
    slip one could make, must fail all the same: the sum's bounds and its power are read."""
    claim = get_claim("why.response_count")
    assert verify(claim).ok
    verdict = verify(dataclasses.replace(claim, tex=wrong))
    assert not verdict.passed
    assert "TeX fails" in verdict.check.note

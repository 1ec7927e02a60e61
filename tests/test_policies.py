"""lab.policies and lab.token_world: the tiny GPT-2, its local tokenizer, π_ref."""

from __future__ import annotations

import torch

from lab.policies import reference_policy, sft_examples, single_cpu_thread, world_model
from lab.sequences import batch_logprobs, enumerated_logprobs
from lab.token_world import (
    EOS,
    TokenWorld,
    build_tokenizer,
    encode_response,
    response_space,
    response_text,
)

WORLD = TokenWorld()
TOKENIZER = build_tokenizer(WORLD)


def test_tokenizer_is_local_word_level_with_eos_first() -> None:
    assert TOKENIZER.get_vocab_size() == 7 and TOKENIZER.token_to_id(EOS) == 0
    assert TOKENIZER.encode("2 + 2 =").ids == [1, 5, 1, 6]
    assert encode_response(TOKENIZER, "4", 3) == [3, 0]
    assert encode_response(TOKENIZER, "4 4 4", 3) == [3, 3, 3]  # at the limit: no EOS
    assert response_text(TOKENIZER, [3, 0]) == "4" and response_text(TOKENIZER, [0]) == ""


def test_reward_prefers_correct_then_short() -> None:
    reward = WORLD.reward
    assert (
        reward("2 + 2 =", "4")
        > reward("2 + 2 =", "= 4")
        > reward("2 + 2 =", "")
        > reward("2 + 2 =", "5")
    )
    assert reward("2 + 3 =", "5") == 1.5 and reward("2 + 3 =", "4") == -0.5
    assert reward("2 + 2 =", "2 2") == -1.0  # the "22" slip: a number that is not the answer


def test_model_is_a_small_seeded_gpt2_without_dropout() -> None:
    state = torch.random.get_rng_state()
    model = world_model(WORLD, seed=11)
    assert torch.equal(torch.random.get_rng_state(), state), "building a model moved the global RNG"
    config = model.config
    assert (config.n_layer, config.n_embd, config.vocab_size) == (2, 32, 7)
    assert config.resid_pdrop == config.embd_pdrop == config.attn_pdrop == 0.0
    assert sum(p.numel() for p in model.parameters()) < 100_000
    same, other = world_model(WORLD, seed=11), world_model(WORLD, seed=12)
    weight = "transformer.h.0.attn.c_attn.weight"
    assert torch.equal(model.state_dict()[weight], same.state_dict()[weight])
    assert not torch.equal(model.state_dict()[weight], other.state_dict()[weight])


def test_warm_up_makes_a_plausible_frozen_reference() -> None:
    batch, weights = sft_examples(WORLD, TOKENIZER)
    initial = world_model(WORLD, seed=0)
    reference = reference_policy(WORLD, TOKENIZER, seed=0, warmup_steps=60)
    with torch.no_grad():
        before = (weights * batch_logprobs(initial, batch)).sum()
        after = (weights * batch_logprobs(reference, batch)).sum()
    assert after > before + 1.0, "the warm-up should raise the examples' log-likelihood"
    assert not any(p.requires_grad for p in reference.parameters())
    responses = response_space(WORLD, TOKENIZER)
    prompts = [TOKENIZER.encode(p).ids for p in WORLD.prompts]
    with torch.no_grad():
        probs = enumerated_logprobs(reference, prompts, responses, WORLD.eos_id).exp()
    likeliest = [response_text(TOKENIZER, responses[i]) for i in probs.argmax(dim=-1).tolist()]
    assert likeliest == ["4", "5"]  # the most frequent example of each prompt


def test_single_cpu_thread_restores_the_setting() -> None:
    threads = torch.get_num_threads()
    with single_cpu_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads

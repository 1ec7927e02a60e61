"""The token world: its local tokenizer, its reward, and the responses it lists."""

from __future__ import annotations

import torch

from lab.data.batches import enumerated_logprobs
from lab.training.policies import world_model
from lab.worlds.tokens import (
    EOS,
    TokenWorld,
    build_tokenizer,
    encode_response,
    enumerate_responses,
    response_space,
    response_text,
)

WORLD = TokenWorld()
TOKENIZER = build_tokenizer(WORLD)


def test_enumerate_responses_lists_every_sampler_outcome_once() -> None:
    responses = enumerate_responses([1, 2, 3], eos_id=0, max_tokens=2)
    assert len(responses) == 1 + 3 + 9 == len(set(responses))
    assert (0,) in responses and (2, 0) in responses and (3, 1) in responses
    assert all(r[-1] == 0 for r in responses if len(r) <= 2 and 0 in r)
    assert all(0 not in r for r in responses if len(r) == 2 and r[-1] != 0)


def test_probabilities_sum_to_one_in_a_smaller_world_too() -> None:
    world = TokenWorld(content_tokens=("2", "4", "+", "="), max_response_tokens=2, sft_examples={})
    tokenizer = build_tokenizer(world)
    model = world_model(world, seed=5).double()
    prompts = [tokenizer.encode(prompt).ids for prompt in world.prompts]
    with torch.no_grad():
        logps = enumerated_logprobs(model, prompts, response_space(world, tokenizer), world.eos_id)
    assert logps.shape == (2, 1 + 4 + 16)
    assert torch.allclose(logps.exp().sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-12)


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

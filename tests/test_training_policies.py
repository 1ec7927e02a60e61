"""The tiny GPT-2 built from a config, and π_ref after its supervised warm-up."""

from __future__ import annotations

import torch

from lab.data.batches import batch_logprobs, enumerated_logprobs
from lab.training.policies import reference_policy, sft_examples, world_model
from lab.worlds.tokens import TokenWorld, build_tokenizer, response_space, response_text

WORLD = TokenWorld()
TOKENIZER = build_tokenizer(WORLD)


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

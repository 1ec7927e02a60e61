"""A policy that is a language model: a tiny causal transformer, and the reference policy π_ref.

The model is Hugging Face's GPT-2 architecture built from a ``GPT2Config`` — two layers, 32 wide,
26 208 parameters for the token world — with randomly initialised weights: nothing is downloaded.
Dropout is off, so that a forward pass is a function of the weights alone (π_θ = π_ref exactly at
step 0).

π_ref is this model after a short supervised warm-up on the world's example responses, not its
random initialisation. DPO starts from an SFT model, and a random transformer is nothing like one:
it spreads probability almost evenly over the 7 tokens, so π_ref(y | x) ≈ 7^−(|y|+1) — the empty
response would be the likeliest and "4" would get about 2 %. The derivation holds for any π_ref,
but the warmed-up one makes π* a re-weighting of plausible answers, which is the lecture's point,
and its bars readable. The warm-up is stopped early (``WARMUP_STEPS``) on purpose: π_ref keeps
some mass on responses it never saw, as a real SFT model does.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer
from transformers import GPT2Config, GPT2LMHeadModel

from lab.data.batches import batch_logprobs, collate
from lab.training.devices import single_cpu_thread
from lab.training.transformer import WARMUP_STEPS, TinyLMConfig
from lab.worlds.tokens import TokenWorld, encode_response

WARMUP_LEARNING_RATE = 3e-3


def tiny_causal_lm(
    vocab_size: int, eos_id: int, seed: int, config: TinyLMConfig = TinyLMConfig()
) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 of ``config``'s size, seeded, on the CPU, in eval mode."""
    gpt2_config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    # fork_rng: seed the initialisation without changing the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(gpt2_config)
    return model.eval()


def world_model(world: TokenWorld, seed: int, config: TinyLMConfig = TinyLMConfig()):
    """``tiny_causal_lm`` sized for ``world``'s vocabulary."""
    return tiny_causal_lm(len(world.vocabulary), world.eos_id, seed, config)


def sft_examples(world: TokenWorld, tokenizer: Tokenizer):
    """The warm-up data: one row per distinct example, weighted by its count.

    Prompts weigh the same; within a prompt an example weighs its count over the prompt's total.

    Returns:
        (batch, weights): a SequenceBatch of prompt ∘ response rows, and weights summing to 1.
        Shape of weights: (rows,)
    """
    prompts, responses, weights = [], [], []
    for prompt, examples in world.sft_examples.items():
        total = sum(examples.values())
        for text, count in examples.items():
            prompts.append(tokenizer.encode(prompt).ids)
            responses.append(encode_response(tokenizer, text, world.max_response_tokens))
            weights.append(count / total / len(world.sft_examples))
    return collate(prompts, responses, world.eos_id), torch.tensor(weights)


def supervised_warm_up(
    model: GPT2LMHeadModel,
    world: TokenWorld,
    tokenizer: Tokenizer,
    steps: int = WARMUP_STEPS,
    learning_rate: float = WARMUP_LEARNING_RATE,
) -> GPT2LMHeadModel:
    """Supervised fine-tuning: minimise −Σ w·log π(y | x) over the examples with Adam, full batch.

    The loss uses the same sequence log-probs as DPO (response tokens only, EOS included). The
    model is trained in place and returned in eval mode.
    """
    batch, weights = sft_examples(world, tokenizer)
    device = next(model.parameters()).device
    batch, weights = batch.to(device), weights.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    with single_cpu_thread():
        for _ in range(steps):
            negative_log_likelihood = -(weights * batch_logprobs(model, batch)).sum()
            optimizer.zero_grad(set_to_none=True)
            negative_log_likelihood.backward()
            optimizer.step()
    return model.eval()


def reference_policy(
    world: TokenWorld,
    tokenizer: Tokenizer,
    seed: int,
    warmup_steps: int = WARMUP_STEPS,
    config: TinyLMConfig = TinyLMConfig(),
    device: torch.device | str = "cpu",
) -> GPT2LMHeadModel:
    """π_ref: the tiny model after ``warmup_steps`` of supervised warm-up, frozen, in eval mode.

    Deterministic for a given seed on a given device (Adam on a full batch, no sampling).
    """
    model = world_model(world, seed, config).to(device)
    model = supervised_warm_up(model, world, tokenizer, steps=warmup_steps)
    return model.requires_grad_(False)

"""Beyond the five steps — sequence log-probs in practice, checked against the chain rule.

DPO's log π(y | x) is, for a language model, a sum of token log-probs read off one forward pass
(``lab.core.sequences``). Each claim compares that one-pass computation with an independent one:
the chain rule evaluated prefix by prefix — one forward pass per prefix x ∘ y_<t, reading only the
last position's distribution, so that no shift and no mask is involved — on a small random causal
LM in float64 (``fixtures.TinyCausalLM``). The refutations are the classic bugs: the prompt left
unmasked, the mask not shifted with the labels, padding counted, the mean taken for the sum, the
EOS term dropped, π_θ not started from π_ref.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lab.claims.fixtures import CHECK_BETAS, TinyCausalLM
from lab.claims.registry import Claim, Evidence
from lab.core.dpo import dpo_loss
from lab.core.sequences import sequence_logprobs, token_logprobs
from lab.data.batches import (
    SequenceBatch,
    collate,
    completion_mask,
    concatenated_forward,
    enumerated_logprobs,
)
from lab.data.enumerated import enumerate_world, world_pairs
from lab.training.transformer import start_policy
from lab.worlds.tokens import TokenWorld, build_tokenizer, enumerate_responses

SEED = 7
FLOAT64_TOLERANCE = 1e-10
EXTRA_PADDING = 3
WORLD = TokenWorld()

# score(logits, input_ids, completion_mask) → a candidate for log π(y | x), shape (B,)
Scorer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _model(seed: int = SEED) -> torch.nn.Module:
    """A random causal LM over the token world's vocabulary (any model must satisfy these
    identities)."""
    return TinyCausalLM(len(WORLD.vocabulary), seed)


def _rows(seed: int = SEED, count: int = 8) -> tuple[list[list[int]], list[list[int]]]:
    """Random prompts (1–5 tokens) and responses (1–4 tokens, ending in EOS or not)."""
    generator = torch.Generator().manual_seed(seed)
    vocabulary = len(WORLD.vocabulary)

    def tokens(low: int, high: int) -> list[int]:
        length = int(torch.randint(low, high + 1, (1,), generator=generator))
        return torch.randint(vocabulary, (length,), generator=generator).tolist()

    return [tokens(1, 5) for _ in range(count)], [tokens(1, 4) for _ in range(count)]


def _prefix_logprobs(model, prompts, responses) -> list[list[float]]:
    """log π(y_t | x, y_<t) for every response token, one forward pass per prefix x ∘ y_<t, reading
    the last position only: the chain rule with no shift and no mask involved."""
    result = []
    with torch.no_grad():
        for prompt, response in zip(prompts, responses, strict=True):
            row = []
            for t, token in enumerate(response):
                prefix = torch.tensor([prompt + response[:t]])
                last = model(input_ids=prefix, attention_mask=torch.ones_like(prefix)).logits[0, -1]
                row.append(torch.log_softmax(last, dim=-1)[token].item())
            result.append(row)
    return result


def _one_pass(model, batch: SequenceBatch, score: Scorer) -> torch.Tensor:
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        return score(logits, batch.input_ids, batch.completion_mask)


def _check_against_chain_rule(score: Scorer) -> Evidence:
    """One forward pass, scored by ``score``, against Σ_t log π(y_t | x, y_<t) prefix by prefix."""
    model = _model()
    prompts, responses = _rows()
    batch = collate(prompts, responses, WORLD.eos_id)
    got = _one_pass(model, batch, score)
    chain = _prefix_logprobs(model, prompts, responses)
    want = torch.tensor([sum(row) for row in chain], dtype=torch.float64)
    error = (got - want).abs().max().item()
    return Evidence(
        measured={"max_abs_error": error, "rows": float(len(prompts))},
        tolerance=FLOAT64_TOLERANCE,
        passed=error <= FLOAT64_TOLERANCE,
    )


def _prompt_unmasked(logits, input_ids, mask):
    """Wrong: every token up to the response's end counts, the prompt's included (all but the
    first, which nothing scores)."""
    positions = torch.arange(mask.shape[1])
    end = (mask * (positions + 1)).max(dim=1, keepdim=True).values
    with_prompt = (positions >= 1) & (positions < end)
    return sequence_logprobs(logits, input_ids, with_prompt)


def _mask_not_shifted(logits, input_ids, mask):
    """Wrong: labels shifted (tokens 1..T−1) but the mask not (positions 0..T−2)."""
    token_logps = token_logprobs(logits[:, :-1], input_ids[:, 1:])
    return torch.where(mask[:, :-1].bool(), token_logps, 0.0).sum(-1)


def _check_padding(mask_builder: Callable) -> Evidence:
    """The same rows, padded to their longest and with EXTRA_PADDING more positions, masks built by
    ``mask_builder(prompt_lengths, sequence_lengths, T)``: the log-probs must not move."""
    model = _model()
    prompts, responses = _rows()
    prompt_lengths = torch.tensor([len(p) for p in prompts])
    sequence_lengths = prompt_lengths + torch.tensor([len(r) for r in responses])
    results = []
    for extra in (0, EXTRA_PADDING):
        batch = collate(prompts, responses, WORLD.eos_id, int(sequence_lengths.max()) + extra)
        mask = mask_builder(prompt_lengths, sequence_lengths, batch.input_ids.shape[1])
        padded = SequenceBatch(batch.input_ids, batch.attention_mask, mask)
        results.append(_one_pass(model, padded, sequence_logprobs))
    error = (results[0] - results[1]).abs().max().item()
    return Evidence(
        measured={"max_abs_change": error, "extra_padding": float(EXTRA_PADDING)},
        tolerance=FLOAT64_TOLERANCE,
        passed=error <= FLOAT64_TOLERANCE,
    )


def _mask_through_padding(prompt_lengths, sequence_lengths, length):
    """Wrong: "everything after the prompt is the response", padding included."""
    return completion_mask(prompt_lengths, torch.full_like(sequence_lengths, length), length)


def _check_chain_rule(score: Scorer) -> Evidence:
    """exp(score) against the product of the token probabilities, prefix by prefix (relative)."""
    model = _model()
    prompts, responses = _rows()
    batch = collate(prompts, responses, WORLD.eos_id)
    got = _one_pass(model, batch, score).exp()
    products = torch.tensor(
        [
            math.prod(math.exp(lp) for lp in row)
            for row in _prefix_logprobs(model, prompts, responses)
        ],
        dtype=torch.float64,
    )
    error = ((got - products).abs() / products).max().item()
    return Evidence(
        measured={"max_relative_error": error, "smallest_product": products.min().item()},
        tolerance=FLOAT64_TOLERANCE,
        passed=error <= FLOAT64_TOLERANCE,
    )


def _check_sum_to_one(list_responses: Callable) -> Evidence:
    """Σ_y π(y | x) over ``list_responses(content_ids, eos_id, max_tokens)``, for two random models
    and both prompts of the world: every sum must be 1."""
    tokenizer = build_tokenizer(WORLD)
    content_ids = [tokenizer.token_to_id(token) for token in WORLD.content_tokens]
    responses = list_responses(content_ids, WORLD.eos_id, WORLD.max_response_tokens)
    prompts = [tokenizer.encode(prompt).ids for prompt in WORLD.prompts]
    sums = []
    for seed in (SEED, SEED + 1):
        with torch.no_grad():
            logps = enumerated_logprobs(_model(seed), prompts, responses, WORLD.eos_id)
        sums.append(logps.exp().sum(dim=-1))
    error = (torch.cat(sums) - 1).abs().max().item()
    return Evidence(
        measured={"max_abs_error": error, "responses": float(len(responses))},
        tolerance=FLOAT64_TOLERANCE,
        passed=error <= FLOAT64_TOLERANCE,
    )


def _responses_without_eos(content_ids, eos_id, max_tokens):
    """Wrong: the same responses, their EOS term dropped."""
    return [
        tuple(t for t in response if t != eos_id)
        for response in enumerate_responses(content_ids, eos_id, max_tokens)
    ]


def _check_reference_start(start: Callable) -> Evidence:
    """At step 0 π_θ = start(π_ref): over every labelled pair of the enumerated token world, each
    DPO loss must be log 2 and each implicit reward 0 (the transformer trainer's own concatenated
    forward and loss)."""
    beta = CHECK_BETAS[0]
    reference = _model().requires_grad_(False)
    enumerated = enumerate_world(WORLD, build_tokenizer(WORLD), reference, beta)
    batch = world_pairs(enumerated, "uniform", None, SEED).with_reference(reference)
    policy = start(reference)
    with torch.no_grad():
        chosen_logps, rejected_logps = concatenated_forward(policy, batch)
        losses, chosen_rewards, rejected_rewards = dpo_loss(
            chosen_logps,
            rejected_logps,
            batch.reference_logps[batch.chosen_index],
            batch.reference_logps[batch.rejected_index],
            beta,
        )
    loss_error = (losses - math.log(2)).abs().max().item()
    reward_size = torch.cat([chosen_rewards, rejected_rewards]).abs().max().item()
    return Evidence(
        measured={
            "max_abs_loss_minus_log2": loss_error,
            "max_abs_reward": reward_size,
            "pairs": float(len(batch)),
        },
        tolerance=FLOAT64_TOLERANCE,
        passed=loss_error <= FLOAT64_TOLERANCE and reward_size <= FLOAT64_TOLERANCE,
    )


def _start_from_scratch(reference: torch.nn.Module) -> torch.nn.Module:
    """Wrong: π_θ freshly initialised instead of copied from π_ref."""
    return _model(SEED + 1)


CLAIMS = (
    Claim(
        id="step7.prompt_masked",
        step=7,
        tex=r"\log \pi_\theta(y \mid x) "
        r"= \sum_{t=|x|+1}^{|x|+|y|} \log \pi_\theta(s_t \mid s_{<t})",
        says="Only response tokens are scored: the prompt is conditioned on, never counted.",
        check=lambda: _check_against_chain_rule(sequence_logprobs),
        refute=lambda: _check_against_chain_rule(_prompt_unmasked),
    ),
    Claim(
        id="step7.shift",
        step=7,
        tex=r"\log \pi_\theta(s_t \mid s_{<t}) = \log \operatorname{softmax}(\ell_{t-1})_{s_t}",
        says="The logits at position t − 1 score the token at position t.",
        check=lambda: _check_against_chain_rule(sequence_logprobs),
        refute=lambda: _check_against_chain_rule(_mask_not_shifted),
    ),
    Claim(
        id="step7.padding_invariant",
        step=7,
        tex=r"\sum_{t=1}^{T+k} m_t \log \pi_\theta(s_t \mid s_{<t}) "
        r"= \sum_{t=1}^{T} m_t \log \pi_\theta(s_t \mid s_{<t})",
        says="Extra right-padding changes no sequence log-prob: padded positions have mask 0.",
        check=lambda: _check_padding(completion_mask),
        refute=lambda: _check_padding(_mask_through_padding),
    ),
    Claim(
        id="step7.chain_rule",
        step=7,
        tex=r"\sum_{t=1}^{|y|} \log \pi_\theta(y_t \mid x, y_{<t}) "
        r"= \log \prod_{t=1}^{|y|} \pi_\theta(y_t \mid x, y_{<t})",
        says="Summing token log-probs gives the log of the chain-rule product; a mean would not.",
        check=lambda: _check_chain_rule(sequence_logprobs),
        refute=lambda: _check_chain_rule(
            lambda logits, ids, mask: sequence_logprobs(logits, ids, mask, average_log_prob=True)
        ),
    ),
    Claim(
        id="step7.sequences_sum_to_one",
        step=7,
        tex=r"\sum_{y \in \mathcal{Y}} \pi_\theta(y \mid x) = 1",
        says="Over every response a sampler can produce, ended by EOS or by the length limit, "
        "the sequence probabilities sum to one.",
        check=lambda: _check_sum_to_one(enumerate_responses),
        refute=lambda: _check_sum_to_one(_responses_without_eos),
    ),
    Claim(
        id="step7.reference_start",
        step=7,
        tex=r"\pi_\theta = \pi_{\mathrm{ref}} \;\Rightarrow\; \mathcal{L}_{\mathrm{DPO}} = \log 2,"
        r"\quad \hat r_\theta(x, y) = 0",
        says="At step 0, with π_θ a copy of π_ref, every pair's DPO loss is log 2 and every "
        "implicit reward is 0.",
        check=lambda: _check_reference_start(start_policy),
        refute=lambda: _check_reference_start(_start_from_scratch),
    ),
)

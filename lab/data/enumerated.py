"""The token world listed response by response: π_ref, r and π* as tables over every response.

The world is small enough (``lab.worlds.tokens``: 259 responses per prompt) to score every response
with the reference model, so π_ref, r and the closed-form π* = π_ref·exp(r/β)/Z are whole
distributions, and "DPO reaches π*" is a measurement over every response.

A pair's two responses come from a proposal: ``"uniform"`` over the listed responses (the default:
the population is then every pair, weighted by its Bradley–Terry probability) or ``"reference"``,
π_ref itself, as in the DPO paper.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from lab.core.dpo import optimal_policy
from lab.data.batches import (
    PreferenceBatch,
    SequenceBatch,
    batch_logprobs,
    collate,
    enumerated_preference_batch,
)
from lab.data.pairs import population_pair_weights, sample_pairs
from lab.worlds.tokens import TokenWorld, response_space, response_text

PROPOSALS = ("uniform", "reference")


@dataclass(frozen=True)
class EnumeratedWorld:
    """Every response of every prompt, with π_ref, r and π* as tables.

    space: every prompt ∘ response, prompt-major (row x·n + y holds response y of prompt x).
    responses: the n responses' token ids, the same for every prompt.
    pi_ref, reward, pi_star: float64 tables. Shape: (n_prompts, n)
    """

    world: TokenWorld
    tokenizer: Tokenizer
    beta: float
    space: SequenceBatch
    responses: tuple[tuple[int, ...], ...]
    pi_ref: torch.Tensor
    reward: torch.Tensor
    pi_star: torch.Tensor

    def response_names(self) -> list[str]:
        return [response_text(self.tokenizer, r) or "∅" for r in self.responses]


def enumerate_world(
    world: TokenWorld, tokenizer: Tokenizer, reference: torch.nn.Module, beta: float
) -> EnumeratedWorld:
    """π_ref's probability of every response, the reward table, and π* computed from the two."""
    responses = tuple(response_space(world, tokenizer))
    prompts = [tokenizer.encode(p).ids for p in world.prompts]
    space = collate(
        [p for p in prompts for _ in responses],
        [r for _ in prompts for r in responses],
        world.eos_id,
    )
    pi_ref = enumerated_probs(reference, space).reshape(len(prompts), len(responses))
    reward = torch.tensor(
        [[world.reward(x, response_text(tokenizer, y)) for y in responses] for x in world.prompts],
        dtype=torch.float64,
    )
    pi_star = optimal_policy(pi_ref, reward, beta)
    return EnumeratedWorld(world, tokenizer, beta, space, responses, pi_ref, reward, pi_star)


def enumerated_probs(model: torch.nn.Module, space: SequenceBatch) -> torch.Tensor:
    """π(y | x) of every row of ``space``, computed in float64 on a copy of the model, so that the
    comparison with π* is not limited by float32 rounding. Shape: (len(space),)"""
    model64 = copy.deepcopy(model).double().eval()
    device = next(model64.parameters()).device
    with torch.no_grad():
        return batch_logprobs(model64, space.to(device)).exp().cpu()


def policy_probs(policy: torch.nn.Module, enumerated: EnumeratedWorld) -> torch.Tensor:
    """π_θ over every response of every prompt. Shape: (n_prompts, n)"""
    return enumerated_probs(policy, enumerated.space).reshape(enumerated.pi_star.shape)


def pair_proposal(enumerated: EnumeratedWorld, pairs_from: str) -> torch.Tensor:
    """The distribution a pair's two responses are drawn from. Shape: (n_prompts, n)"""
    if pairs_from not in PROPOSALS:
        raise ValueError(f"pairs_from must be one of {PROPOSALS}, got {pairs_from!r}")
    if pairs_from == "reference":
        return enumerated.pi_ref
    return torch.full_like(enumerated.pi_ref, 1 / enumerated.pi_ref.shape[-1])


def world_pair_weights(
    enumerated: EnumeratedWorld, pairs_from: str, n_pairs: int | None, seed: int
) -> torch.Tensor:
    """The population's pair weights (``n_pairs`` None) or those of N pairs sampled with ``seed``,
    over the enumerated world. Shape: (n_prompts, n, n)"""
    proposal = pair_proposal(enumerated, pairs_from)
    if n_pairs is None:
        return population_pair_weights(proposal, enumerated.reward)
    pairs = sample_pairs(proposal, enumerated.reward, n_pairs, seed)
    return pairs.weights(*proposal.shape)


def world_pairs(
    enumerated: EnumeratedWorld, pairs_from: str, n_pairs: int | None, seed: int
) -> PreferenceBatch:
    """``world_pair_weights`` as a PreferenceBatch over the enumerated responses."""
    weights = world_pair_weights(enumerated, pairs_from, n_pairs, seed)
    return enumerated_preference_batch(enumerated.space, weights)

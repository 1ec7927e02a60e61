"""Preference pairs drawn from a world, and the pair weights that trainers take.

A pair is drawn as Bradley–Terry's data are (step 4):
    x ~ uniform over prompts,
    (y1, y2) ~ proposal(y1 | x) · proposal(y2 | x) conditioned on y1 ≠ y2 (two distinct responses),
    y1 ≻ y2 with probability σ(r(x, y1) − r(x, y2)), else y2 ≻ y1.
The proposal is π_ref in the tabular lab, as in the DPO paper; the transformer lab draws uniformly
from every response by default.

Trainers take *pair weights* W[x, y_w, y_l] summing to 1: the exact probability of each labelled
pair (the population), or the fraction of N sampled pairs that are each (x, y_w, y_l). Σ W·loss is
then the expected loss over the population, or exactly the mean loss over the N pairs.
Tables have shape (n_prompts, n_responses); pair tables (n_prompts, n_responses, n_responses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lab.core.dpo import preference_prob
from lab.worlds.tabular import DTYPE, World


def pair_distribution(proposal: torch.Tensor) -> torch.Tensor:
    """q(x, y1, y2): the probability of drawing prompt x and the ordered distinct pair (y1, y2).

    Uniform prompts; y1, y2 independent from ``proposal``, conditioned on y1 ≠ y2.
    Shape: (n_prompts, n, n); sums to 1; zero on the diagonal.
    """
    n_prompts, n = proposal.shape
    joint = proposal[:, :, None] * proposal[:, None, :] * (1 - torch.eye(n, dtype=proposal.dtype))
    return joint / joint.sum(dim=(-2, -1), keepdim=True) / n_prompts


def population_pair_weights(proposal: torch.Tensor, reward: torch.Tensor) -> torch.Tensor:
    """The probability of each labelled triple (x, y_w, y_l):
    (q(x, w, l) + q(x, l, w)) · σ(r(x, w) − r(x, l)). Shape: (n_prompts, n, n); sums to 1."""
    q = pair_distribution(proposal)
    return (q + q.transpose(-2, -1)) * preference_prob(reward[:, :, None], reward[:, None, :])


@dataclass(frozen=True)
class PreferencePairs:
    """N preference pairs as indices into a world's tables; each tensor has shape (N,), int64."""

    prompt: torch.Tensor
    chosen: torch.Tensor
    rejected: torch.Tensor

    def __len__(self) -> int:
        return int(self.prompt.numel())

    def counts(self, n_prompts: int, n_responses: int) -> torch.Tensor:
        """How often each (x, y_w, y_l) occurs. Shape: (n_prompts, n_responses, n_responses)."""
        flat = (self.prompt * n_responses + self.chosen) * n_responses + self.rejected
        size = n_prompts * n_responses * n_responses
        counts = torch.bincount(flat, minlength=size).to(DTYPE)
        return counts.reshape(n_prompts, n_responses, n_responses)

    def weights(self, n_prompts: int, n_responses: int) -> torch.Tensor:
        """The fraction of the N pairs that are each (x, y_w, y_l): the mean over the pairs of any
        per-pair loss is Σ weights · loss. Shape: (n_prompts, n_responses, n_responses)."""
        return self.counts(n_prompts, n_responses) / len(self)

    def records(self, world: World) -> list[dict[str, str]]:
        """The pairs in the Hugging Face preference format: {"prompt", "chosen", "rejected"}."""
        return [
            {
                "prompt": world.prompts[x],
                "chosen": world.responses[x][chosen],
                "rejected": world.responses[x][rejected],
            }
            for x, chosen, rejected in zip(
                self.prompt.tolist(), self.chosen.tolist(), self.rejected.tolist(), strict=True
            )
        ]


def sample_pairs(
    proposal: torch.Tensor,
    reward: torch.Tensor,
    n_pairs: int,
    seed: int,
    preference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = preference_prob,
) -> PreferencePairs:
    """Draw ``n_pairs`` labelled pairs: (y1, y2) from ``pair_distribution(proposal)``, then y1 ≻ y2
    with probability ``preference(r(x, y1), r(x, y2))`` — Bradley–Terry, σ(r1 − r2), by default."""
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be ≥ 1, got {n_pairs}")
    generator = torch.Generator().manual_seed(seed)
    k = proposal.shape[-1]
    flat_q = pair_distribution(proposal).reshape(-1)
    draws = torch.multinomial(flat_q, n_pairs, replacement=True, generator=generator)
    prompt, first, second = draws // (k * k), (draws // k) % k, draws % k
    p_first = preference(reward[prompt, first], reward[prompt, second])
    first_wins = torch.rand(n_pairs, generator=generator, dtype=DTYPE) < p_first
    chosen = torch.where(first_wins, first, second)
    rejected = torch.where(first_wins, second, first)
    return PreferencePairs(prompt, chosen, rejected)


def compared_responses(weights: torch.Tensor) -> torch.Tensor:
    """Per prompt, which responses appear in some pair (as the chosen or the rejected one).
    Shape: weights (P, K, K) → (P, K) bool."""
    return (weights.sum(-1) + weights.sum(-2)) > 0


def mle_exists(weights: torch.Tensor) -> torch.Tensor:
    """Per prompt: does the Bradley–Terry maximum-likelihood reward exist (is it finite)?

    It does exactly when the "beat" graph (an edge a → b when a ≻ b was observed) is strongly
    connected over all responses (Zermelo 1929; Ford 1957). Otherwise some response never wins (or
    never loses, or never appears) and the fitted reward — and DPO's policy — run off to ±∞ there.
    Shape: weights (P, K, K) → (P,) bool.
    """
    k = weights.shape[-1]
    reach = (weights > 0) | torch.eye(k, dtype=torch.bool, device=weights.device)
    for _ in range(max(1, (k - 1).bit_length())):  # paths of length up to 2^n ≥ k − 1
        reach = (reach.to(DTYPE) @ reach.to(DTYPE)) > 0
    return reach.all(dim=-1).all(dim=-1)

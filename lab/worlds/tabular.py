"""Toy preference worlds: prompts × responses, a reference policy π_ref(y|x), a true reward r(x, y).

Every quantity of the derivation can be computed exactly in such a world, so "the trained policy is
the closed-form optimum" becomes a measurement. The default world is the lecture's "What is 2 + 2?"
example plus two more prompts, so that the per-prompt constants (Z(x), f(x)) differ between prompts
and have to cancel for real. Tensors are float64, prompts on the first dimension, responses last.
Preference pairs drawn from a world: ``lab.data.pairs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lab.core.validation import check_beta, check_distribution, check_finite, check_same_responses

DTYPE = torch.float64


@dataclass(frozen=True)
class World:
    """A tabular world. ``pi_ref`` and ``reward`` have shape (n_prompts, n_responses);
    ``responses[x][y]`` names response y of prompt x; ``beta`` is the KL strength to study it at."""

    prompts: tuple[str, ...]
    responses: tuple[tuple[str, ...], ...]
    pi_ref: torch.Tensor
    reward: torch.Tensor
    beta: float

    def __post_init__(self) -> None:
        check_distribution("pi_ref", self.pi_ref)
        check_finite("reward", self.reward)
        check_same_responses("reward", self.reward, "pi_ref", self.pi_ref)
        check_beta(self.beta)
        shape = (len(self.prompts), len(self.responses[0]) if self.responses else 0)
        if self.pi_ref.shape != shape or self.reward.shape != shape:
            raise ValueError(
                f"pi_ref {tuple(self.pi_ref.shape)} and reward {tuple(self.reward.shape)} must "
                f"both have shape (prompts, responses) = {shape}"
            )
        if any(len(names) != shape[1] for names in self.responses):
            raise ValueError(f"every prompt needs {shape[1]} response names")

    @property
    def n_prompts(self) -> int:
        return len(self.prompts)

    @property
    def n_responses(self) -> int:
        return self.pi_ref.shape[-1]


def default_world() -> World:
    """ "What is 2 + 2?" and two more prompts, five responses each, β = 0.5.

    π_ref is SFT-like: mostly right, sometimes verbose, sometimes wrong. The reward prefers correct
    and concise answers; the third prompt's rewards sit higher overall, so its Z(x) differs.
    Rewards of about ±1 keep Bradley–Terry labels noisy (σ(1 − (−1.25)) ≈ 0.9), and β = 0.5 ≠ 1,
    so a formula that forgets β gives a visibly different answer.
    """
    table = {
        "What is 2 + 2?": {
            "4": (0.35, 1.0),
            "2 + 2 = 4": (0.25, 0.6),
            "Four.": (0.10, 0.8),
            "22": (0.18, -0.75),
            "5, trust me!": (0.12, -1.25),
        },
        "What is the capital of France?": {
            "Paris": (0.30, 0.9),
            "Paris, of course.": (0.15, 0.5),
            "The capital of France is Paris.": (0.25, 0.65),
            "Lyon": (0.12, -0.75),
            "I don't know.": (0.18, -0.25),
        },
        "Name a prime number.": {
            "7": (0.30, 1.25),
            "2": (0.25, 1.1),
            "9": (0.15, 0.25),
            "1": (0.10, 0.4),
            "A prime has two divisors.": (0.20, 0.75),
        },
    }
    pi_ref = torch.tensor([[p for p, _ in row.values()] for row in table.values()], dtype=DTYPE)
    reward = torch.tensor([[r for _, r in row.values()] for row in table.values()], dtype=DTYPE)
    responses = tuple(tuple(row) for row in table.values())
    return World(tuple(table), responses, pi_ref, reward, beta=0.5)


def random_world(
    n_prompts: int, n_responses: int, seed: int, beta: float = 1.0, reward_scale: float = 1.0
) -> World:
    """A seeded random world: π_ref = softmax of N(0, 1) logits, r ~ N(0, reward_scale²)."""
    if n_prompts < 1 or n_responses < 2:
        raise ValueError(
            f"a world needs ≥ 1 prompt and ≥ 2 responses, got {n_prompts} and {n_responses}"
        )
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n_prompts, n_responses, generator=generator, dtype=DTYPE)
    reward = reward_scale * torch.randn(n_prompts, n_responses, generator=generator, dtype=DTYPE)
    return World(
        prompts=tuple(f"x{i}" for i in range(n_prompts)),
        responses=tuple(tuple(f"y{j}" for j in range(n_responses)) for _ in range(n_prompts)),
        pi_ref=torch.softmax(logits, dim=-1),
        reward=reward,
        beta=beta,
    )

"""Toy preference worlds: prompts × responses, a reference policy π_ref(y|x), a true reward r(x, y).

Every quantity of the derivation can be computed exactly in such a world, so "the trained policy is
the closed-form optimum" becomes a measurement.

The default world is the lecture's "What is 2 + 2?" example plus two more prompts, so that the
per-prompt constants (Z(x), f(x)) differ between prompts and have to cancel for real.

Preference data (Bradley–Terry, step 4). A pair is drawn as:
    x ~ uniform over prompts,
    (y1, y2) ~ π_ref(y1 | x) π_ref(y2 | x) conditioned on y1 ≠ y2  (two distinct reference samples),
    y1 ≻ y2 with probability σ(r(x, y1) − r(x, y2)), else y2 ≻ y1.
Tensors are float64, prompts on the first dimension and responses on the last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lab.validation import check_beta, check_distribution, check_finite, check_same_responses

DTYPE = torch.float64


def bradley_terry(reward_1: torch.Tensor, reward_2: torch.Tensor) -> torch.Tensor:
    """P(y1 ≻ y2) = σ(r1 − r2), the labels' law. (Step 4 checks the sampled labels against
    e^r1 / (e^r1 + e^r2); it is not imported from there so that step 4 may build on this module.)"""
    return torch.sigmoid(reward_1 - reward_2)


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


@dataclass(frozen=True)
class PreferencePairs:
    """N preference pairs as indices into a world; each tensor has shape (N,), dtype int64."""

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


def pair_distribution(world: World) -> torch.Tensor:
    """q(x, y1, y2): probability of drawing prompt x and the ordered distinct pair (y1, y2).

    Uniform prompts; y1, y2 independent from π_ref(· | x), conditioned on y1 ≠ y2.
    Shape: (n_prompts, n_responses, n_responses); sums to 1; zero on the diagonal.
    """
    joint = world.pi_ref[:, :, None] * world.pi_ref[:, None, :]
    joint = joint * (1 - torch.eye(world.n_responses, dtype=DTYPE))
    return joint / joint.sum(dim=(-2, -1), keepdim=True) / world.n_prompts


def population_pair_weights(world: World) -> torch.Tensor:
    """Probability of each labelled triple (x, y_w, y_l) under the stated pair distribution and
    Bradley–Terry labels with the true reward: (q(x, w, l) + q(x, l, w)) · σ(r(x, w) − r(x, l)).

    The exact expected DPO loss is Σ weights · loss(x, y_w, y_l). Shape: (prompts, responses,
    responses); sums to 1.
    """
    q = pair_distribution(world)
    either_order = q + q.transpose(-2, -1)
    return either_order * bradley_terry(world.reward[:, :, None], world.reward[:, None, :])


def sample_preference_pairs(
    world: World,
    n_pairs: int,
    seed: int,
    preference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = bradley_terry,
) -> PreferencePairs:
    """Draw ``n_pairs`` labelled pairs: (y1, y2) from ``pair_distribution``, then y1 ≻ y2 with
    probability ``preference(r(x, y1), r(x, y2))`` — Bradley–Terry, σ(r1 − r2), by default."""
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be ≥ 1, got {n_pairs}")
    generator = torch.Generator().manual_seed(seed)
    k = world.n_responses
    flat_q = pair_distribution(world).reshape(-1)
    draws = torch.multinomial(flat_q, n_pairs, replacement=True, generator=generator)
    prompt, first, second = draws // (k * k), (draws // k) % k, draws % k
    p_first = preference(world.reward[prompt, first], world.reward[prompt, second])
    first_wins = torch.rand(n_pairs, generator=generator, dtype=DTYPE) < p_first
    chosen = torch.where(first_wins, first, second)
    rejected = torch.where(first_wins, second, first)
    return PreferencePairs(prompt, chosen, rejected)


def empirical_pair_weights(world: World, pairs: PreferencePairs) -> torch.Tensor:
    """The fraction of the N pairs that are each (x, y_w, y_l): the mean over pairs of any per-pair
    loss equals Σ weights · loss. Shape: (prompts, responses, responses); sums to 1."""
    return pairs.counts(world.n_prompts, world.n_responses) / len(pairs)

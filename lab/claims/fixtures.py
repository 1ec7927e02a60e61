"""What the claims' checks share: β values, tolerances, worlds to check on, references computed in
50-digit arithmetic, a small causal language model, and the default world's trained policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace

import mpmath
import torch
from torch import nn

from lab.claims.named import Function, Named
from lab.core.dpo import dpo_loss, optimal_policy
from lab.data.enumerated import enumerate_world
from lab.data.pairs import population_pair_weights
from lab.training.tabular import TabularConfig, train_tabular
from lab.worlds.tabular import DTYPE, World, default_world, random_world
from lab.worlds.tokens import TokenWorld, build_tokenizer

# β ≠ 1 throughout the checks: at β = 1 a forgotten β would go unnoticed.
CHECK_BETAS = (0.3, 2.5)
EXACT_TOLERANCE = 1e-10  # relative, for identities that hold to rounding error
NUMERIC_TOLERANCE = 1e-12  # absolute, for identities between float64 computations
Z_TOLERANCE = 5.0  # a Monte-Carlo estimate may sit this many standard errors from the truth


def pair_losses(log_policy, log_reference, beta, loss_fn) -> torch.Tensor:
    """``loss_fn`` for every pair (x, y_w, y_l) of a table. Shape: (…, prompts, K, K).
    The pairs' log-probs are broadcast here, on purpose: ``dpo_loss`` takes one entry per pair."""
    pairs = torch.broadcast_tensors(
        log_policy[..., :, :, None],
        log_policy[..., :, None, :],
        log_reference[:, :, None],
        log_reference[:, None, :],
    )
    losses, _, _ = loss_fn(*pairs, beta)
    return losses


def expected_loss(weights: torch.Tensor, beta: float, loss_fn: Callable) -> Function:
    """L_DPO(π_θ; π_ref) as the lab computes it: Σ W · ``loss_fn`` over the pairs of ``weights``,
    for π_θ a table (…, x, y)."""

    def apply(pi_theta: Named, pi_ref: Named) -> Named:
        leading = tuple(d for d in pi_theta.dims if d not in ("x", "y"))
        log_policy = pi_theta.to_dims((*leading, "x", "y")).log()
        losses = pair_losses(log_policy, pi_ref.to_dims(("x", "y")).log(), beta, loss_fn)
        return Named((weights * losses).sum(dim=(-3, -2, -1)), leading)

    return Function(apply)


def reference_free_loss(pc, pr, rc, rr, beta):
    """A wrong DPO: the reference log-probs left out, −log σ(β log π_θ(y_w) − β log π_θ(y_l))."""
    return dpo_loss(pc, pr, torch.zeros_like(rc), torch.zeros_like(rr), beta)


def check_worlds(seed: int) -> list[World]:
    """The lecture's default world and a seeded random one with other shapes (3 prompts × 6
    responses): a check that passes on both does not depend on the default world's numbers."""
    return [default_world(), random_world(3, 6, seed=seed, reward_scale=1.5)]


def mp_log_partition(pi_ref: list[float], reward: list[float], beta: float) -> mpmath.mpf:
    """log Σ_y π_ref(y) exp(r(y)/β) for one prompt, straight from the definition, with 50
    significant digits (no log-sum-exp trick: mpmath's exponent range does not overflow)."""
    with mpmath.workdps(50):
        return mpmath.log(
            mpmath.fsum(
                mpmath.mpf(p) * mpmath.exp(mpmath.mpf(r) / mpmath.mpf(beta))
                for p, r in zip(pi_ref, reward, strict=True)
            )
        )


def mp_log_partitions(world: World, beta: float) -> torch.Tensor:
    """``mp_log_partition`` of every prompt, rounded to float64. Shape: (n_prompts,)"""
    rows = zip(world.pi_ref.tolist(), world.reward.tolist(), strict=True)
    return torch.tensor([float(mp_log_partition(p, r, beta)) for p, r in rows], dtype=DTYPE)


def mp_log_optimal_policy(world: World, beta: float) -> torch.Tensor:
    """log π* = log π_ref + r/β − log Z from the definition in 50 digits, rounded to float64."""
    rows = []
    with mpmath.workdps(50):
        for refs, rewards in zip(world.pi_ref.tolist(), world.reward.tolist(), strict=True):
            log_z = mp_log_partition(refs, rewards, beta)
            rows.append(
                [
                    float(mpmath.log(p) + mpmath.mpf(r) / mpmath.mpf(beta) - log_z)
                    for p, r in zip(refs, rewards, strict=True)
                ]
            )
    return torch.tensor(rows, dtype=DTYPE)


class TinyCausalLM(nn.Module):
    """A causal language model in a few lines: token and position embeddings, one layer of causal
    self-attention, a linear head; float64 and seeded. Called like a Hugging Face model,
    ``model(input_ids=…, attention_mask=…).logits``, shape (B, T, vocab).

    The sequence claims are identities of any causal LM (the logits at t see tokens ≤ t only), so
    they are checked on this one: building the tiny GPT-2 would import transformers, which costs
    more than every check together. The trained GPT-2 is tested against the same functions in
    tests/.
    """

    def __init__(self, vocab_size: int, seed: int, width: int = 16, positions: int = 16) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)

        def weights(rows: int, columns: int, scale: float = 1.0) -> nn.Parameter:
            return nn.Parameter(
                scale * torch.randn(rows, columns, generator=generator, dtype=DTYPE)
            )

        self.token, self.position = weights(vocab_size, width), weights(positions, width)
        self.query, self.key, self.value = (weights(width, width, width**-0.5) for _ in range(3))
        self.head = weights(width, vocab_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        length = input_ids.shape[1]
        hidden = self.token[input_ids] + self.position[:length]
        scores = (hidden @ self.query) @ (hidden @ self.key).transpose(1, 2) / hidden.shape[-1]
        visible = torch.ones(length, length, dtype=torch.bool).tril()
        if attention_mask is not None:
            visible = visible & attention_mask.bool()[:, None, :]
        attention = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)
        hidden = hidden + attention @ (hidden @ self.value)
        return SimpleNamespace(logits=hidden @ self.head)


# DPO on the default world's exact pair distribution: steps 5 and 6 read the trained policy.
POPULATION_TRAINING = TabularConfig(steps=600, device="cpu")


@functools.cache
def default_population_training() -> tuple[World, torch.Tensor, torch.Tensor]:
    """(world, trained π_θ, π*) for DPO on the default world's population at its β, trained with
    ``POPULATION_TRAINING``; computed once per process."""
    world = default_world()
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    weights = population_pair_weights(world.pi_ref, world.reward)
    trained = train_tabular(world.pi_ref, weights, world.beta, POPULATION_TRAINING)
    return world, trained.policy, star


@functools.cache
def token_reference() -> TinyCausalLM:
    """π_ref for the token world: a seeded ``TinyCausalLM`` (any π_ref will do for the identities
    checked on it), frozen."""
    return TinyCausalLM(len(TokenWorld().vocabulary), seed=0).requires_grad_(False)


@functools.cache
def enumerated_token_world():
    """The token world listed response by response under ``token_reference``, β = 0.5."""
    world = TokenWorld()
    return enumerate_world(world, build_tokenizer(world), token_reference(), beta=0.5)

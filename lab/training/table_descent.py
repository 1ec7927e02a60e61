"""DPO on a table of logits by plain gradient descent, at any β with the same pace, and the online
policy-gradient method it is contrasted with (chapter "β in practice and where DPO breaks").

Full-batch descent is deterministic, so "trained" can mean "converged", measured: the DPO loss
depends on θ only through the implicit reward r̂ = β·θ (up to a constant per prompt), and
∂L/∂θ = β ∂L/∂r̂. A step of ``learning_rate / β²`` on θ is therefore a step of ``learning_rate``
on r̂, whatever β: a sweep over β from 0.01 to 1 converges in the same number of steps at every
β, and its convergence is read on the same scale (``Descent.reward_gradient``).

The online method samples G responses per step from its own policy, scores them with the true
reward, and follows the policy gradient of the group-relative advantage (r − mean)/std (GRPO's),
minus β·KL(π ‖ π_ref) (exact here: the table is small enough to sum over).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lab.core.validation import check_beta
from lab.training.tabular import weighted_pair_loss
from lab.worlds.tabular import DTYPE


@dataclass(frozen=True)
class Descent:
    """A descent's end: the policy (P, K), its loss, the largest |∂L/∂r̂| of any logit at the
    end (0 when converged), and the largest |∂L/∂θ| among the watched logits at each step and at
    the end (steps + 1 values; empty when none is watched)."""

    policy: torch.Tensor
    loss: float
    reward_gradient: float
    watched_gradients: list[float]


def descend_pairs(
    pi_ref: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
    steps: int,
    learning_rate: float,
    watch: torch.Tensor | None = None,
) -> Descent:
    """Gradient descent on the DPO loss over pair weights W[x, y_w, y_l] (summing to 1), from
    θ = log π_ref, with step ``learning_rate / β²`` on θ. ``watch``: a (P, K) bool mask of logits
    whose gradient is recorded at every step. Shapes: pi_ref (P, K), weights (P, K, K)."""
    beta = check_beta(beta)
    log_ref = torch.log(pi_ref.to(DTYPE))
    theta = log_ref.clone().requires_grad_(True)
    step_size = learning_rate / beta**2
    watched: list[float] = []
    for step in range(steps + 1):
        loss, _ = weighted_pair_loss(
            torch.log_softmax(theta, dim=-1), log_ref, weights, beta, with_metrics=False
        )
        (gradient,) = torch.autograd.grad(loss, theta)
        if watch is not None:
            watched.append(float(gradient[watch].abs().max()) if watch.any() else 0.0)
        if step < steps:  # the last pass only measures where the descent ended
            with torch.no_grad():
                theta -= step_size * gradient
            if not bool(torch.isfinite(theta).all()):  # a step too large: it diverged
                return Descent(torch.full_like(log_ref, math.nan), math.nan, math.inf, watched)
    policy = torch.softmax(theta.detach(), dim=-1)
    reward_gradient = float(gradient.abs().max()) / beta
    return Descent(policy, loss.item(), reward_gradient, watched)


@dataclass(frozen=True)
class OnlineRun:
    """The online method's policy at the end (K,) and the probability it gave one response
    (``tracked``) before each step and after the last (steps + 1 values)."""

    policy: torch.Tensor
    tracked_history: list[float]


def group_policy_gradient(
    pi_ref: torch.Tensor,
    reward: torch.Tensor,
    beta: float,
    *,
    steps: int,
    group_size: int,
    learning_rate: float,
    seed: int,
    tracked: int,
) -> OnlineRun:
    """One prompt's policy trained online from π_ref: each step draws ``group_size`` responses
    from π_θ (seeded), gives each the advantage (r − mean)/std within the group (0 when all
    rewards tie), and takes an Adam step on −mean(A · log π_θ(y)) + β KL(π_θ ‖ π_ref).
    Shapes: pi_ref and reward (K,)."""
    beta = check_beta(beta)
    generator = torch.Generator().manual_seed(seed)
    log_ref = torch.log(pi_ref.to(DTYPE))
    theta = log_ref.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([theta], lr=learning_rate)
    history = []
    for _ in range(steps):
        log_pi = torch.log_softmax(theta, dim=-1)
        pi = log_pi.exp()
        history.append(float(pi[tracked].detach()))
        drawn = torch.multinomial(pi.detach(), group_size, replacement=True, generator=generator)
        scores = reward[drawn].to(DTYPE)
        spread = scores.std()
        advantage = (scores - scores.mean()) / spread if spread > 0 else torch.zeros_like(scores)
        kl = (pi * (log_pi - log_ref)).sum()
        loss = -(advantage * log_pi[drawn]).mean() + beta * kl
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    policy = torch.softmax(theta.detach(), dim=-1)
    history.append(float(policy[tracked]))
    return OnlineRun(policy, history)

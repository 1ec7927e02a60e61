"""Beyond the steps — β in practice: the closed form is the frontier trained policies cannot beat.

At every β, π* = π_ref exp(r/β)/Z maximises J_β(π) = E_π[r] − β KL(π ‖ π_ref), so DPO's π_θ,
trained to convergence on finite pairs (``lab.experiments.beta_sweep``), scores at most J_β(π*) on
every prompt, however close its reward or its KL comes. The check reads the TeX with β bound as a
variable running over the sweep (π_θ and π* are tables with a β dimension): the experiment's
sweep, 0.01 … 1, extended to β = 2 and 5 so that a β dropped from one side cannot pass by the
accident that β ≤ 1 only shrinks the KL term. The lab-side evidence: the per-β gap
J(π*) − J(π_θ), never negative, and that the trained policies moved (KL(π_θ ‖ π_ref) at the
smallest β well above that at the largest).

The refutation binds the frontier a plausible misunderstanding of β draws: π* ∝ π_ref·exp(β·r),
"β multiplies the reward". At β < 1 that policy stays near π_ref, and the trained policies beat it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from lab.claims.named import Named
from lab.claims.reading import joined, policy, tex_evidence, world_binding
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import optimal_policy
from lab.experiments.beta_sweep import BetaSweep, BetaSweepConfig, beta_sweep_experiment
from lab.worlds.tabular import DTYPE

CHECK_BETAS = (*BetaSweepConfig().betas, 2.0, 5.0)
MOVED = (
    4.0  # KL(π_θ ‖ π_ref) at the smallest β must be at least this many times that at the largest
)
TOLERANCE = 1e-10  # rounding allowed in J(π*) − J(π_θ) ≥ 0


@functools.cache
def _sweep() -> BetaSweep:
    """The experiment's sweep (same pairs, seed and training), extended to β = 2 and 5."""
    return beta_sweep_experiment(BetaSweepConfig(betas=CHECK_BETAS))


def _right_frontier(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    return optimal_policy(pi_ref, reward, beta)


def _beta_multiplies_reward(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float):
    """Wrong: π* ∝ π_ref·exp(β·r), β multiplying the reward instead of dividing it."""
    return optimal_policy(pi_ref, reward, 1 / beta)


def _check_frontier(reading: Node, frontier: Callable) -> Evidence:
    """The TeX with β over the sweep, π_θ the trained policies, π* from ``frontier`` at each β;
    and the lab's per-β gap and how far the trained policies moved."""
    sweep = _sweep()
    world, betas = sweep.world, sweep.config.betas
    stars = torch.stack([frontier(world.pi_ref, world.reward, beta) for beta in betas])
    values = {
        r"\beta": Named(torch.tensor(betas, dtype=DTYPE), ("beta",)),
        r"\pi_\theta": policy(sweep.trained, "beta"),
        r"\pi^*": policy(stars, "beta"),
    }
    binding = world_binding(world, 1.0, values, tolerance=TOLERANCE, label="β over the sweep")
    gaps = sweep.objective(stars) - sweep.objective(sweep.trained)  # (B, P)
    kl = sweep.kl(sweep.trained).mean(-1)
    moved = (kl[0] / kl[-1]).item()
    measured = {"min_objective_gap": gaps.min().item()}
    measured |= {
        f"gap_at_{beta:g}": gap for beta, gap in zip(betas, gaps.amin(-1).tolist(), strict=True)
    }
    measured |= {
        f"kl_at_{betas[0]:g}": kl[0].item(),
        f"kl_at_{betas[-1]:g}": kl[-1].item(),
        "kl_ratio_smallest_to_largest_beta": moved,
    }
    lab = Evidence(
        measured,
        -TOLERANCE,
        gaps.min().item() >= -TOLERANCE and moved >= MOVED,
        note=f"J(π*) − J(π_θ) per β (least over prompts), {len(betas)} β from {betas[0]:g} to "
        f"{betas[-1]:g}; KL(π_θ‖π_ref) at the smallest β ≥ {MOVED:g}× that at the largest",
        bounds={"min_objective_gap": -TOLERANCE, "kl_ratio_smallest_to_largest_beta": MOVED},
    )
    return joined(lab, tex_evidence(reading, [binding]))


CLAIMS = (
    Claim(
        id="limits.beta_frontier",
        step=8,
        tex=r"\mathbb{E}_{y \sim \pi_\theta}[r(x, y)] - \beta\, \mathrm{KL}(\pi_\theta \| "
        r"\pi_{\mathrm{ref}}) \le \mathbb{E}_{y \sim \pi^*}[r(x, y)] - \beta\, "
        r"\mathrm{KL}(\pi^* \| \pi_{\mathrm{ref}})",
        says="At every β, the policy DPO trains scores no higher on the objective than the "
        "closed-form optimum: the closed form is the frontier.",
        check=lambda tex: _check_frontier(tex, _right_frontier),
        refute=lambda tex: _check_frontier(tex, _beta_multiplies_reward),
    ),
)

"""Step 2's claims — the optimal policy in closed form (DPO paper, eq. 4):

    π*(y|x) = π_ref(y|x) · exp(r(x, y)/β) / Z(x),    Z(x) = Σ_y π_ref(y|x) · exp(r(x, y)/β)

The Lagrangian and its stationarity condition (sympy), the closed form against a numerical
maximiser that knows nothing of it, log Z against 50-digit arithmetic, J(π*) = β log Z, and the gap
J(π*) − J(π) = β KL(π ‖ π*) ≥ 0 that makes π* the unique maximiser.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import sympy as sp
import torch

from lab.claims.fixtures import (
    CHECK_BETAS,
    EXACT_TOLERANCE,
    check_worlds,
    mp_log_partitions,
    symbolic_residual,
)
from lab.claims.registry import Claim, Evidence
from lab.core.dpo import kl_divergence, log_partition, optimal_policy, rlhf_objective
from lab.training.solvers import maximise_objective
from lab.worlds.tabular import DTYPE, World, random_world

SEED = 2
CLOSED_FORM_TOLERANCE = 1e-6


def _lagrange_symbols(n: int = 3):
    beta = sp.Symbol("beta", positive=True)
    lam = sp.Symbol("lambda", real=True)
    pis = sp.symbols(f"pi1:{n + 1}", positive=True)
    rewards = sp.symbols(f"r1:{n + 1}", real=True)
    refs = sp.symbols(f"rho1:{n + 1}", positive=True)
    return beta, lam, pis, rewards, refs


def _stationarity(pi, r, ref, beta, lam):
    """The catalogue's stationarity condition for one response: r − β log(π/π_ref) − β − λ."""
    return r - beta * sp.log(pi / ref) - beta - lam


def _lagrangian(pis, rewards, refs, beta, lam):
    """The catalogue's Lagrangian: Σπ r − β Σ π log(π/π_ref) + λ(1 − Σπ)."""
    expected = sum(p * r for p, r in zip(pis, rewards, strict=True))
    kl = sum(p * sp.log(p / ref) for p, ref in zip(pis, refs, strict=True))
    return expected - beta * kl + lam * (1 - sum(pis))


def _check_lagrangian(lagrangian: Callable) -> Evidence:
    """∂L/∂π(y) is the stationarity condition (sympy, 3 responses); ∂²L/∂π(y)² = −β/π < 0, so the
    stationary point is a maximum; and in numbers, ∇_π L vanishes at (π*, λ* = β log Z − β)."""
    beta, lam, pis, rewards, refs = _lagrange_symbols()
    lagr = lagrangian(pis, rewards, refs, beta, lam)
    gradient = [sp.diff(lagr, p) for p in pis]
    residuals = [
        symbolic_residual(g - _stationarity(p, r, ref, beta, lam))
        for g, p, r, ref in zip(gradient, pis, rewards, refs, strict=True)
    ]
    symbolic_zero = all(res == 0 for res in residuals)
    concave = all(symbolic_residual(sp.diff(lagr, p, 2) + beta / p) == 0 for p in pis)

    # ∇_π L of the given Lagrangian, at the closed-form optimum of a 3-response world
    numeric_gradient = sp.lambdify((pis, rewards, refs, beta, lam), gradient, "math")
    world = random_world(1, 3, seed=SEED, reward_scale=2.0)
    ref, r = world.pi_ref[0], world.reward[0]
    worst = 0.0
    for beta_value in CHECK_BETAS:
        star = optimal_policy(ref, r, beta_value)
        lam_star = beta_value * log_partition(ref, r, beta_value).item() - beta_value
        values = numeric_gradient(star.tolist(), r.tolist(), ref.tolist(), beta_value, lam_star)
        worst = max(worst, max(abs(v) for v in values))
    return Evidence(
        measured={
            "symbolic_residual_is_zero": float(symbolic_zero),
            "second_derivative_is_minus_beta_over_pi": float(concave),
            "max_abs_gradient_at_optimum": worst,
        },
        tolerance=EXACT_TOLERANCE,
        passed=bool(symbolic_zero and concave and worst <= EXACT_TOLERANCE),
        note=f"sympy: ∂L/∂π_i − stationarity_i = {residuals}",
    )


def _check_stationarity(stationarity: Callable) -> Evidence:
    """The closed form solves the stationarity condition: with π = π_ref exp(r/β)/Z and
    λ = β log Z − β, the condition simplifies to 0 (sympy, for any r, π_ref > 0, β > 0, Z > 0), and
    since the condition is strictly monotone in π, that π is its only solution. In numbers: the
    condition evaluated at (π*, λ*) of a random world, at both check βs, is 0."""
    beta = sp.Symbol("beta", positive=True)
    r = sp.Symbol("r", real=True)
    ref, partition = sp.symbols("rho Z", positive=True)
    closed_form = ref * sp.exp(r / beta) / partition
    multiplier = beta * sp.log(partition) - beta
    residual = symbolic_residual(stationarity(closed_form, r, ref, beta, multiplier))
    world = random_world(1, 3, seed=SEED, reward_scale=2.0)
    worst = 0.0
    for beta_value in CHECK_BETAS:
        star = optimal_policy(world.pi_ref[0], world.reward[0], beta_value)
        lam_star = beta_value * log_partition(world.pi_ref[0], world.reward[0], beta_value).item()
        values = zip(star.tolist(), world.reward[0].tolist(), world.pi_ref[0].tolist(), strict=True)
        for pi, r_value, ref_value in values:
            condition = stationarity(pi, r_value, ref_value, beta_value, lam_star - beta_value)
            worst = max(worst, abs(float(condition)))
    return Evidence(
        measured={
            "max_abs_residual_at_optimum": worst,
            "symbolic_residual_is_zero": float(residual == 0),
        },
        tolerance=EXACT_TOLERANCE,
        passed=bool(residual == 0 and worst <= EXACT_TOLERANCE),
        note=f"stationarity at π = π_ref exp(r/β)/Z, λ = β log Z − β: {residual}",
    )


@functools.cache
def _numerical_maximisers() -> tuple[tuple[World, float, torch.Tensor], ...]:
    """Each check world at each β with its numerical maximiser — computed once per process."""
    return tuple(
        (world, beta, maximise_objective(world.pi_ref, world.reward, beta))
        for world in check_worlds(SEED)
        for beta in CHECK_BETAS
    )


def _check_closed_form(closed_form: Callable) -> Evidence:
    """The numerical maximiser of J (logits; no closed form used) against ``closed_form``."""
    worst, worst_objective_gap = 0.0, 0.0
    for world, beta, numerical in _numerical_maximisers():
        candidate = closed_form(world.pi_ref, world.reward, beta)
        worst = max(worst, (numerical - candidate).abs().max().item())
        gap = rlhf_objective(numerical, world.pi_ref, world.reward, beta) - rlhf_objective(
            candidate, world.pi_ref, world.reward, beta
        )
        worst_objective_gap = max(worst_objective_gap, gap.max().item())
    return Evidence(
        measured={
            "max_abs_error": worst,
            "max_objective_gain_of_numerical_over_closed_form": worst_objective_gap,
            "worlds_times_betas": float(len(_numerical_maximisers())),
        },
        tolerance=CLOSED_FORM_TOLERANCE,
        passed=bool(worst <= CLOSED_FORM_TOLERANCE),
        note="max |π_numerical − π_closed_form| over prompts and responses",
    )


def _check_partition(log_partition_fn: Callable) -> Evidence:
    """log Z(x) against the definition in 50-digit arithmetic, from β = 10⁻³ (where exp(r/β)
    overflows float64) to β = 10³; Z differs between prompts."""
    worst, finite = 0.0, True
    spread = 0.0
    for world in check_worlds(SEED):
        for beta in (1e-3, *CHECK_BETAS, 1e3):
            value = log_partition_fn(world.pi_ref, world.reward, beta)
            finite = finite and bool(torch.isfinite(value).all())
            reference = mp_log_partitions(world, beta)
            relative = (value - reference).abs() / reference.abs().clamp_min(1.0)
            worst = max(worst, relative.max().item())
            spread = max(spread, (reference.max() - reference.min()).item())
    return Evidence(
        measured={
            "max_relative_error": worst,
            "max_log_z_spread_across_prompts": spread,
        },
        tolerance=EXACT_TOLERANCE,
        passed=bool(finite and worst <= EXACT_TOLERANCE),
        note="log Z against 50-digit mpmath; β from 1e-3 to 1e3",
    )


def _check_optimal_value(value_fn: Callable) -> Evidence:
    """J(π*) against ``value_fn(log Z, β)``, and no random π does better."""
    generator = torch.Generator().manual_seed(SEED)
    worst, best_random_gain = 0.0, -math.inf
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            star = optimal_policy(world.pi_ref, world.reward, beta)
            value = rlhf_objective(star, world.pi_ref, world.reward, beta)
            claimed = value_fn(log_partition(world.pi_ref, world.reward, beta), beta)
            worst = max(worst, ((value - claimed).abs() / claimed.abs().clamp_min(1)).max().item())
            logits = torch.randn((1000, *world.pi_ref.shape), generator=generator, dtype=DTYPE)
            others = rlhf_objective(torch.softmax(logits, -1), world.pi_ref, world.reward, beta)
            best_random_gain = max(best_random_gain, (others - value).max().item())
    return Evidence(
        measured={
            "max_relative_error": worst,
            "best_gain_of_a_random_policy_over_optimum": best_random_gain,
        },
        tolerance=EXACT_TOLERANCE,
        passed=bool(worst <= EXACT_TOLERANCE and best_random_gain <= 0),
        note="J(π*) vs β log Z(x), per prompt; 1000 random policies per world and β",
    )


def _check_gap_is_kl(gap_fn: Callable) -> Evidence:
    """J(π*) − J(π) against ``gap_fn(π, π*, β)`` for 1000 random π per world and β."""
    generator = torch.Generator().manual_seed(SEED)
    worst, smallest_gap = 0.0, math.inf
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            star = optimal_policy(world.pi_ref, world.reward, beta)
            logits = torch.randn((1000, *world.pi_ref.shape), generator=generator, dtype=DTYPE)
            pi = torch.softmax(2 * logits, dim=-1)
            gap = rlhf_objective(star, world.pi_ref, world.reward, beta) - rlhf_objective(
                pi, world.pi_ref, world.reward, beta
            )
            worst = max(worst, (gap - gap_fn(pi, star, beta)).abs().max().item())
            smallest_gap = min(smallest_gap, gap.min().item())
    return Evidence(
        measured={"max_abs_error": worst, "min_gap": smallest_gap},
        tolerance=EXACT_TOLERANCE,
        passed=bool(worst <= EXACT_TOLERANCE and smallest_gap >= 0),
        note="J(π*) − J(π) vs β KL(π ‖ π*) for random π",
    )


CLAIMS = (
    Claim(
        id="step2.lagrangian",
        step=2,
        tex=r"\mathcal{L}(\pi, \lambda) = \sum_y \pi(y \mid x) \, r(x, y) - \beta \sum_y "
        r"\pi(y \mid x) \log \frac{\pi(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)} + \lambda "
        r"\Big(1 - \sum_y \pi(y \mid x)\Big)",
        says="A Lagrange multiplier λ enforces that the policy's probabilities sum to one.",
        check=lambda: _check_lagrangian(_lagrangian),
        # Wrong variant: the KL penalty added instead of subtracted.
        refute=lambda: _check_lagrangian(
            lambda pis, rs, refs, beta, lam: _lagrangian(pis, rs, refs, -beta, lam)
        ),
    ),
    Claim(
        id="step2.stationarity",
        step=2,
        tex=r"r(x, y) - \beta \log \frac{\pi(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)} - \beta - "
        r"\lambda = 0",
        says="At the optimum, the derivative of the Lagrangian with respect to each probability "
        "is zero.",
        check=lambda: _check_stationarity(_stationarity),
        # Wrong variant: the β in front of the log-ratio dropped.
        refute=lambda: _check_stationarity(
            lambda p, r, ref, beta, lam: r - sp.log(p / ref) - beta - lam
        ),
    ),
    Claim(
        id="step2.closed_form",
        step=2,
        tex=r"\pi^*(y \mid x) = \frac{1}{Z(x)} \, \pi_{\mathrm{ref}}(y \mid x) "
        r"\exp\!\Big(\frac{1}{\beta} r(x, y)\Big)",
        says="The optimal policy reweights the reference policy by the exponentiated reward, "
        "divided by β.",
        check=lambda: _check_closed_form(optimal_policy),
        # Wrong variant: β multiplying the reward instead of dividing it.
        refute=lambda: _check_closed_form(lambda ref, r, beta: optimal_policy(ref, r, 1 / beta)),
    ),
    Claim(
        id="step2.partition",
        step=2,
        tex=r"Z(x) = \sum_{y} \pi_{\mathrm{ref}}(y \mid x) \exp\!\Big(\frac{1}{\beta} r(x, y)\Big)",
        says="The partition function Z(x) normalises the optimal policy, one value per prompt.",
        check=lambda: _check_partition(log_partition),
        # Wrong variant: the reference policy left out of the sum.
        refute=lambda: _check_partition(lambda ref, r, beta: torch.logsumexp(r / beta, dim=-1)),
    ),
    Claim(
        id="step2.optimal_value",
        step=2,
        tex=r"J(\pi^*) = \beta \log Z(x)",
        says="The best achievable objective is β times the log of the partition function.",
        check=lambda: _check_optimal_value(lambda log_z, beta: beta * log_z),
        # Wrong variant: the β forgotten.
        refute=lambda: _check_optimal_value(lambda log_z, beta: log_z),
    ),
    Claim(
        id="step2.gap_is_kl",
        step=2,
        tex=r"J(\pi^*) - J(\pi) = \beta \, \mathrm{KL}\big(\pi \,\|\, \pi^*\big) \ge 0",
        says="Any other policy falls short of the optimum by β times its KL divergence from π*, "
        "so π* is the unique maximiser.",
        check=lambda: _check_gap_is_kl(lambda pi, star, beta: beta * kl_divergence(pi, star)),
        # Wrong variant: the KL the other way round, KL(π* ‖ π).
        refute=lambda: _check_gap_is_kl(lambda pi, star, beta: beta * kl_divergence(star, pi)),
    ),
)

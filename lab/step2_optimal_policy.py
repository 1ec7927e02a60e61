"""Step 2 — the optimal policy in closed form (DPO paper, eq. 4).

    π*(y|x) = π_ref(y|x) · exp(r(x, y)/β) / Z(x),    Z(x) = Σ_y π_ref(y|x) · exp(r(x, y)/β)

Derived with a Lagrange multiplier for Σ_y π(y|x) = 1. Its value is J(π*) = β log Z(x), and for any
other π the gap is J(π*) − J(π) = β·KL(π ‖ π*) ≥ 0: π* is the unique maximiser.
Computed in log space, so rewards of 10⁴·β neither overflow nor give NaN.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import mpmath
import sympy as sp
import torch

from lab.claims import Claim, Evidence, register
from lab.step1_objective import kl_divergence, rlhf_objective
from lab.validation import (
    check_beta,
    check_distribution,
    check_finite,
    check_same_responses,
)
from lab.world import DTYPE, World, default_world, random_world

SEED = 2
CLOSED_FORM_TOLERANCE = 1e-6
EXACT_TOLERANCE = 1e-10  # relative, for identities that hold to rounding error
CHECK_BETAS = (0.3, 2.5)  # β ≠ 1, so that a forgotten β shows


def _check_inputs(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> float:
    check_distribution("pi_ref", pi_ref)
    check_finite("reward", reward)
    check_same_responses("reward", reward, "pi_ref", pi_ref)
    return check_beta(beta)


def log_partition(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """log Z(x) = log Σ_y π_ref(y|x) exp(r(x, y)/β), as a log-sum-exp (step 2, eq. 4).

    Args:
        pi_ref: π_ref(y | x). Shape: (..., n_responses).
        reward: r(x, y). Shape: (..., n_responses); leading dims broadcast with pi_ref.
        beta: β > 0.
    Returns:
        Shape: the broadcast leading dims.
    """
    beta = _check_inputs(pi_ref, reward, beta)
    return torch.logsumexp(torch.log(pi_ref) + reward / beta, dim=-1)


def log_optimal_policy(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """log π*(y|x) = log π_ref(y|x) + r(x, y)/β − log Z(x) (step 3's first line). −inf where
    π_ref is 0. Shape: the broadcast of the inputs' shapes, (..., n_responses)."""
    beta = _check_inputs(pi_ref, reward, beta)
    return torch.log_softmax(torch.log(pi_ref) + reward / beta, dim=-1)


def optimal_policy(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """π* = π_ref exp(r/β) / Z, the maximiser of J (step 2, eq. 4). Shapes as log_optimal_policy."""
    return torch.exp(log_optimal_policy(pi_ref, reward, beta))


def _objective_of_logits(
    logits: torch.Tensor, reward: torch.Tensor, log_ref: torch.Tensor, beta: float
) -> torch.Tensor:
    """J(softmax(logits)) per prompt, written out from the definition. Shapes: (..., K) → (...)."""
    log_pi = torch.log_softmax(logits, dim=-1)
    pi = log_pi.exp()
    return (pi * reward).sum(-1) - beta * (pi * (log_pi - log_ref)).sum(-1)


def maximise_objective(
    pi_ref: torch.Tensor,
    reward: torch.Tensor,
    beta: float,
    ascent_steps: int = 300,
    lr: float = 0.1,
    newton_steps: int = 30,
) -> torch.Tensor:
    """A numerical maximiser of J(π) = E_π[r] − β KL(π‖π_ref) that knows nothing of the closed
    form: Adam ascent on the logits of a softmax policy from π_ref, then Newton steps on the same
    logits (Hessian by autograd, one block per prompt) to polish.

    Why Newton: J's curvature along the logit of response y is about β·π(y), so plain gradient
    ascent crawls wherever π is small, and its error falls only like 1/steps.
    This is also the "RL" half of the reward-model pipeline: the exact policy gradient of J, which a
    sampling RL method (PPO) would estimate. Needs π_ref > 0 (finite logits).
    Shapes: (..., n_responses) in and out.
    """
    beta = _check_inputs(pi_ref, reward, beta)
    if bool((pi_ref == 0).any()):
        raise ValueError("pi_ref has zeros: the logit maximiser needs π_ref > 0 everywhere")
    pi_ref, reward = torch.broadcast_tensors(pi_ref.detach(), reward.detach())
    shape = pi_ref.shape
    log_ref = torch.log(pi_ref).reshape(-1, shape[-1])
    reward = reward.reshape(-1, shape[-1])

    logits = log_ref.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([logits], lr=lr)
    for _ in range(ascent_steps):
        optimiser.zero_grad()
        (-_objective_of_logits(logits, reward, log_ref, beta).sum()).backward()
        optimiser.step()

    def row_objective(row, row_reward, row_log_ref):
        return _objective_of_logits(row, row_reward, row_log_ref, beta)

    gradient = torch.func.vmap(torch.func.grad(row_objective))
    # reverse over reverse: torch.func.hessian's forward mode loads deprecated TorchScript code
    hessian = torch.func.vmap(torch.func.jacrev(torch.func.jacrev(row_objective)))
    theta = logits.detach()
    for _ in range(newton_steps):
        g = gradient(theta, reward, log_ref)
        h = hessian(theta, reward, log_ref)
        # the Hessian is singular along (1, …, 1) (softmax ignores a shift): pseudo-inverse
        theta = theta - (torch.linalg.pinv(h, hermitian=True, rtol=1e-12) @ g[..., None])[..., 0]
    return torch.softmax(theta, dim=-1).reshape(shape)


# ---- claims -------------------------------------------------------------------------------------


def _check_worlds() -> list[World]:
    return [default_world(), random_world(2, 6, seed=SEED, reward_scale=1.5)]


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
        sp.simplify(g - _stationarity(p, r, ref, beta, lam))
        for g, p, r, ref in zip(gradient, pis, rewards, refs, strict=True)
    ]
    symbolic_zero = all(res == 0 for res in residuals)
    concave = all(sp.simplify(sp.diff(lagr, p, 2) + beta / p) == 0 for p in pis)

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
    """sympy solves the stationarity conditions of 3 responses and Σπ = 1 for (π, λ), and gets the
    closed form π_ref exp(r/β)/Z."""
    beta, lam, pis, rewards, refs = _lagrange_symbols()
    solutions = []
    for p, r, ref in zip(pis, rewards, refs, strict=True):
        (solution,) = sp.solve(stationarity(p, r, ref, beta, lam), p)
        solutions.append(solution)
    (lam_solution,) = sp.solve(sp.Eq(sum(solutions), 1), lam)
    partition = sum(ref * sp.exp(r / beta) for r, ref in zip(rewards, refs, strict=True))
    residuals = [
        sp.simplify(s.subs(lam, lam_solution) - ref * sp.exp(r / beta) / partition)
        for s, r, ref in zip(solutions, rewards, refs, strict=True)
    ]
    symbolic_zero = all(res == 0 for res in residuals)
    # the symbolic solution evaluated at numbers, against optimal_policy (catches a residual that
    # sympy fails to simplify to 0 even though it is 0, and tells how far off a wrong one is)
    world = random_world(1, 3, seed=SEED, reward_scale=2.0)
    values = {beta: CHECK_BETAS[0]}
    values.update(dict(zip(rewards, world.reward[0].tolist(), strict=True)))
    values.update(dict(zip(refs, world.pi_ref[0].tolist(), strict=True)))
    solved = torch.tensor(
        [float(s.subs(lam, lam_solution).subs(values).evalf(30)) for s in solutions], dtype=DTYPE
    )
    expected = optimal_policy(world.pi_ref[0], world.reward[0], CHECK_BETAS[0])
    error = (solved - expected).abs().max().item()
    return Evidence(
        measured={"max_abs_error": error, "symbolic_residual_is_zero": float(symbolic_zero)},
        tolerance=EXACT_TOLERANCE,
        passed=bool(symbolic_zero and error <= EXACT_TOLERANCE),
        note=f"λ = {lam_solution}; π_i − π_ref,i exp(r_i/β)/Z = {residuals}",
    )


@functools.cache
def _numerical_maximisers() -> tuple[tuple[World, float, torch.Tensor], ...]:
    """Each check world at each β with its numerical maximiser — computed once per process."""
    return tuple(
        (world, beta, maximise_objective(world.pi_ref, world.reward, beta))
        for world in _check_worlds()
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


def _mpmath_log_partition(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> list[float]:
    """log Z with 50 significant digits, straight from the definition (no log-sum-exp trick)."""
    with mpmath.workdps(50):
        return [
            float(
                mpmath.log(
                    mpmath.fsum(
                        mpmath.mpf(p) * mpmath.exp(mpmath.mpf(r) / mpmath.mpf(beta))
                        for p, r in zip(row_p, row_r, strict=True)
                    )
                )
            )
            for row_p, row_r in zip(pi_ref.tolist(), reward.tolist(), strict=True)
        ]


def _check_partition(log_partition_fn: Callable) -> Evidence:
    """log Z(x) against the definition in 50-digit arithmetic, from β = 10⁻³ (where exp(r/β)
    overflows float64) to β = 10³; Z differs between prompts."""
    worst, finite = 0.0, True
    spread = 0.0
    for world in _check_worlds():
        for beta in (1e-3, *CHECK_BETAS, 1e3):
            value = log_partition_fn(world.pi_ref, world.reward, beta)
            finite = finite and bool(torch.isfinite(value).all())
            reference = torch.tensor(
                _mpmath_log_partition(world.pi_ref, world.reward, beta), dtype=DTYPE
            )
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
    for world in _check_worlds():
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
    for world in _check_worlds():
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


register(
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
    )
)

register(
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
    )
)

register(
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
    )
)

register(
    Claim(
        id="step2.partition",
        step=2,
        tex=r"Z(x) = \sum_{y} \pi_{\mathrm{ref}}(y \mid x) \exp\!\Big(\frac{1}{\beta} r(x, y)\Big)",
        says="The partition function Z(x) normalises the optimal policy, one value per prompt.",
        check=lambda: _check_partition(log_partition),
        # Wrong variant: the reference policy left out of the sum.
        refute=lambda: _check_partition(lambda ref, r, beta: torch.logsumexp(r / beta, dim=-1)),
    )
)

register(
    Claim(
        id="step2.optimal_value",
        step=2,
        tex=r"J(\pi^*) = \beta \log Z(x)",
        says="The best achievable objective is β times the log of the partition function.",
        check=lambda: _check_optimal_value(lambda log_z, beta: beta * log_z),
        # Wrong variant: the β forgotten.
        refute=lambda: _check_optimal_value(lambda log_z, beta: log_z),
    )
)

register(
    Claim(
        id="step2.gap_is_kl",
        step=2,
        tex=r"J(\pi^*) - J(\pi) = \beta \, \mathrm{KL}\big(\pi \,\|\, \pi^*\big) \ge 0",
        says="Any other policy falls short of the optimum by β times its KL divergence from π*, "
        "so π* is the unique maximiser.",
        check=lambda: _check_gap_is_kl(lambda pi, star, beta: beta * kl_divergence(pi, star)),
        # Wrong variant: the KL the other way round, KL(π* ‖ π).
        refute=lambda: _check_gap_is_kl(lambda pi, star, beta: beta * kl_divergence(star, pi)),
    )
)

"""Step 1 — the KL-regularised RLHF objective (DPO paper, eq. 3).

    J(π) = E_{y∼π(·|x)}[r(x, y)] − β · KL(π(·|x) ‖ π_ref(·|x))

The reward pulls π towards high-reward responses; the KL term, weighted by β, holds it near the
reference policy. With π sampled (a language model) the expectation has no pathwise gradient: the
score-function (REINFORCE) identity ∇E_π[r] = E_π[r ∇log π] is what RL methods estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lab.claims import Claim, Evidence, register
from lab.validation import (
    check_beta,
    check_distribution,
    check_finite,
    check_same_responses,
    check_support,
)
from lab.world import DTYPE, World, default_world, random_world

SEED = 1
MONTE_CARLO_SAMPLES = 100_000
Z_TOLERANCE = 5.0  # a Monte-Carlo estimate may sit this many standard errors from the truth
LIMIT_TOLERANCE = 1e-3
# β ≠ 1 throughout the checks: at β = 1 a forgotten β would go unnoticed.
CHECK_BETAS = (0.3, 2.5)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p ‖ q) = Σ_y p(y) log(p(y)/q(y)) over the last dimension, with 0·log 0 = 0.

    Args:
        p, q: distributions over responses. Shape: (..., n_responses), leading dims broadcast.
    Returns:
        Shape: the broadcast leading dims.
    Raises:
        ValueError if either is not a distribution, the shapes differ, or q is 0 where p is not
        (the divergence is infinite there).
    """
    _check_divergence_inputs("p", p, "q", q)
    return _kl(p, q)


def _check_divergence_inputs(name: str, p: torch.Tensor, other_name: str, q: torch.Tensor) -> None:
    check_distribution(name, p)
    check_distribution(other_name, q)
    check_same_responses(name, p, other_name, q)
    check_support(name, p, other_name, q)


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    # where p = 0 the term is 0 whatever q is; torch.where keeps log(0) out of the sum.
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))
    return terms.sum(dim=-1)


def expected_reward(pi: torch.Tensor, reward: torch.Tensor) -> torch.Tensor:
    """E_{y∼π}[r(x, y)]. Shapes: (..., n_responses) → (...)."""
    check_distribution("pi", pi)
    check_finite("reward", reward)
    check_same_responses("pi", pi, "reward", reward)
    return (pi * reward).sum(dim=-1)


def rlhf_objective(
    pi: torch.Tensor, pi_ref: torch.Tensor, reward: torch.Tensor, beta: float
) -> torch.Tensor:
    """J(π) = E_π[r] − β KL(π ‖ π_ref), per prompt (step 1, DPO paper eq. 3).

    Args:
        pi: the policy π(y | x). Shape: (..., n_responses).
        pi_ref: the reference policy π_ref(y | x). Shape: (..., n_responses).
        reward: r(x, y). Shape: (..., n_responses).
        beta: the KL strength β > 0.
    Returns:
        J per prompt. Shape: the broadcast leading dims.
    """
    beta = check_beta(beta)
    _check_divergence_inputs("pi", pi, "pi_ref", pi_ref)
    return expected_reward(pi, reward) - beta * _kl(pi, pi_ref)


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """TV(p, q) = ½ Σ_y |p(y) − q(y)| over the last dimension."""
    check_same_responses("p", p, "q", q)
    return 0.5 * (p - q).abs().sum(dim=-1)


# ---- claims -------------------------------------------------------------------------------------


def _check_worlds() -> list[World]:
    return [default_world(), random_world(2, 7, seed=SEED, reward_scale=2.0)]


def _random_policy(world: World, generator: torch.Generator, spread: float) -> torch.Tensor:
    logits = world.pi_ref.log() + spread * torch.randn(
        world.pi_ref.shape, generator=generator, dtype=DTYPE
    )
    return torch.softmax(logits, dim=-1)


def _check_objective(objective: Callable[..., torch.Tensor]) -> Evidence:
    """J(π) computed exactly against the definition estimated from samples y ∼ π:
    the mean of r(x, y) − β log(π(y|x)/π_ref(y|x)) over 10⁵ draws per prompt."""
    generator = torch.Generator().manual_seed(SEED)
    worst_z, worst_error, checked = 0.0, 0.0, 0
    for world in _check_worlds():
        pi = _random_policy(world, generator, spread=1.5)
        for beta in CHECK_BETAS:
            exact = objective(pi, world.pi_ref, world.reward, beta)
            samples = torch.multinomial(
                pi, MONTE_CARLO_SAMPLES, replacement=True, generator=generator
            )
            per_sample = torch.gather(world.reward, 1, samples) - beta * (
                torch.gather(pi.log(), 1, samples) - torch.gather(world.pi_ref.log(), 1, samples)
            )
            estimate = per_sample.mean(dim=1)
            standard_error = per_sample.std(dim=1) / math.sqrt(MONTE_CARLO_SAMPLES)
            worst_z = max(worst_z, ((exact - estimate).abs() / standard_error).max().item())
            worst_error = max(worst_error, (exact - estimate).abs().max().item())
            checked += exact.numel()
    # leading dimensions broadcast: a stack of 3 policies against one π_ref gives 3 × prompts values
    world = default_world()
    stack = torch.stack([_random_policy(world, generator, 1.0) for _ in range(3)])
    batched = objective(stack, world.pi_ref, world.reward, 0.5)
    one_by_one = torch.stack([objective(p, world.pi_ref, world.reward, 0.5) for p in stack])
    broadcasts = batched.shape == one_by_one.shape and torch.allclose(batched, one_by_one)
    return Evidence(
        measured={
            "max_z_score": worst_z,
            "max_abs_error": worst_error,
            "prompts_checked": float(checked),
            "samples_per_prompt": float(MONTE_CARLO_SAMPLES),
            "broadcasts": float(broadcasts),
        },
        tolerance=Z_TOLERANCE,
        passed=bool(worst_z <= Z_TOLERANCE and broadcasts),
        note="exact J(π) vs the mean of r − β log(π/π_ref) over samples y ∼ π, in standard errors",
    )


def _check_kl_nonnegative(kl: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Evidence:
    """KL ≥ 0 on random pairs (some with zeros in p), = 0 at p = q, and above Pinsker's bound
    2·TV² > 0 whenever p ≠ q — so zero only at equality."""
    generator = torch.Generator().manual_seed(SEED)
    shape = (2000, 6)
    p = torch.softmax(3 * torch.randn(shape, generator=generator, dtype=DTYPE), dim=-1)
    q = torch.softmax(3 * torch.randn(shape, generator=generator, dtype=DTYPE), dim=-1)
    # a quarter of the rows of p have zeros: 0·log 0 = 0 must not turn into NaN
    p[:500, :2] = 0
    p = p / p.sum(dim=-1, keepdim=True)
    divergence = kl(p, q)
    at_equality = kl(q, q).abs().max().item()
    pinsker = 2 * total_variation(p, q) ** 2
    ratio = (divergence / pinsker).min().item()
    min_kl = divergence.min().item()
    finite = bool(torch.isfinite(divergence).all())
    return Evidence(
        measured={
            "min_kl": min_kl,
            "kl_at_equality": at_equality,
            "min_kl_over_pinsker_bound": ratio,
            "pairs": float(shape[0]),
        },
        tolerance=0.0,
        passed=bool(finite and min_kl >= 0 and at_equality <= 1e-15 and ratio >= 1 - 1e-9),
        note="Pinsker: KL(p‖q) ≥ 2·TV(p, q)², which is > 0 unless p = q",
    )


def _check_beta_limits(
    policy: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
) -> Evidence:
    """The maximiser π*_β at β = 10⁴ against π_ref and at β = 10⁻⁴ against the one-hot argmax of r.
    (Step 2 shows that the closed form is the maximiser.)"""
    large, small = 1e4, 1e-4
    to_reference, to_argmax, min_gap = 0.0, 0.0, math.inf
    for world in _check_worlds():
        argmax = torch.nn.functional.one_hot(world.reward.argmax(dim=-1), world.n_responses)
        to_reference = max(
            to_reference,
            total_variation(policy(world.pi_ref, world.reward, large), world.pi_ref).max().item(),
        )
        to_argmax = max(
            to_argmax,
            total_variation(policy(world.pi_ref, world.reward, small), argmax.to(DTYPE))
            .max()
            .item(),
        )
        top_two = world.reward.topk(2, dim=-1).values
        min_gap = min(min_gap, (top_two[:, 0] - top_two[:, 1]).min().item())
    return Evidence(
        measured={
            "max_tv_to_reference_at_large_beta": to_reference,
            "max_tv_to_argmax_at_small_beta": to_argmax,
            "large_beta": large,
            "small_beta": small,
            "smallest_top_reward_gap": min_gap,
        },
        tolerance=LIMIT_TOLERANCE,
        passed=bool(to_reference <= LIMIT_TOLERANCE and to_argmax <= LIMIT_TOLERANCE),
        note="TV distances; the small-β limit needs β ≪ the gap between the two best rewards",
    )


def _optimal_policy(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    from lab.step2_optimal_policy import optimal_policy  # step 2 builds on step 1, not vice versa

    return optimal_policy(pi_ref, reward, beta)


def _check_score_function(log_term: Callable[[torch.Tensor], torch.Tensor]) -> Evidence:
    """∇_θ E_{π_θ}[r] by autograd against the sample mean of r(y) ∇_θ log_term(θ)[y], y ∼ π_θ.

    ``log_term(θ)`` is what the estimator differentiates per sample: log π_θ (REINFORCE).
    """
    generator = torch.Generator().manual_seed(SEED)
    world = random_world(3, 5, seed=SEED, reward_scale=2.0)
    theta = torch.randn(world.pi_ref.shape, generator=generator, dtype=DTYPE, requires_grad=True)
    pi = torch.softmax(theta, dim=-1)
    (exact,) = torch.autograd.grad((pi * world.reward).sum(), theta)

    samples = torch.multinomial(pi.detach(), MONTE_CARLO_SAMPLES, True, generator=generator)
    # the samples are integers: E[r] estimated as their mean reward has no gradient at all
    pathwise_exists = float(world.reward.gather(1, samples).mean().requires_grad)

    # per response y of prompt x: the gradient (over all logits) of the estimator's term
    jacobian = torch.autograd.functional.jacobian(log_term, theta.detach())  # (P, K, P, K)
    per_response = world.reward[:, :, None, None] * jacobian
    counts = torch.zeros_like(world.pi_ref).scatter_add_(
        1, samples, torch.ones_like(samples, dtype=DTYPE)
    )
    freq = (counts / MONTE_CARLO_SAMPLES)[:, :, None, None]
    # each prompt's samples estimate that prompt's block of the gradient; sum over prompts
    mean = (freq * per_response).sum(dim=1)  # (P, P, K): prompt of the samples, logit row, logit
    second = (freq * per_response**2).sum(dim=1)
    variance = (second - mean**2).clamp_min(0)
    estimate = mean.sum(dim=0)
    standard_error = (variance.sum(dim=0) / MONTE_CARLO_SAMPLES).sqrt().clamp_min(1e-12)
    z = ((estimate - exact).abs() / standard_error).max().item()
    return Evidence(
        measured={
            "max_z_score": z,
            "max_abs_error": (estimate - exact).abs().max().item(),
            "max_abs_gradient": exact.abs().max().item(),
            "samples_per_prompt": float(MONTE_CARLO_SAMPLES),
            "pathwise_gradient_exists": pathwise_exists,
        },
        tolerance=Z_TOLERANCE,
        passed=bool(z <= Z_TOLERANCE and pathwise_exists == 0.0),
        note="estimate − exact, in standard errors of the estimate, worst of all logits",
    )


register(
    Claim(
        id="step1.objective",
        step=1,
        tex=r"\max_{\pi} \; \mathbb{E}_{y \sim \pi(y \mid x)}\big[r(x, y)\big] - \beta \, "
        r"\mathrm{KL}\big(\pi(y \mid x) \,\|\, \pi_{\mathrm{ref}}(y \mid x)\big)",
        says="RLHF maximises the expected reward minus β times the KL divergence from the "
        "reference policy.",
        check=lambda: _check_objective(rlhf_objective),
        # Wrong variant: the KL term added instead of subtracted.
        refute=lambda: _check_objective(
            lambda pi, ref, r, beta: expected_reward(pi, r) + beta * kl_divergence(pi, ref)
        ),
    )
)

register(
    Claim(
        id="step1.kl_nonnegative",
        step=1,
        tex=r"\mathrm{KL}\big(\pi \,\|\, \pi_{\mathrm{ref}}\big) \ge 0",
        says="The KL divergence is never negative, and zero only when the two policies agree.",
        check=lambda: _check_kl_nonnegative(kl_divergence),
        # Wrong variant: the log-ratio upside down, Σ p log(q/p).
        refute=lambda: _check_kl_nonnegative(lambda p, q: -kl_divergence(p, q)),
    )
)

register(
    Claim(
        id="step1.beta_limits",
        step=1,
        tex=r"\beta \to \infty: \ \pi^* \to \pi_{\mathrm{ref}} \qquad \beta \to 0: \ \pi^* \to "
        r"\arg\max_y r(x, y)",
        says="A large β keeps the optimal policy at the reference; a small β sends it to the "
        "highest-reward response.",
        check=lambda: _check_beta_limits(_optimal_policy),
        # Wrong variant: β multiplying the reward instead of dividing it, π_ref·exp(β r)/Z.
        refute=lambda: _check_beta_limits(lambda ref, r, beta: _optimal_policy(ref, r, 1 / beta)),
    )
)

register(
    Claim(
        id="step1.score_function",
        step=1,
        tex=r"\nabla_\theta \, \mathbb{E}_{y \sim \pi_\theta}\big[r(x, y)\big] = "
        r"\mathbb{E}_{y \sim \pi_\theta}\big[r(x, y) \, "
        r"\nabla_\theta \log \pi_\theta(y \mid x)\big]",
        says="Sampling has no gradient, but the expected reward's gradient is the average of the "
        "reward times the gradient of the log-probability.",
        check=lambda: _check_score_function(lambda theta: torch.log_softmax(theta, dim=-1)),
        # Wrong variant: ∇π instead of ∇log π — the probability, not its logarithm.
        refute=lambda: _check_score_function(lambda theta: torch.softmax(theta, dim=-1)),
    )
)

"""Step 1's claims — the KL-regularised RLHF objective (DPO paper, eq. 3):

    J(π) = E_{y∼π(·|x)}[r(x, y)] − β · KL(π(·|x) ‖ π_ref(·|x))

The objective against its definition estimated from samples; KL ≥ 0; the two limits of β; and why
a sampled π needs the score-function (REINFORCE) identity ∇E_π[r] = E_π[r ∇log π] to be trained.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lab.claims.fixtures import CHECK_BETAS, Z_TOLERANCE, check_worlds
from lab.claims.registry import Claim, Evidence
from lab.core.dpo import (
    expected_reward,
    kl_divergence,
    optimal_policy,
    rlhf_objective,
    total_variation,
)
from lab.worlds.tabular import DTYPE, World, default_world, random_world

SEED = 1
MONTE_CARLO_SAMPLES = 100_000
LIMIT_TOLERANCE = 1e-3


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
    for world in check_worlds(SEED):
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
    for world in check_worlds(SEED):
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


CLAIMS = (
    Claim(
        id="step1.objective",
        step=1,
        tex=r"\max_{\pi} \; \mathbb{E}_{x \sim \mathcal{D}}\Big[\mathbb{E}_{y \sim \pi(y \mid x)}"
        r"\big[r(x, y)\big] - \beta \, \mathrm{KL}\big(\pi(y \mid x) \,\|\, "
        r"\pi_{\mathrm{ref}}(y \mid x)\big)\Big]",
        says="RLHF maximises the expected reward minus β times the KL divergence from the "
        "reference policy.",
        check=lambda: _check_objective(rlhf_objective),
        # Wrong variant: the KL term added instead of subtracted.
        refute=lambda: _check_objective(
            lambda pi, ref, r, beta: expected_reward(pi, r) + beta * kl_divergence(pi, ref)
        ),
    ),
    Claim(
        id="step1.kl_nonnegative",
        step=1,
        tex=r"\mathrm{KL}\big(\pi \,\|\, \pi_{\mathrm{ref}}\big) \ge 0",
        says="The KL divergence is never negative, and zero only when the two policies agree.",
        check=lambda: _check_kl_nonnegative(kl_divergence),
        # Wrong variant: the log-ratio upside down, Σ p log(q/p).
        refute=lambda: _check_kl_nonnegative(lambda p, q: -kl_divergence(p, q)),
    ),
    Claim(
        id="step1.beta_limits",
        step=1,
        tex=r"\beta \to \infty: \ \pi^* \to \pi_{\mathrm{ref}} \qquad \beta \to 0: \ \pi^* \to "
        r"\arg\max_y r(x, y)",
        says="A large β keeps the optimal policy at the reference; a small β sends it to the "
        "highest-reward response.",
        check=lambda: _check_beta_limits(optimal_policy),
        # Wrong variant: β multiplying the reward instead of dividing it, π_ref·exp(β r)/Z.
        refute=lambda: _check_beta_limits(lambda ref, r, beta: optimal_policy(ref, r, 1 / beta)),
    ),
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
    ),
)

"""Step 1's claims — the KL-regularised RLHF objective (DPO paper, eq. 3):

    max_π E_{x∼D}[ E_{y∼π(·|x)}[r(x, y)] − β KL(π(·|x) ‖ π_ref(·|x)) ]

Each check reads the claim's TeX and evaluates it on the lab's numbers: the objective on screen is
the one the lab computes, and the lab's optimum beats every probe policy under it; KL ≥ 0 on
random pairs; the two limits of β; and the score-function identity behind sampled RL, against
the lab's REINFORCE estimator.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from lab.claims.evaluate import compare, value_of
from lab.claims.fixtures import CHECK_BETAS, Z_TOLERANCE, check_worlds
from lab.claims.named import Binding, Derived, Named
from lab.claims.reading import (
    joined,
    policy,
    random_policies,
    search,
    symbols,
    tex_evidence,
    world_binding,
)
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node, Optimum
from lab.core.dpo import (
    expected_reward,
    kl_divergence,
    optimal_policy,
    rlhf_objective,
    total_variation,
)
from lab.training.solvers import score_function_surrogate
from lab.worlds.tabular import DTYPE, World, random_world

SEED = 1
MONTE_CARLO_SAMPLES = 100_000
LIMIT_TOLERANCE = 1e-3
PROBES = 200
# What stands for β → ∞ and β → 0: β must be ≪ the gap between the two best rewards for the latter.
BETA_LIMITS = {("beta", "inf"): 1e4, ("beta", "0.0"): 1e-4}


def _random_policy(world: World, generator: torch.Generator, spread: float) -> torch.Tensor:
    return random_policies(world, 1, generator, spread)[0]


@functools.cache
def _sampled_objective(objective: Callable) -> Evidence:
    """``objective(π, π_ref, r, β)`` against its definition estimated from samples y ∼ π: the
    mean of r(x, y) − β log(π(y|x)/π_ref(y|x)) over 10⁵ draws per prompt, in standard errors."""
    generator = torch.Generator().manual_seed(SEED)
    worst_z, worst_error = 0.0, 0.0
    for world in check_worlds(SEED):
        pi = _random_policy(world, generator, spread=1.5)
        for beta in CHECK_BETAS:
            exact = objective(pi, world.pi_ref, world.reward, beta)
            samples = torch.multinomial(pi, MONTE_CARLO_SAMPLES, True, generator=generator)
            log_ratio = pi.log().gather(1, samples) - world.pi_ref.log().gather(1, samples)
            per_sample = world.reward.gather(1, samples) - beta * log_ratio
            standard_error = per_sample.std(dim=1) / math.sqrt(MONTE_CARLO_SAMPLES)
            gap = (exact - per_sample.mean(dim=1)).abs()
            worst_z = max(worst_z, (gap / standard_error).max().item())
            worst_error = max(worst_error, gap.max().item())
    return Evidence(
        measured={"max_z_score": worst_z, "max_abs_error": worst_error},
        tolerance=Z_TOLERANCE,
        passed=worst_z <= Z_TOLERANCE,
        note="J(π) vs the mean of r − β log(π/π_ref) over samples y ∼ π, in standard errors",
    )


def _objective_bindings(objective: Callable) -> list[tuple[Binding, torch.Tensor]]:
    """Per world and β: the TeX's symbols bound to the lab's (π searched over, with the lab's π*
    as the answer and random policies to beat), and the lab's J of those random policies."""
    generator = torch.Generator().manual_seed(SEED)
    bindings = []
    for world in check_worlds(SEED):
        prompts = Named(torch.full((world.n_prompts,), 1 / world.n_prompts, dtype=DTYPE), ("x",))
        for beta in CHECK_BETAS:
            star = optimal_policy(world.pi_ref, world.reward, beta)
            probes = random_policies(world, PROBES, generator)
            values = {r"\pi": search(star, probes), r"\mathcal{D}": prompts}
            binding = world_binding(world, beta, values, tolerance=1e-9)
            lab_value = objective(probes, world.pi_ref, world.reward, beta).mean(dim=-1)
            bindings.append((binding, lab_value))
    return bindings


def _check_objective(reading: Node, objective: Callable) -> Evidence:
    """The lab's J against samples; the objective on screen is the lab's J for random policies;
    and the lab's π* is its maximum (no random policy does better under it)."""
    bindings = _objective_bindings(objective)
    tex = tex_evidence(reading, [binding for binding, _ in bindings])
    if isinstance(reading, Optimum) and tex.passed:
        checks = []
        for b, lab_value in bindings:
            on_screen = value_of(reading.body, b.with_values({"pi": b.values["pi"].probes}))
            checks.append(compare("=", on_screen, Named(lab_value, ("probe",)), b))
        worst = max(check.residual for check in checks)
        same = all(check.passed for check in checks)
        tex = Evidence(
            {**tex.measured, "tex_objective_minus_lab_objective": worst},
            0.0,
            same,
            note=tex.note + ("" if same else "; the objective on screen is not the lab's J"),
        )
    elif not isinstance(reading, Optimum):
        tex = Evidence(tex.measured, 0.0, False, note="the TeX is not max_π of an objective")
    return joined(_sampled_objective(objective), tex)


def _check_kl_nonnegative(reading: Node, kl: Callable) -> Evidence:
    """KL ≥ 0 on random pairs (some with zeros in p), = 0 at p = q, and above Pinsker's bound
    2·TV² > 0 whenever p ≠ q — so zero only at equality; and the TeX's relation holds."""
    generator = torch.Generator().manual_seed(SEED)
    shape = (2000, 6)
    p = torch.softmax(3 * torch.randn(shape, generator=generator, dtype=DTYPE), dim=-1)
    q = torch.softmax(3 * torch.randn(shape, generator=generator, dtype=DTYPE), dim=-1)
    p[:500, :2] = 0  # 0·log 0 = 0 must not turn into NaN
    p = p / p.sum(dim=-1, keepdim=True)
    divergence = kl(p, q)
    at_equality = kl(q, q).abs().max().item()
    ratio = (divergence / (2 * total_variation(p, q) ** 2)).min().item()
    finite = bool(torch.isfinite(divergence).all())
    lab = Evidence(
        measured={
            "min_kl": divergence.min().item(),
            "kl_at_equality": at_equality,
            "min_kl_over_pinsker_bound": ratio,
        },
        tolerance=0.0,
        passed=bool(
            finite and divergence.min() >= 0 and at_equality <= 1e-15 and ratio >= 1 - 1e-9
        ),
        note="Pinsker: KL(p‖q) ≥ 2·TV(p, q)², which is > 0 unless p = q",
        bounds={"min_kl": 0.0, "kl_at_equality": 1e-15, "min_kl_over_pinsker_bound": 1 - 1e-9},
    )
    binding = Binding(
        {"x": shape[0], "y": shape[1]},
        symbols({r"\pi": policy(p), r"\pi_{\mathrm{ref}}": policy(q)}),
        tolerance=0.0,
    )
    return joined(lab, tex_evidence(reading, [binding]))


def _check_beta_limits(reading: Node, closed_form: Callable) -> Evidence:
    """π* from ``closed_form`` at the stand-ins for β → ∞ and β → 0, read from the TeX: π* must
    reach π_ref and the point mass on the best response (within 10⁻³)."""
    bindings, min_gap = [], math.inf
    for world in check_worlds(SEED):

        def star(binding: Binding, world: World = world) -> object:
            beta = float(binding.lookup("beta").values)
            return policy(closed_form(world.pi_ref, world.reward, beta))

        values = {r"\pi^*": Derived(star)}
        binding = world_binding(world, 1.0, values, label=f"world of {world.n_prompts} prompts")
        binding.limits, binding.limit_tolerance = BETA_LIMITS, LIMIT_TOLERANCE
        bindings.append(binding)
        top_two = world.reward.topk(2, dim=-1).values
        min_gap = min(min_gap, (top_two[:, 0] - top_two[:, 1]).min().item())
    lab = Evidence(
        {"smallest_top_reward_gap": min_gap, "small_beta": BETA_LIMITS[("beta", "0.0")]},
        LIMIT_TOLERANCE,
        min_gap > 100 * BETA_LIMITS[("beta", "0.0")],
        note="max |π* − limit| at β = 1e4 and 1e-4; the small one needs β ≪ the top reward gap",
    )
    return joined(tex_evidence(reading, bindings), lab)


def _check_score_function(reading: Node, surrogate: Callable) -> Evidence:
    """The lab's REINFORCE estimate (``surrogate``'s gradient, from 10⁵ samples y ∼ π_θ per prompt)
    against the exact ∇_θ E_{π_θ}[r] by autograd, in standard errors; and both sides of the TeX,
    evaluated with autograd on the tabular policy π_θ = softmax(θ), agree."""
    generator = torch.Generator().manual_seed(SEED)
    world = random_world(3, 5, seed=SEED, reward_scale=2.0)
    theta = torch.randn(world.pi_ref.shape, generator=generator, dtype=DTYPE, requires_grad=True)
    pi = torch.softmax(theta, -1)
    (exact,) = torch.autograd.grad(expected_reward(pi, world.reward).sum(), theta)
    pi = pi.detach()
    samples = torch.multinomial(pi, MONTE_CARLO_SAMPLES, True, generator=generator)
    (estimate,) = torch.autograd.grad(
        surrogate(torch.log_softmax(theta, -1), samples, world.reward), theta
    )
    # the estimate's standard error, per logit, from the per-response terms r(y) ∇log π(y)
    onehot = torch.eye(world.n_responses, dtype=DTYPE)
    per_response = world.reward[:, :, None] * (onehot[None] - pi[:, None, :])  # (P, K, K)
    mean = (pi[:, :, None] * per_response).sum(1)
    variance = (pi[:, :, None] * per_response**2).sum(1) - mean**2
    standard_error = (variance.clamp_min(0) / MONTE_CARLO_SAMPLES).sqrt().clamp_min(1e-12)
    z = ((estimate - exact).abs() / standard_error).max().item()
    lab = Evidence(
        measured={"max_z_score": z, "max_abs_error": (estimate - exact).abs().max().item()},
        tolerance=Z_TOLERANCE,
        passed=z <= Z_TOLERANCE,
        note="the lab's REINFORCE estimate vs the exact gradient, in standard errors",
    )

    def pi_theta(binding: Binding) -> object:
        return policy(torch.softmax(binding.lookup("theta").values, dim=-1))

    values = {r"\theta": Named(theta.detach(), ("θx", "θy")), r"\pi_\theta": Derived(pi_theta)}
    binding = world_binding(world, 1.0, values, tolerance=1e-12, label="π_θ = softmax(θ)")
    return joined(lab, tex_evidence(reading, [binding]))


CLAIMS = (
    Claim(
        id="step1.objective",
        step=1,
        tex=r"\max_{\pi} \; \mathbb{E}_{x \sim \mathcal{D}}\Big[\mathbb{E}_{y \sim \pi(y \mid x)}"
        r"\big[r(x, y)\big] - \beta \, \mathrm{KL}\big(\pi(y \mid x) \,\|\, "
        r"\pi_{\mathrm{ref}}(y \mid x)\big)\Big]",
        says="RLHF maximises the expected reward minus β times the KL divergence from the "
        "reference policy.",
        check=lambda tex: _check_objective(tex, rlhf_objective),
        # Wrong variant: the KL term added instead of subtracted.
        refute=lambda tex: _check_objective(
            tex, lambda pi, ref, r, beta: expected_reward(pi, r) + beta * kl_divergence(pi, ref)
        ),
    ),
    Claim(
        id="step1.kl_nonnegative",
        step=1,
        tex=r"\mathrm{KL}\big(\pi \,\|\, \pi_{\mathrm{ref}}\big) \ge 0",
        says="The KL divergence is never negative, and zero only when the two policies agree.",
        check=lambda tex: _check_kl_nonnegative(tex, kl_divergence),
        # Wrong variant: the log-ratio upside down, Σ p log(q/p).
        refute=lambda tex: _check_kl_nonnegative(tex, lambda p, q: -kl_divergence(p, q)),
    ),
    Claim(
        id="step1.beta_limits",
        step=1,
        tex=r"\beta \to \infty: \ \pi^* \to \pi_{\mathrm{ref}} \qquad \beta \to 0: \ \pi^* \to "
        r"\arg\max_y r(x, y)",
        says="A large β keeps the optimal policy at the reference; a small β sends it to the "
        "highest-reward response.",
        check=lambda tex: _check_beta_limits(tex, optimal_policy),
        # Wrong variant: β multiplying the reward instead of dividing it, π_ref·exp(β r)/Z.
        refute=lambda tex: _check_beta_limits(
            tex, lambda ref, r, beta: optimal_policy(ref, r, 1 / beta)
        ),
    ),
    Claim(
        id="step1.score_function",
        step=1,
        tex=r"\nabla_\theta \, \mathbb{E}_{y \sim \pi_\theta}\big[r(x, y)\big] = "
        r"\mathbb{E}_{y \sim \pi_\theta}\big[r(x, y) \, "
        r"\nabla_\theta \log \pi_\theta(y \mid x)\big]",
        says="Sampling has no gradient, but the expected reward's gradient is the average of the "
        "reward times the gradient of the log-probability.",
        check=lambda tex: _check_score_function(tex, score_function_surrogate),
        # Wrong variant: the estimator differentiates π_θ(y), not log π_θ(y): the log forgotten.
        refute=lambda tex: _check_score_function(
            tex, lambda log_probs, samples, r: score_function_surrogate(log_probs.exp(), samples, r)
        ),
    ),
)

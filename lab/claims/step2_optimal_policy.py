"""Step 2's claims — the optimal policy in closed form (DPO paper, eq. 4):

    π*(y|x) = π_ref(y|x) · exp(r(x, y)/β) / Z(x),    Z(x) = Σ_y π_ref(y|x) · exp(r(x, y)/β)

Each check reads the claim's TeX and evaluates it on the lab's numbers. The Lagrangian on screen
is the lab's objective on the simplex, and its gradient vanishes (its curvature is −β/π) at the
lab's π* and λ*; the stationarity condition on screen holds there; the closed form on screen is
the lab's π*, which a numerical maximiser that knows nothing of it confirms; log Z against
50-digit arithmetic; J(π*) = β log Z; and the gap J(π*) − J(π) = β KL(π ‖ π*) ≥ 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from lab.claims.evaluate import compare, value_of
from lab.claims.fixtures import CHECK_BETAS, EXACT_TOLERANCE, check_worlds, mp_log_partitions
from lab.claims.named import Binding, Function, Named
from lab.claims.reading import (
    joined,
    of_prompt,
    policy,
    random_policies,
    tex_evidence,
    world_binding,
)
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Call, Node, Relation, Sym
from lab.core.dpo import (
    expected_reward,
    kl_divergence,
    log_partition,
    optimal_policy,
    rlhf_objective,
)
from lab.training.solvers import maximise_objective
from lab.worlds.tabular import World

SEED = 2
CLOSED_FORM_TOLERANCE = 1e-6
PROBES = 100


def _objective_function(objective: Callable, world: World, beta: float) -> Function:
    """J(π) as the lab computes it, for π given as a table (…, x, y)."""

    def apply(pi: Named) -> Named:
        leading = tuple(d for d in pi.dims if d not in ("x", "y"))
        values = pi.to_dims((*leading, "x", "y"))
        return Named(objective(values, world.pi_ref, world.reward, beta), (*leading, "x"))

    return Function(apply)


def _lambda_star(world: World, beta: float, log_z: Callable = log_partition) -> Named:
    """The multiplier at the optimum, λ* = β log Z(x) − β (one per prompt)."""
    return Named(beta * log_z(world.pi_ref, world.reward, beta) - beta, ("x",))


def _defines(reading: Node, name: str, arguments: tuple[str, ...]) -> bool:
    """Whether the TeX reads as a definition ``name(arguments) = …``."""
    if not (isinstance(reading, Relation) and reading.ops == ("=",)):
        return False
    head = reading.terms[0]
    return (
        isinstance(head, Call)
        and head.name == name
        and tuple(a.name if isinstance(a, Sym) else "" for a in head.args) == arguments
    )


def _check_lagrangian(reading: Node, objective: Callable, closed_form: Callable) -> Evidence:
    """The Lagrangian on screen, L(π, λ) = its right-hand side: on the simplex it is the lab's J
    (whatever λ); at the lab's π* and λ* = β log Z − β its gradient in π is 0; and its second
    derivatives there are −β/π* on the diagonal and 0 elsewhere: a maximum."""
    if not _defines(reading, "mathcal L", ("pi", "lambda")):
        return Evidence({}, EXACT_TOLERANCE, False, note="the TeX does not define L(π, λ)")
    body = reading.terms[1]
    generator = torch.Generator().manual_seed(SEED)
    off_simplex = gradient_norm = curvature_error = 0.0
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            multiplier = Named(torch.randn(world.n_prompts, generator=generator).double(), ("x",))
            binding = world_binding(world, beta, {r"\lambda": multiplier})
            probes = random_policies(world, PROBES, generator)
            on_simplex = value_of(body, binding.with_values({"pi": policy(probes, "probe")}))
            lab = objective(probes, world.pi_ref, world.reward, beta)
            off_simplex = max(
                off_simplex, compare("=", on_simplex, Named(lab, ("probe", "x")), binding).residual
            )

            at_optimum = binding.with_values({"lambda": _lambda_star(world, beta)})

            def lagrangian(values: torch.Tensor, at: Binding = at_optimum) -> torch.Tensor:
                return value_of(body, at.with_values({"pi": policy(values)})).values.sum()

            star = closed_form(world.pi_ref, world.reward, beta)
            gradient = torch.autograd.functional.jacobian(lagrangian, star)
            hessian = torch.autograd.functional.hessian(lagrangian, star).reshape(star.numel(), -1)
            expected = torch.diag((-beta / star).reshape(-1))
            gradient_norm = max(gradient_norm, gradient.abs().max().item())
            relative = (hessian - expected).abs() / (1 + expected.abs())
            curvature_error = max(curvature_error, relative.max().item())
    worst = max(off_simplex, gradient_norm, curvature_error)
    return Evidence(
        measured={
            "max_abs_gradient_at_optimum": gradient_norm,
            "max_abs_lagrangian_minus_objective": off_simplex,
            "max_relative_curvature_error": curvature_error,
        },
        tolerance=EXACT_TOLERANCE,
        passed=worst <= EXACT_TOLERANCE,
        note="the TeX's L: = J on the simplex; ∇_π L = 0 and ∇²_π L = diag(−β/π*) at (π*, λ*)",
        bounds={
            "max_abs_gradient_at_optimum": EXACT_TOLERANCE,
            "max_abs_lagrangian_minus_objective": EXACT_TOLERANCE,
            "max_relative_curvature_error": EXACT_TOLERANCE,
        },
    )


def _check_stationarity(reading: Node, closed_form: Callable, log_z: Callable) -> Evidence:
    """The condition on screen, evaluated at the lab's π* with λ* = β log Z(x) − β from the lab's
    log Z, holds for every prompt and response at both check βs."""
    bindings = [
        world_binding(
            world,
            beta,
            {
                r"\pi": policy(closed_form(world.pi_ref, world.reward, beta)),
                r"\lambda": _lambda_star(world, beta, log_z),
            },
        )
        for world in check_worlds(SEED)
        for beta in CHECK_BETAS
    ]
    tex = tex_evidence(reading, bindings)
    lab = Evidence({}, EXACT_TOLERANCE, True, note="the condition at the lab's π* and λ*")
    return joined(lab, tex)


@functools.cache
def _numerical_maximisers() -> tuple[tuple[World, float, torch.Tensor], ...]:
    """Each check world at each β with its numerical maximiser — computed once per process."""
    return tuple(
        (world, beta, maximise_objective(world.pi_ref, world.reward, beta))
        for world in check_worlds(SEED)
        for beta in CHECK_BETAS
    )


def _check_closed_form(reading: Node, closed_form: Callable) -> Evidence:
    """The numerical maximiser of J (logits; no closed form used) against ``closed_form``; and the
    formula on screen, with the lab's Z, gives the lab's π*."""
    worst, worst_objective_gap, bindings = 0.0, 0.0, []
    for world, beta, numerical in _numerical_maximisers():
        candidate = closed_form(world.pi_ref, world.reward, beta)
        worst = max(worst, (numerical - candidate).abs().max().item())
        gap = rlhf_objective(numerical, world.pi_ref, world.reward, beta) - rlhf_objective(
            candidate, world.pi_ref, world.reward, beta
        )
        worst_objective_gap = max(worst_objective_gap, gap.max().item())
        z = log_partition(world.pi_ref, world.reward, beta).exp()
        values = {r"\pi^*": policy(candidate), "Z": of_prompt(z)}
        bindings.append(world_binding(world, beta, values))
    lab = Evidence(
        measured={
            "max_abs_error": worst,
            "max_objective_gain_of_numerical_over_closed_form": worst_objective_gap,
        },
        tolerance=CLOSED_FORM_TOLERANCE,
        passed=worst <= CLOSED_FORM_TOLERANCE,
        note="max |π_numerical − π_closed_form| over prompts and responses",
    )
    return joined(lab, tex_evidence(reading, bindings))


def _check_partition(reading: Node, log_partition_fn: Callable) -> Evidence:
    """log Z(x) against the definition in 50-digit arithmetic, from β = 10⁻³ (where exp(r/β)
    overflows float64) to β = 10³; and the sum on screen gives the lab's Z."""
    worst, finite, spread = 0.0, True, 0.0
    for world in check_worlds(SEED):
        for beta in (1e-3, *CHECK_BETAS, 1e3):
            value = log_partition_fn(world.pi_ref, world.reward, beta)
            finite = finite and bool(torch.isfinite(value).all())
            reference = mp_log_partitions(world, beta)
            relative = (value - reference).abs() / reference.abs().clamp_min(1.0)
            worst = max(worst, relative.max().item())
            spread = max(spread, (reference.max() - reference.min()).item())
    lab = Evidence(
        measured={"max_relative_error": worst, "max_log_z_spread_across_prompts": spread},
        tolerance=EXACT_TOLERANCE,
        passed=bool(finite and worst <= EXACT_TOLERANCE),
        note="log Z against 50-digit mpmath; β from 1e-3 to 1e3",
    )
    bindings = [
        world_binding(
            world, beta, {"Z": of_prompt(log_partition_fn(world.pi_ref, world.reward, beta).exp())}
        )
        for world in check_worlds(SEED)
        for beta in CHECK_BETAS
    ]
    return joined(lab, tex_evidence(reading, bindings))


def _value_bindings(objective: Callable, generator: torch.Generator, probes: int) -> list[Binding]:
    """J bound to ``objective``, π* and Z to the lab's, π to random policies."""
    bindings = []
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            values = {
                "J": _objective_function(objective, world, beta),
                r"\pi^*": policy(optimal_policy(world.pi_ref, world.reward, beta)),
                r"\pi": policy(random_policies(world, probes, generator, 2.0), "probe"),
                "Z": of_prompt(log_partition(world.pi_ref, world.reward, beta).exp()),
            }
            bindings.append(world_binding(world, beta, values))
    return bindings


def _check_optimal_value(reading: Node, objective: Callable) -> Evidence:
    """J(π*) = β log Z(x) read from the TeX with the lab's J, π* and Z; and no random policy
    beats π* under the lab's J."""
    generator = torch.Generator().manual_seed(SEED)
    bindings = _value_bindings(objective, generator, 1000)
    best_random_gain = max(
        float(
            (
                b.values["J"].apply(b.values["pi"].canonical()).values
                - b.values["J"].apply(b.values["pi^{*}"].canonical()).values
            ).max()
        )
        for b in bindings
    )
    lab = Evidence(
        {"best_gain_of_a_random_policy_over_optimum": best_random_gain},
        0.0,
        best_random_gain <= 0,
        note="1000 random policies per world and β under the lab's J",
    )
    return joined(lab, tex_evidence(reading, bindings))


def _check_gap_is_kl(reading: Node, objective: Callable) -> Evidence:
    """J(π*) − J(π) = β KL(π ‖ π*) ≥ 0 read from the TeX, with the lab's J and π*, for 200
    random π per world and β."""
    generator = torch.Generator().manual_seed(SEED)
    lab = Evidence({}, EXACT_TOLERANCE, True, note="200 random policies per world and β")
    return joined(lab, tex_evidence(reading, _value_bindings(objective, generator, 200)))


def _objective_with_kl_reversed(pi, pi_ref, reward, beta):
    """A wrong J: the KL the other way round, E_π[r] − β KL(π_ref ‖ π)."""
    return expected_reward(pi, reward) - beta * kl_divergence(pi_ref.expand_as(pi), pi)


def _closed_form_beta_inverted(pi_ref, reward, beta):
    """A wrong π*: β multiplying the reward instead of dividing it, π_ref exp(β r)/Z."""
    return optimal_policy(pi_ref, reward, 1 / beta)


def _log_partition_without_reference(pi_ref, reward, beta):
    """A wrong log Z: the reference policy left out of the sum."""
    return torch.logsumexp(reward / beta, dim=-1)


CLAIMS = (
    Claim(
        id="step2.lagrangian",
        step=2,
        tex=r"\mathcal{L}(\pi, \lambda) = \sum_y \pi(y \mid x) \, r(x, y) - \beta \sum_y "
        r"\pi(y \mid x) \log \frac{\pi(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)} + \lambda "
        r"\Big(1 - \sum_y \pi(y \mid x)\Big)",
        says="A Lagrange multiplier λ enforces that the policy's probabilities sum to one.",
        check=lambda tex: _check_lagrangian(tex, rlhf_objective, optimal_policy),
        refute=lambda tex: _check_lagrangian(tex, rlhf_objective, _closed_form_beta_inverted),
    ),
    Claim(
        id="step2.stationarity",
        step=2,
        tex=r"r(x, y) - \beta \log \frac{\pi(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)} - \beta - "
        r"\lambda = 0",
        says="At the optimum, the derivative of the Lagrangian with respect to each probability "
        "is zero.",
        check=lambda tex: _check_stationarity(tex, optimal_policy, log_partition),
        refute=lambda tex: _check_stationarity(
            tex, optimal_policy, _log_partition_without_reference
        ),
    ),
    Claim(
        id="step2.closed_form",
        step=2,
        tex=r"\pi^*(y \mid x) = \frac{1}{Z(x)} \, \pi_{\mathrm{ref}}(y \mid x) "
        r"\exp\!\Big(\frac{1}{\beta} r(x, y)\Big)",
        says="The optimal policy reweights the reference policy by the exponentiated reward, "
        "divided by β.",
        check=lambda tex: _check_closed_form(tex, optimal_policy),
        refute=lambda tex: _check_closed_form(tex, _closed_form_beta_inverted),
    ),
    Claim(
        id="step2.partition",
        step=2,
        tex=r"Z(x) = \sum_{y} \pi_{\mathrm{ref}}(y \mid x) \exp\!\Big(\frac{1}{\beta} r(x, y)\Big)",
        says="The partition function Z(x) normalises the optimal policy, one value per prompt.",
        check=lambda tex: _check_partition(tex, log_partition),
        refute=lambda tex: _check_partition(tex, _log_partition_without_reference),
    ),
    Claim(
        id="step2.optimal_value",
        step=2,
        tex=r"J(\pi^*) = \beta \log Z(x)",
        says="The best achievable objective is β times the log of the partition function.",
        check=lambda tex: _check_optimal_value(tex, rlhf_objective),
        # Wrong variant: J with the β in front of the KL forgotten.
        refute=lambda tex: _check_optimal_value(
            tex, lambda pi, ref, r, beta: rlhf_objective(pi, ref, r, 1.0)
        ),
    ),
    Claim(
        id="step2.gap_is_kl",
        step=2,
        tex=r"J(\pi^*) - J(\pi) = \beta \, \mathrm{KL}\big(\pi \,\|\, \pi^*\big) \ge 0",
        says="Any other policy falls short of the optimum by β times its KL divergence from π*, "
        "so π* is the unique maximiser.",
        check=lambda tex: _check_gap_is_kl(tex, rlhf_objective),
        refute=lambda tex: _check_gap_is_kl(tex, _objective_with_kl_reversed),
    ),
)

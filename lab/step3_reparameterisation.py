"""Step 3 — the reward in terms of its optimal policy (DPO paper, eq. 5).

Taking the log of step 2's closed form and solving for r:

    log π*(y|x) = log π_ref(y|x) + r(x, y)/β − log Z(x)
    r(x, y)     = β log π*(y|x)/π_ref(y|x) + β log Z(x)

Any reward r + f(x) (a per-prompt shift) gives the same π*: rewards are only defined up to such a
shift, which is why β log Z(x), a per-prompt constant, can drop out in step 4.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import torch

from lab.claims import Claim, Evidence, register
from lab.step2_optimal_policy import log_optimal_policy, log_partition, optimal_policy
from lab.validation import check_beta, check_distribution, check_same_responses, check_support
from lab.world import DTYPE, World, default_world, random_world

SEED = 3
EXACT_TOLERANCE = 1e-10  # relative to max(1, |value|): these identities hold to rounding error
CHECK_BETAS = (0.3, 2.5)  # β ≠ 1, so that a forgotten β shows


def implicit_reward(pi: torch.Tensor, pi_ref: torch.Tensor, beta: float) -> torch.Tensor:
    """r̂(x, y) = β log π(y|x)/π_ref(y|x): the reward that π is optimal for, up to β log Z(x)
    (step 3, eq. 5; DPO's "implicit reward").

    Args:
        pi: a policy. Shape: (..., n_responses).
        pi_ref: the reference policy. Shape: (..., n_responses), leading dims broadcast.
        beta: β > 0.
    Returns:
        Shape: the broadcast shape. −inf where π is 0 (a response π never gives).
    Raises:
        ValueError where π_ref is 0: the log-ratio is infinite (π > 0) or undefined (π = 0).
    """
    beta = check_beta(beta)
    check_distribution("pi", pi)
    check_distribution("pi_ref", pi_ref)
    check_same_responses("pi", pi, "pi_ref", pi_ref)
    check_support("pi", pi, "pi_ref", pi_ref)
    if bool((pi_ref == 0).any()):
        raise ValueError("pi_ref has zeros: β log(π/π_ref) is undefined where both are 0")
    return beta * (torch.log(pi) - torch.log(pi_ref))


# ---- claims -------------------------------------------------------------------------------------


def _check_worlds() -> list[World]:
    return [default_world(), random_world(3, 6, seed=SEED, reward_scale=1.5)]


def _mpmath_log_optimal_policy(world: World, beta: float) -> torch.Tensor:
    """log π_ref + r/β − log Z straight from the definition, in 50-digit arithmetic."""
    rows = []
    with mpmath.workdps(50):
        for refs, rewards in zip(world.pi_ref.tolist(), world.reward.tolist(), strict=True):
            scaled = [mpmath.mpf(r) / mpmath.mpf(beta) for r in rewards]
            log_z = mpmath.log(
                mpmath.fsum(
                    mpmath.mpf(p) * mpmath.exp(s) for p, s in zip(refs, scaled, strict=True)
                )
            )
            rows.append(
                [float(mpmath.log(p) + s - log_z) for p, s in zip(refs, scaled, strict=True)]
            )
    return torch.tensor(rows, dtype=DTYPE)


def _check_log_closed_form(log_policy: Callable) -> Evidence:
    """``log_policy(π_ref, r, β)`` against log π_ref + r/β − log Z in 50-digit arithmetic, down to
    β = 10⁻³, where π* itself underflows to 0 but its log is an ordinary number."""
    worst, underflows = 0.0, 0
    for world in _check_worlds():
        for beta in (1e-3, *CHECK_BETAS):
            value = log_policy(world.pi_ref, world.reward, beta)
            reference = _mpmath_log_optimal_policy(world, beta)
            worst = max(
                worst, ((value - reference).abs() / reference.abs().clamp_min(1)).max().item()
            )
            underflows += int((optimal_policy(world.pi_ref, world.reward, beta) == 0).sum())
    return Evidence(
        measured={
            "max_relative_error": worst,
            "entries_where_pi_star_underflows": float(underflows),
        },
        tolerance=EXACT_TOLERANCE,
        passed=bool(worst <= EXACT_TOLERANCE),
        note="log π* against 50-digit mpmath, β ∈ {1e-3, 0.3, 2.5}",
    )


def _check_reparameterisation(reward_from_policy: Callable) -> Evidence:
    """``reward_from_policy(π*, π_ref, log Z, β)`` must give back the reward π* was built from."""
    worst = 0.0
    for world in _check_worlds():
        for beta in CHECK_BETAS:
            star = optimal_policy(world.pi_ref, world.reward, beta)
            log_z = log_partition(world.pi_ref, world.reward, beta)[..., None]
            recovered = reward_from_policy(star, world.pi_ref, log_z, beta)
            error = (recovered - world.reward).abs() / world.reward.abs().clamp_min(1)
            worst = max(worst, error.max().item())
    return Evidence(
        measured={"max_relative_error": worst},
        tolerance=EXACT_TOLERANCE,
        passed=bool(worst <= EXACT_TOLERANCE),
        note="β log π*/π_ref + β log Z against the reward π* was built from",
    )


def _check_equivalence_class(shift: Callable[[World, torch.Generator], torch.Tensor]) -> Evidence:
    """Shift the reward by ``shift(world)`` (up to ±50): π* must not move, and log Z must move by
    exactly the shift over β."""
    generator = torch.Generator().manual_seed(SEED)
    policy_change, log_z_error = 0.0, 0.0
    for world in _check_worlds():
        for beta in CHECK_BETAS:
            f = shift(world, generator)
            before = optimal_policy(world.pi_ref, world.reward, beta)
            after = optimal_policy(world.pi_ref, world.reward + f, beta)
            policy_change = max(policy_change, (after - before).abs().max().item())
            moved = log_partition(world.pi_ref, world.reward + f, beta) - log_partition(
                world.pi_ref, world.reward, beta
            )
            expected = f.mean(dim=-1) / beta  # f(x) is constant along the responses
            log_z_error = max(log_z_error, (moved - expected).abs().max().item())
    return Evidence(
        measured={"max_abs_policy_change": policy_change, "max_log_z_shift_error": log_z_error},
        tolerance=1e-12,
        passed=bool(policy_change <= 1e-12 and log_z_error <= 1e-9),
        note="π*(r + f) − π*(r), and log Z(r + f) − log Z(r) − f/β",
    )


def _prompt_shift(world: World, generator: torch.Generator) -> torch.Tensor:
    """f(x): one random number per prompt, the same for all its responses. Shape: (prompts, 1)."""
    return 100 * torch.rand((world.n_prompts, 1), generator=generator, dtype=DTYPE) - 50


def _response_shift(world: World, generator: torch.Generator) -> torch.Tensor:
    """A wrong f: it depends on the response too. Shape: (prompts, responses)."""
    return 2 * torch.rand(world.pi_ref.shape, generator=generator, dtype=DTYPE) - 1


register(
    Claim(
        id="step3.log_closed_form",
        step=3,
        tex=r"\log \pi^*(y \mid x) = \log \pi_{\mathrm{ref}}(y \mid x) + \frac{1}{\beta} r(x, y) "
        r"- \log Z(x)",
        says="Taking logs turns the optimal policy into a sum: reference log-probability, "
        "reward over β, minus log Z.",
        check=lambda: _check_log_closed_form(log_optimal_policy),
        # Wrong variant: + log Z instead of − log Z.
        refute=lambda: _check_log_closed_form(
            lambda ref, r, beta: torch.log(ref) + r / beta + log_partition(ref, r, beta)[..., None]
        ),
    )
)

register(
    Claim(
        id="step3.reparameterisation",
        step=3,
        tex=r"r(x, y) = \beta \log \frac{\pi^*(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)} + "
        r"\beta \log Z(x)",
        says="Solved for the reward: the reward is β times the log-ratio of optimal to reference "
        "policy, plus β log Z.",
        check=lambda: _check_reparameterisation(
            lambda star, ref, log_z, beta: implicit_reward(star, ref, beta) + beta * log_z
        ),
        # Wrong variant: β log Z(x) forgotten.
        refute=lambda: _check_reparameterisation(
            lambda star, ref, log_z, beta: implicit_reward(star, ref, beta)
        ),
    )
)

register(
    Claim(
        id="step3.equivalence_class",
        step=3,
        tex=r"r(x, y) + f(x) \ \Rightarrow \ \text{the same } \pi^*",
        says="Adding any function of the prompt alone to the reward leaves the optimal policy "
        "unchanged.",
        check=lambda: _check_equivalence_class(_prompt_shift),
        # Wrong variant: a shift that depends on the response as well.
        refute=lambda: _check_equivalence_class(_response_shift),
    )
)

"""Step 3's claims — the reward in terms of its optimal policy (DPO paper, eq. 5):

    log π*(y|x) = log π_ref(y|x) + r(x, y)/β − log Z(x)
    r(x, y)     = β log π*(y|x)/π_ref(y|x) + β log Z(x)

and the equivalence class: any reward r + f(x) gives the same π*, which is why β log Z(x), a
per-prompt constant, can drop out in step 4.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.claims.fixtures import CHECK_BETAS, EXACT_TOLERANCE, check_worlds, mp_log_optimal_policy
from lab.claims.registry import Claim, Evidence
from lab.core.dpo import implicit_reward, log_optimal_policy, log_partition, optimal_policy
from lab.worlds.tabular import DTYPE, World

SEED = 3


def _check_log_closed_form(log_policy: Callable) -> Evidence:
    """``log_policy(π_ref, r, β)`` against log π_ref + r/β − log Z in 50-digit arithmetic, down to
    β = 10⁻³, where π* itself underflows to 0 but its log is an ordinary number."""
    worst, underflows = 0.0, 0
    for world in check_worlds(SEED):
        for beta in (1e-3, *CHECK_BETAS):
            value = log_policy(world.pi_ref, world.reward, beta)
            reference = mp_log_optimal_policy(world, beta)
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
    for world in check_worlds(SEED):
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
    for world in check_worlds(SEED):
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


CLAIMS = (
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
    ),
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
    ),
    Claim(
        id="step3.equivalence_class",
        step=3,
        tex=r"r(x, y) + f(x) \ \Rightarrow \ \text{the same } \pi^*",
        says="Adding any function of the prompt alone to the reward leaves the optimal policy "
        "unchanged.",
        check=lambda: _check_equivalence_class(_prompt_shift),
        # Wrong variant: a shift that depends on the response as well.
        refute=lambda: _check_equivalence_class(_response_shift),
    ),
)

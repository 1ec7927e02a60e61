"""Step 3's claims — the reward in terms of its optimal policy (DPO paper, eq. 5):

    log π*(y|x) = log π_ref(y|x) + r(x, y)/β − log Z(x)
    r(x, y)     = β log π*(y|x)/π_ref(y|x) + β log Z(x)

and the equivalence class: any reward r + f(x) gives the same π*, which is why β log Z(x), a
per-prompt constant, can drop out in step 4. Each check reads the claim's TeX and evaluates it
with the lab's π* and Z.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.claims.fixtures import CHECK_BETAS, EXACT_TOLERANCE, check_worlds, mp_log_optimal_policy
from lab.claims.named import Binding, Derived
from lab.claims.reading import joined, of_prompt, policy, tex_evidence, world_binding
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import implicit_reward, log_optimal_policy, log_partition, optimal_policy
from lab.worlds.tabular import DTYPE, World

SEED = 3
SHIFT_TOLERANCE = (
    1e-9  # log Z(r + f) − log Z(r) − f/β: f reaches ±50, so rounding reaches ~1e-13·50/β
)


def _policy_bindings(log_policy: Callable) -> list[Binding]:
    """Per world and β: π* from ``log_policy`` (exponentiated) and Z from the lab."""
    return [
        world_binding(
            world,
            beta,
            {
                r"\pi^*": policy(log_policy(world.pi_ref, world.reward, beta).exp()),
                "Z": of_prompt(log_partition(world.pi_ref, world.reward, beta).exp()),
            },
        )
        for world in check_worlds(SEED)
        for beta in CHECK_BETAS
    ]


def _check_log_closed_form(reading: Node, log_policy: Callable) -> Evidence:
    """``log_policy(π_ref, r, β)`` against log π_ref + r/β − log Z in 50-digit arithmetic, down to
    β = 10⁻³, where π* itself underflows to 0 but its log is an ordinary number; and the sum on
    screen, with the lab's Z, gives the log of that π*."""
    worst, underflows = 0.0, 0
    for world in check_worlds(SEED):
        for beta in (1e-3, *CHECK_BETAS):
            value = log_policy(world.pi_ref, world.reward, beta)
            reference = mp_log_optimal_policy(world, beta)
            worst = max(
                worst, ((value - reference).abs() / reference.abs().clamp_min(1)).max().item()
            )
            underflows += int((optimal_policy(world.pi_ref, world.reward, beta) == 0).sum())
    lab = Evidence(
        measured={
            "max_relative_error": worst,
            "entries_where_pi_star_underflows": float(underflows),
        },
        tolerance=EXACT_TOLERANCE,
        passed=bool(worst <= EXACT_TOLERANCE),
        note="log π* against 50-digit mpmath, β ∈ {1e-3, 0.3, 2.5}",
    )
    return joined(lab, tex_evidence(reading, _policy_bindings(log_policy)))


def _check_reparameterisation(reading: Node, reward_from_policy: Callable) -> Evidence:
    """``reward_from_policy(π*, π_ref, log Z, β)`` must give back the reward π* was built from; and
    the right-hand side on screen, with the lab's π* and Z, is the world's reward."""
    worst = 0.0
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            star = optimal_policy(world.pi_ref, world.reward, beta)
            log_z = log_partition(world.pi_ref, world.reward, beta)[..., None]
            recovered = reward_from_policy(star, world.pi_ref, log_z, beta)
            error = (recovered - world.reward).abs() / world.reward.abs().clamp_min(1)
            worst = max(worst, error.max().item())
    lab = Evidence(
        measured={"max_relative_error": worst},
        tolerance=EXACT_TOLERANCE,
        passed=bool(worst <= EXACT_TOLERANCE),
        note="β log π*/π_ref + β log Z against the reward π* was built from",
    )
    return joined(lab, tex_evidence(reading, _policy_bindings(log_optimal_policy)))


def _check_equivalence_class(reading: Node, closed_form: Callable) -> Evidence:
    """Read from the TeX: with r replaced by r + f(x) (f up to ±50, one value per prompt), the π*
    that ``closed_form`` computes must not move; and the lab's log Z moves by exactly f/β."""
    generator = torch.Generator().manual_seed(SEED)
    bindings, log_z_error = [], 0.0
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            f = 100 * torch.rand(world.n_prompts, generator=generator, dtype=DTYPE) - 50

            def star(binding: Binding, world: World = world, beta: float = beta) -> object:
                reward = binding.lookup("r").canonical().to_dims(("x", "y"))
                return policy(closed_form(world.pi_ref, reward, beta))

            values = {"f": of_prompt(f), r"\pi^*": Derived(star)}
            bindings.append(world_binding(world, beta, values, tolerance=1e-12, subject="r"))
            moved = log_partition(world.pi_ref, world.reward + f[:, None], beta) - log_partition(
                world.pi_ref, world.reward, beta
            )
            log_z_error = max(log_z_error, (moved - f / beta).abs().max().item())
    lab = Evidence(
        measured={"max_log_z_shift_error": log_z_error},
        tolerance=SHIFT_TOLERANCE,
        passed=log_z_error <= SHIFT_TOLERANCE,
        note="log Z(r + f) − log Z(r) − f/β; π*(r + f) against π*(r) to 1e-12, read from the TeX",
        bounds={"max_log_z_shift_error": SHIFT_TOLERANCE},
    )
    return joined(lab, tex_evidence(reading, bindings))


def _normalised_over_prompts(pi_ref, reward, beta):
    """A wrong π*: π_ref exp(r/β) normalised over the prompts instead of the responses."""
    return torch.softmax(torch.log(pi_ref) + reward / beta, dim=0)


CLAIMS = (
    Claim(
        id="step3.log_closed_form",
        step=3,
        tex=r"\log \pi^*(y \mid x) = \log \pi_{\mathrm{ref}}(y \mid x) + \frac{1}{\beta} r(x, y) "
        r"- \log Z(x)",
        says="Taking logs turns the optimal policy into a sum: reference log-probability, "
        "reward over β, minus log Z.",
        check=lambda tex: _check_log_closed_form(tex, log_optimal_policy),
        # Wrong variant: + log Z instead of − log Z.
        refute=lambda tex: _check_log_closed_form(
            tex,
            lambda ref, r, beta: torch.log(ref) + r / beta + log_partition(ref, r, beta)[..., None],
        ),
    ),
    Claim(
        id="step3.reparameterisation",
        step=3,
        tex=r"r(x, y) = \beta \log \frac{\pi^*(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)} + "
        r"\beta \log Z(x)",
        says="Solved for the reward: the reward is β times the log-ratio of optimal to reference "
        "policy, plus β log Z.",
        check=lambda tex: _check_reparameterisation(
            tex, lambda star, ref, log_z, beta: implicit_reward(star, ref, beta) + beta * log_z
        ),
        # Wrong variant: β log Z(x) forgotten.
        refute=lambda tex: _check_reparameterisation(
            tex, lambda star, ref, log_z, beta: implicit_reward(star, ref, beta)
        ),
    ),
    Claim(
        id="step3.equivalence_class",
        step=3,
        tex=r"r(x, y) + f(x) \ \Rightarrow \ \text{the same } \pi^*",
        says="Adding any function of the prompt alone to the reward leaves the optimal policy "
        "unchanged.",
        check=lambda tex: _check_equivalence_class(tex, optimal_policy),
        refute=lambda tex: _check_equivalence_class(tex, _normalised_over_prompts),
    ),
)

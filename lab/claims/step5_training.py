"""Step 5's trained claims — what minimising the DPO loss reaches.

Trained on the population of Bradley–Terry pairs, DPO's policy is the argmin of the expected loss
and it is π*; on finite data it lands on the same policy as the reward-model + KL-regularised RL
pipeline it replaces.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from lab.claims.fixtures import (
    POPULATION_TRAINING,
    default_population_training,
    expected_loss,
    reference_free_loss,
)
from lab.claims.named import Binding, Derived, Named, Search
from lab.claims.reading import joined, policy, random_policies, tex_evidence, world_binding
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import dpo_loss, optimal_policy
from lab.data.pairs import mle_exists, population_pair_weights, sample_pairs
from lab.training.runs import compare_to_optimum
from lab.training.solvers import rlhf_policy
from lab.training.tabular import TabularConfig, train_tabular
from lab.worlds.tabular import DTYPE, default_world

SEED = 5
CONVERGENCE_TOLERANCE = 1e-6
# DPO and the pipeline on finite data: 400 steps agree to ~2e-9, far inside the tolerance.
FINITE_DATA_TRAINING = TabularConfig(steps=400, device="cpu")


def _check_converges(reading: Node, loss_fn: Callable) -> Evidence:
    """Train a tabular policy on the default world's exact pair distribution with ``loss_fn``
    (Adam, 600 steps). Read from the TeX: it is the argmin of the expected loss (no random or
    nearby policy has a lower loss) and it is π* = π_ref exp(r/β)/Z, to 10⁻⁶."""
    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    if loss_fn is dpo_loss:
        _, trained, _ = default_population_training()
    else:
        trained = train_tabular(
            world.pi_ref, weights, world.beta, POPULATION_TRAINING, loss_fn=loss_fn
        ).policy
    generator = torch.Generator().manual_seed(SEED)
    nearby = trained * torch.exp(1e-3 * torch.randn((50, *trained.shape), generator=generator))
    probes = torch.cat([random_policies(world, 50, generator), nearby / nearby.sum(-1, True)])
    loss_of_policy = expected_loss(weights, world.beta, loss_fn)

    def loss(binding: Binding) -> Named:
        pi_theta = binding.lookup("pi_{theta}").canonical()
        return loss_of_policy.apply(pi_theta, Named(world.pi_ref, ("x", "y")))

    values = {
        r"\pi_\theta": Search(policy(trained), policy(probes.to(DTYPE), "probe")),
        r"\mathcal{L}_{\mathrm{DPO}}": Derived(loss),
        r"\pi^*": policy(star),
    }
    binding = world_binding(world, world.beta, values, tolerance=CONVERGENCE_TOLERANCE)
    binding.relative = False
    comparison = compare_to_optimum(trained, star)
    lab = Evidence(
        measured=comparison,
        tolerance=CONVERGENCE_TOLERANCE,
        passed=comparison["max_abs_error"] <= CONVERGENCE_TOLERANCE,
        note="DPO on the population (expected loss), default world, against π*",
    )
    return joined(lab, tex_evidence(reading, [binding]))


@functools.cache
def _finite_sample_rlhf(n_pairs: int = 5000):
    """The RLHF pipeline on n pairs of the default world: reward model, then KL-regularised RL."""
    world = default_world()
    pairs = sample_pairs(world.pi_ref, world.reward, n_pairs, seed=SEED)
    weights = pairs.weights(world.n_prompts, world.n_responses)
    policy, _ = rlhf_policy(world.pi_ref, weights, world.beta, FINITE_DATA_TRAINING)
    return world, weights, policy


def _check_same_as_rlhf(reading: Node, loss_fn: Callable) -> Evidence:
    """On 5000 sampled pairs, DPO trained with ``loss_fn`` against reward model + KL-regularised
    RL on the same pairs, read from the TeX. Both miss π* by sampling error; they must agree with
    each other, to 10⁻⁶."""
    world, weights, rlhf = _finite_sample_rlhf()
    dpo = train_tabular(
        world.pi_ref, weights, world.beta, FINITE_DATA_TRAINING, loss_fn=loss_fn
    ).policy
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    difference = (dpo - rlhf).abs().max().item()
    exists = bool(mle_exists(weights).all())
    values = {r"\pi_\theta^{\mathrm{DPO}}": policy(dpo), r"\pi^*_{r_\phi}": policy(rlhf)}
    binding = world_binding(world, world.beta, values, tolerance=CONVERGENCE_TOLERANCE)
    binding.relative = False
    lab = Evidence(
        measured={
            "max_abs_difference": difference,
            "dpo_max_abs_error_to_pi_star": (dpo - star).abs().max().item(),
            "rlhf_max_abs_error_to_pi_star": (rlhf - star).abs().max().item(),
            "mle_exists": float(exists),
            "pairs": 5000.0,
        },
        tolerance=CONVERGENCE_TOLERANCE,
        passed=bool(exists and difference <= CONVERGENCE_TOLERANCE),
        note="max |π_DPO − π_RLHF| on the same 5000 pairs; the Bradley–Terry MLE exists for them",
    )
    return joined(lab, tex_evidence(reading, [binding]))


CLAIMS = (
    Claim(
        id="step5.converges_to_optimal",
        step=5,
        tex=r"\arg\min_{\pi_\theta} \mathcal{L}_{\mathrm{DPO}} = \pi^*",
        says="Trained on Bradley–Terry preferences, DPO's policy converges to the optimal policy "
        "π*.",
        check=lambda tex: _check_converges(tex, dpo_loss),
        # Wrong variant: β left out of the loss (β = 1 used instead of the world's 0.5).
        refute=lambda tex: _check_converges(
            tex, lambda pc, pr, rc, rr, beta: dpo_loss(pc, pr, rc, rr, 1.0)
        ),
    ),
    Claim(
        id="step5.same_as_rlhf",
        step=5,
        # π*_{r_φ}: the optimal policy for the fitted reward model r_φ (r̂ is the implicit reward).
        tex=r"\pi_\theta^{\mathrm{DPO}} = \pi^*_{r_\phi}",
        says="On the same preference data, DPO gives the same policy as fitting a reward model and "
        "then running KL-regularised RL.",
        check=lambda tex: _check_same_as_rlhf(tex, dpo_loss),
        # Wrong variant: DPO without the reference model.
        refute=lambda tex: _check_same_as_rlhf(tex, reference_free_loss),
    ),
)

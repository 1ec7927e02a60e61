"""Beyond the five steps — where training starts: π_θ at step 0 is π_ref, for the tabular policy
and for the transformer alike, so every pair's DPO loss is log 2 and every implicit reward 0.

The premise on screen, π_θ = π_ref, is about the lab's own π_θ at step 0, so it is checked, not
assumed: a trainer that starts anywhere else fails the claim.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.claims.fixtures import TinyCausalLM, enumerated_token_world, pair_losses, token_reference
from lab.claims.named import Binding, Named
from lab.claims.reading import joined, of_response, policy, symbols, tex_evidence, world_binding
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import dpo_loss, implicit_reward
from lab.data.batches import concatenated_forward
from lab.data.enumerated import policy_probs, world_pairs
from lab.training.tabular import TabularPolicy
from lab.training.transformer import start_policy
from lab.worlds.tabular import DTYPE, default_world

SEED = 7
TOLERANCE = 1e-10


def _tabular_binding(start_table: Callable) -> Binding:
    """The default world's π_θ at step 0 from ``start_table(π_ref)``, the DPO loss of every pair
    (x, y_w, y_l) and the implicit rewards, as the lab computes them."""
    world = default_world()
    pi_theta = start_table(world.pi_ref)
    losses = pair_losses(pi_theta.log(), world.pi_ref.log(), world.beta, dpo_loss)
    values = {
        r"\pi_\theta": policy(pi_theta),
        r"\mathcal{L}_{\mathrm{DPO}}": Named(losses, ("x", "y_w", "y_l")),
        r"\hat r_\theta": of_response(implicit_reward(pi_theta, world.pi_ref, world.beta)),
    }
    return world_binding(world, world.beta, values, tolerance=TOLERANCE, label="tabular")


def _transformer_binding(start_model: Callable) -> Binding:
    """The token world's π_θ at step 0 from ``start_model(π_ref)``; the DPO loss of every labelled
    pair through the trainer's own concatenated forward; the implicit rewards of every response."""
    enumerated, reference = enumerated_token_world(), token_reference()
    model = start_model(reference)
    pi_theta = policy_probs(model, enumerated)
    batch = world_pairs(enumerated, "uniform", None, SEED).with_reference(reference)
    with torch.no_grad():
        chosen, rejected = concatenated_forward(model, batch)
        losses, _, _ = dpo_loss(
            chosen,
            rejected,
            batch.reference_logps[batch.chosen_index],
            batch.reference_logps[batch.rejected_index],
            enumerated.beta,
        )
    rewards = implicit_reward(pi_theta, enumerated.pi_ref, enumerated.beta)
    values = {
        r"\pi_\theta": policy(pi_theta),
        r"\pi_{\mathrm{ref}}": policy(enumerated.pi_ref),
        r"\mathcal{L}_{\mathrm{DPO}}": Named(losses.to(DTYPE), ("pair",)),
        r"\hat r_\theta": of_response(rewards),
    }
    variables = {"x": len(enumerated.world.prompts), "y": enumerated.pi_ref.shape[-1]}
    return Binding(
        variables, symbols(values), tolerance=TOLERANCE, relative=False, label="transformer"
    )


def _check_reference_start(reading: Node, start_table: Callable, start_model: Callable) -> Evidence:
    """Read from the TeX for both trainers: their π_θ at step 0 is π_ref, every pair's loss is
    log 2, every implicit reward 0."""
    bindings = [_tabular_binding(start_table), _transformer_binding(start_model)]
    pairs = bindings[1].values["mathcal L_{DPO}"].values.numel()
    lab = Evidence({"transformer_pairs": float(pairs)}, TOLERANCE, True, note="")
    return joined(tex_evidence(reading, bindings), lab)


def _tabular_start(pi_ref: torch.Tensor) -> torch.Tensor:
    return TabularPolicy(pi_ref).probs().detach()


def _uniform_start(pi_ref: torch.Tensor) -> torch.Tensor:
    """Wrong: the tabular policy started uniform instead of at π_ref."""
    return torch.full_like(pi_ref, 1 / pi_ref.shape[-1])


def _start_from_scratch(reference: torch.nn.Module) -> torch.nn.Module:
    """Wrong: π_θ freshly initialised instead of copied from π_ref."""
    return TinyCausalLM(reference.token.shape[0], seed=SEED + 1)


CLAIMS = (
    Claim(
        id="step7.reference_start",
        step=7,
        tex=r"\pi_\theta = \pi_{\mathrm{ref}} \;\Rightarrow\; \mathcal{L}_{\mathrm{DPO}} = \log 2,"
        r"\quad \hat r_\theta(x, y) = 0",
        says="At step 0, with π_θ a copy of π_ref, every pair's DPO loss is log 2 and every "
        "implicit reward is 0.",
        check=lambda tex: _check_reference_start(tex, _tabular_start, start_policy),
        refute=lambda tex: _check_reference_start(tex, _uniform_start, _start_from_scratch),
    ),
)

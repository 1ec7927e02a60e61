"""Beyond the five steps — where DPO breaks: the chosen response's own log-prob can fall while the
margin grows.

DPO's loss sees a pair's log-ratios only through their difference, h_w − h_l: moving both by the
same amount leaves it unchanged (measured here on random pairs). So training widens the margin,
and where the level of r̂_θ ends up is left to normalisation: at DPO's optimum r̂_θ = r − β log Z,
and on the default world's population the tabular policy reaches π* to rounding error with the
chosen responses' implicit reward negative on average. The causal LM of ``limits_unseen``, on its
N pairs from π_ref, ends the same way. E[·] is over the pairs' weights.

The refutation is the misunderstanding "lowering the loss means raising y_w": a loss that is not a
difference, −log σ(β h_w), scoring the chosen response alone. It can only be lowered by raising
log π_θ(y_w), its loss moves when both log-ratios move, and after training E[r̂_θ(x, y_w)] > 0.
(A loss that scores both sides separately, −log σ(β h_w) − log σ(−β h_l), is not a refutation on
a table: normalisation still lowers the chosen on average, E[r̂_w] ≈ −0.057.)
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from lab.claims.fixtures import default_population_training
from lab.claims.limits_unseen import BETA, pairs_from_reference, reference_and_world, trained_model
from lab.claims.named import Binding, Named
from lab.claims.reading import joined, of_response, symbols, tex_evidence
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import dpo_loss, implicit_reward
from lab.data.pairs import population_pair_weights
from lab.experiments.chosen_falls import TABULAR, shifted_loss_change
from lab.training.devices import single_cpu_thread
from lab.training.tabular import train_tabular
from lab.worlds.tabular import default_world

SHIFT_TOLERANCE = 1e-12  # a loss of the difference does not move when both log-ratios move
TOLERANCE = 1e-12


def chosen_only_loss(pc, pr, rc, rr, beta):
    """Wrong: −log σ(β h_w), the chosen response scored alone (h = log π_θ − log π_ref)."""
    chosen, rejected = beta * (pc - rc), beta * (pr - rr)
    return -F.logsigmoid(chosen), chosen.detach(), rejected.detach()


@functools.cache
def _tabular(loss_fn) -> torch.Tensor:
    """π_θ after ``loss_fn`` on the default world's population (DPO's run is the fixture's)."""
    if loss_fn is dpo_loss:
        return default_population_training()[1]
    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    with single_cpu_thread():
        return train_tabular(world.pi_ref, weights, world.beta, TABULAR, loss_fn=loss_fn).policy


def _binding(rewards: torch.Tensor, weights: torch.Tensor, label: str) -> Binding:
    """r̂_θ over every (x, y) and E over the pairs' weights W[x, y_w, y_l]."""
    prompts, n = rewards.shape
    values = {
        r"\hat r_\theta": of_response(rewards),
        "mathbb E": Named(weights, ("x", "y_{w}", "y_{l}")),
    }
    variables = symbols({"x": prompts, "y": n, "y_w": n, "y_l": n})
    return Binding(variables, symbols(values), tolerance=TOLERANCE, relative=False, label=label)


def _causal_lm_binding() -> Binding:
    """The causal LM of ``limits_unseen`` after DPO on its N pairs from π_ref."""
    rewards = implicit_reward(trained_model(), reference_and_world()[1].pi_ref, BETA)
    return _binding(rewards, pairs_from_reference(), "causal LM, N pairs")


def _check_chosen_falls(reading: Node, loss_fn) -> Evidence:
    """``loss_fn`` does not move when both log-ratios move by the same amount; the tabular policy
    it trains on the default world's population, and the causal LM trained by DPO, evaluated in
    the TeX: E[r̂_θ(x, y_w)] ≤ 0 while E[r̂_θ(x, y_w) − r̂_θ(x, y_l)] ≥ 0."""
    change = shifted_loss_change(loss_fn)
    world = default_world()
    rewards = implicit_reward(_tabular(loss_fn), world.pi_ref, world.beta)
    weights = population_pair_weights(world.pi_ref, world.reward)
    chosen = (weights * rewards[:, :, None]).sum().item()
    rejected = (weights * rewards[:, None, :]).sum().item()
    lab = Evidence(
        {
            "shifted_loss_change": change,
            "tabular_rewards_chosen": chosen,
            "tabular_margin": chosen - rejected,
        },
        SHIFT_TOLERANCE,
        change <= SHIFT_TOLERANCE,
        note="the loss with both log-ratios moved by 0.7, on 64 random pairs",
    )
    binding = _binding(rewards, weights, "tabular, population")
    return joined(lab, tex_evidence(reading, [binding, _causal_lm_binding()]))


CLAIMS = (
    Claim(
        id="limits.chosen_falls",
        step=8,
        tex=r"\mathbb{E}[\hat r_\theta(x, y_w)] \le 0 \qquad "
        r"\mathbb{E}[\hat r_\theta(x, y_w) - \hat r_\theta(x, y_l)] \ge 0",
        says="After DPO the chosen responses' implicit reward is negative on average, while the "
        "margin over the rejected ones is positive: the loss only sees their difference.",
        check=lambda tex: _check_chosen_falls(tex, dpo_loss),
        refute=lambda tex: _check_chosen_falls(tex, chosen_only_loss),
    ),
)

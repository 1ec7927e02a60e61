"""Where DPO breaks (2): the chosen response's own log-prob falls while the margin grows.

The DPO loss sees the two log-ratios of a pair only through their difference, h_w − h_l: adding
the same amount to both leaves it unchanged. So lowering the loss means widening the margin, not
raising y_w, and after training the chosen responses' implicit reward r̂_θ(x, y_w) =
β log π_θ(y_w|x)/π_ref(y_w|x) can be negative on average: at DPO's optimum r̂_θ = r − β log Z(x),
and π_θ must still sum to one, so its level is set by normalisation, not by the loss. This module
records TRL's metrics before and after for the runs that show it: the transformer's (from
``lab.experiments.unseen_mass``) and the tabular policy on the default world's population, which
reaches π* to rounding error and still ends with rewards/chosen < 0.
"""

from __future__ import annotations

import torch

from lab.core.dpo import dpo_loss, optimal_policy
from lab.data.pairs import population_pair_weights
from lab.training.tabular import TabularConfig, train_tabular, weighted_pair_loss
from lab.worlds.tabular import default_world

# The tabular population run of the claims (``lab.claims.fixtures.POPULATION_TRAINING``).
TABULAR = TabularConfig(steps=600, device="cpu")


def tabular_population(loss_fn=dpo_loss) -> dict:
    """DPO (or ``loss_fn``) on the default world's population: TRL's metrics at π_ref and after,
    and max |π_θ − π*|."""
    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    trained = train_tabular(world.pi_ref, weights, world.beta, TABULAR, loss_fn=loss_fn)
    log_ref = world.pi_ref.log()
    _, step0 = weighted_pair_loss(log_ref, log_ref, weights, world.beta, loss_fn)
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    return {
        "beta": world.beta,
        "step0": step0,
        "metrics": trained.metrics,
        "max_abs_error": (trained.policy - star).abs().max().item(),
    }


def shifted_loss_change(loss_fn=dpo_loss, shift: float = 0.7, seed: int = 0) -> float:
    """The most a pair's loss changes when both its log-ratios move by the same ``shift``
    (log π_θ(y_w) and log π_θ(y_l) raised together), over random pairs: 0 for a loss of the
    difference h_w − h_l, like DPO's."""
    generator = torch.Generator().manual_seed(seed)
    pc, pr, rc, rr = (-3 * torch.rand(64, generator=generator, dtype=torch.float64) for _ in "four")
    before, _, _ = loss_fn(pc, pr, rc, rr, 0.5)
    after, _, _ = loss_fn(pc + shift, pr + shift, rc, rr, 0.5)
    return (after - before).abs().max().item()


def chosen_falls_record(runs) -> dict:
    """TRL's metrics before and after: the transformer's reference-proposal and population runs
    (``RunRecord``s named "reference" and "population"), and the tabular population run."""
    transformer = {
        run.name: {"n_pairs": run.n_pairs, "step0": run.step0, "metrics": run.metrics}
        for run in runs
        if run.name in ("reference", "population")
    }
    tabular = tabular_population()
    reference, population = transformer["reference"], transformer["population"]
    summary = {
        "chosen_logp_before": reference["step0"]["logps/chosen"],
        "chosen_logp_after": reference["metrics"]["logps/chosen"],
        "chosen_reward": reference["metrics"]["rewards/chosen"],
        "margin": reference["metrics"]["rewards/margins"],
        "pop_chosen_logp_before": population["step0"]["logps/chosen"],
        "pop_chosen_logp_after": population["metrics"]["logps/chosen"],
        "pop_chosen_reward": population["metrics"]["rewards/chosen"],
        "pop_margin": population["metrics"]["rewards/margins"],
        "table_chosen_reward": tabular["metrics"]["rewards/chosen"],
        "table_margin": tabular["metrics"]["rewards/margins"],
        "table_max_abs_error": tabular["max_abs_error"],
        "shifted_loss_change": shifted_loss_change(),
    }
    return {"transformer": transformer, "tabular": tabular, "summary": summary}

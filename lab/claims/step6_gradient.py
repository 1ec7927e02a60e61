"""Beyond the five steps — what the DPO gradient does (DPO paper, §4, eq. 8). With the implicit
reward r̂_θ(x, y) = β log π_θ(y|x)/π_ref(y|x),

    ∇_θ L_DPO = −β E[ σ(r̂_θ(x, y_l) − r̂_θ(x, y_w)) · (∇_θ log π_θ(y_w|x) − ∇_θ log π_θ(y_l|x)) ].

The weight σ(r̂_l − r̂_w) is large when the implicit reward ranks the loser higher and fades as the
model gets a pair right; without it every pair pushes forever (``lab.training.runaway``). And
where the wins point one way only, no finite reward fits and even DPO's margin has no limit.
Each check reads the claim's TeX and evaluates it on the lab's numbers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from lab.claims.fixtures import NUMERIC_TOLERANCE, default_population_training
from lab.claims.named import Binding, Derived, Function, Named, Table
from lab.claims.reading import (
    joined,
    of_response,
    policy,
    random_policies,
    tex_evidence,
    world_binding,
)
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import dpo_loss, gradient_weight, implicit_reward
from lab.data.pairs import mle_exists, sample_pairs
from lab.training.runaway import RUNAWAY_BETA, runaway_margins, train_on_pairs, unweighted_loss
from lab.worlds.tabular import DTYPE, default_world

SPREAD_TOLERANCE = 1e-9  # r̂_θ − r along a prompt's responses after 600 Adam steps
MARGIN_TOLERANCE = 1e-9
TRAINING_STEPS = 300  # → ∞ compares the growth over the last two decades of steps

SEED = 6


def _check_implicit_reward(reading: Node, reward_fn: Callable) -> Evidence:
    """``reward_fn(π, π_ref, β)`` against what the DPO loss works with: its logged rewards, and the
    loss as a Bradley–Terry loss on r̂, −log σ(r̂_w − r̂_l); after DPO on the default world's
    population, r̂_θ − r must be one constant per prompt (the β log Z(x) of step 3); and the
    definition on screen gives ``reward_fn``'s r̂ for random policies."""
    generator = torch.Generator().manual_seed(SEED)
    world = default_world()
    logits = torch.randn(world.pi_ref.shape, generator=generator, dtype=DTYPE)
    pi = torch.softmax(logits, dim=-1)
    r_hat = reward_fn(pi, world.pi_ref, world.beta)
    pairs = sample_pairs(world.pi_ref, world.reward, 500, seed=SEED)
    x, w, l = pairs.prompt, pairs.chosen, pairs.rejected  # noqa: E741
    log_pi, log_ref = pi.log(), world.pi_ref.log()
    losses, chosen, rejected = dpo_loss(
        log_pi[x, w], log_pi[x, l], log_ref[x, w], log_ref[x, l], world.beta
    )
    logged = max((chosen - r_hat[x, w]).abs().max().item(), (rejected - r_hat[x, l]).abs().max())
    as_bradley_terry = -torch.nn.functional.logsigmoid(r_hat[x, w] - r_hat[x, l])
    loss_error = (losses - as_bradley_terry).abs().max().item()

    _, trained, _ = default_population_training()
    offset = reward_fn(trained, world.pi_ref, world.beta) - world.reward
    spread = (offset.max(dim=-1).values - offset.min(dim=-1).values).max().item()
    worst = max(float(logged), loss_error)
    lab = Evidence(
        measured={
            "max_abs_error": worst,
            "trained_offset_spread_within_prompt": spread,
            "trained_offset_per_prompt_0": offset[0].mean().item(),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(worst <= NUMERIC_TOLERANCE and spread <= SPREAD_TOLERANCE),
        note="r̂ vs dpo_loss's rewards and loss; r̂_θ − r after training, spread along responses",
        bounds={
            "max_abs_error": NUMERIC_TOLERANCE,
            "trained_offset_spread_within_prompt": SPREAD_TOLERANCE,
        },
    )
    probes = random_policies(world, 20, generator, spread=2.0)
    values = {
        r"\pi_\theta": policy(probes, "probe"),
        r"\hat r_\theta": of_response(reward_fn(probes, world.pi_ref, world.beta), "probe"),
    }
    binding = world_binding(world, world.beta, values, tolerance=NUMERIC_TOLERANCE)
    return joined(lab, tex_evidence(reading, [binding]))


def _gradient_binding(world, theta: torch.Tensor, pairs) -> Binding:
    """θ the logits; π_θ, the mean loss over ``pairs`` and r̂_θ computed from θ by the lab, so
    that ∇_θ on screen differentiates the lab's functions; E over the pairs' weights."""
    beta, log_ref = world.beta, world.pi_ref.log()
    x, w, l = pairs.prompt, pairs.chosen, pairs.rejected  # noqa: E741

    def pi_theta(binding: Binding) -> Table:
        return policy(torch.softmax(binding.lookup("theta").values, dim=-1))

    def loss(binding: Binding) -> Named:
        log_policy = pi_theta(binding).canonical().values.log()
        losses, _, _ = dpo_loss(
            log_policy[x, w], log_policy[x, l], log_ref[x, w], log_ref[x, l], beta
        )
        return Named(losses.mean())

    def r_hat_theta(binding: Binding) -> Table:
        return of_response(
            implicit_reward(pi_theta(binding).canonical().values, world.pi_ref, beta)
        )

    values = {
        r"\theta": Named(theta.detach(), ("θx", "θy")),
        r"\pi_\theta": Derived(pi_theta),
        r"\mathcal{L}_{\mathrm{DPO}}": Derived(loss),
        r"\hat r_\theta": Derived(r_hat_theta),
        "mathbb E": Named(pairs.weights(*world.pi_ref.shape), ("x", "y_{w}", "y_{l}")),
    }
    return world_binding(world, beta, values, tolerance=NUMERIC_TOLERANCE)


def _check_dpo_gradient(reading: Node, weight_fn: Callable) -> Evidence:
    """The autograd gradient of the mean DPO loss over 200 pairs against
    −β mean[weight · (∇log π_θ(y_w) − ∇log π_θ(y_l))], with ∇log π_θ by autograd too; the
    weight is above ½ exactly for the pairs whose loser the implicit reward ranks higher; and the
    gradient on screen, both sides by autograd, with the lab's loss and implicit reward."""
    generator = torch.Generator().manual_seed(SEED)
    world = default_world()
    beta = world.beta
    theta = torch.randn(world.pi_ref.shape, generator=generator, dtype=DTYPE, requires_grad=True)
    pairs = sample_pairs(world.pi_ref, world.reward, 200, seed=SEED)
    x, w, l = pairs.prompt, pairs.chosen, pairs.rejected  # noqa: E741
    log_ref = world.pi_ref.log()

    log_pi = torch.log_softmax(theta, dim=-1)
    losses, _, _ = dpo_loss(log_pi[x, w], log_pi[x, l], log_ref[x, w], log_ref[x, l], beta)
    (autograd,) = torch.autograd.grad(losses.mean(), theta)

    score = torch.autograd.functional.jacobian(
        lambda t: torch.log_softmax(t, dim=-1), theta.detach()
    )  # score[x, y] = ∇_θ log π_θ(y|x), shape (P, K, P, K)
    log_pi = log_pi.detach()
    weight = weight_fn(log_pi[x, w], log_pi[x, l], log_ref[x, w], log_ref[x, l], beta)
    formula = -beta * (weight[:, None, None] * (score[x, w] - score[x, l])).mean(dim=0)
    error = (autograd - formula).abs().max().item()

    r_hat = implicit_reward(log_pi.exp(), world.pi_ref, beta)
    loser_higher = r_hat[x, l] > r_hat[x, w]
    agrees = bool(torch.equal(weight > 0.5, loser_higher))
    lab = Evidence(
        measured={
            "max_abs_error": error,
            "max_abs_gradient": autograd.abs().max().item(),
            "weight_above_half_exactly_where_loser_ranked_higher": float(agrees),
            "pairs_with_loser_ranked_higher": float(loser_higher.sum()),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(error <= NUMERIC_TOLERANCE and agrees),
        note="autograd ∇L_DPO vs −β E[σ(r̂_l − r̂_w)(∇log π_w − ∇log π_l)], worst logit",
    )

    return joined(lab, tex_evidence(reading, [_gradient_binding(world, theta, pairs)]))


@functools.cache
def _trained_rewards(pair_loss: Callable, chosen: tuple[int, ...], rejected: tuple[int, ...]):
    return train_on_pairs(pair_loss, chosen, rejected, steps=TRAINING_STEPS)


def _pairs_trainer(pair_loss: Callable) -> Function:
    """The binding's "data": pairs read from the TeX, n × (a ≻ b), trained on by gradient descent
    from π_ref with ``pair_loss``; r̂_θ over the training steps, and a, b, … as responses."""

    def train(data: list[tuple[float, str, str]]) -> dict[str, object]:
        names = list(dict.fromkeys(name for _, *pair in data for name in pair))
        chosen = tuple(names.index(w) for count, w, _ in data for _ in range(int(count)))
        rejected = tuple(names.index(l) for count, _, l in data for _ in range(int(count)))  # noqa: E741
        rewards = _trained_rewards(pair_loss, chosen, rejected)  # (steps, responses)
        table = Table(Named(rewards[:, None, :], ("step", "x", "y")), ("x", "y"))
        return {
            "hat r_{theta}": table,
            **{name: Named(torch.tensor(i)) for i, name in enumerate(names)},
        }

    return Function(train)


def _trained_binding(pair_loss: Callable) -> Binding:
    return Binding(
        {"x": 1},
        {"data": _pairs_trainer(pair_loss)},
        limit_tolerance=MARGIN_TOLERANCE,
        label=f"β = {RUNAWAY_BETA}, {TRAINING_STEPS} steps",
    )


def _check_weight_stops_runaway(reading: Node, pair_loss: Callable) -> Evidence:
    """The pairs on screen trained on with ``pair_loss`` (gradient descent, β = 0.5, lr = 5): the
    margin must reach the limit on screen and stop moving."""
    margins = runaway_margins(pair_loss)
    lab = Evidence(
        measured={"final_margin": margins[-1], "log_3": math.log(3)},
        tolerance=MARGIN_TOLERANCE,
        passed=True,
        note="margin r̂_a − r̂_b on 3×(a ≻ b), 1×(b ≻ a)",
    )
    return joined(tex_evidence(reading, [_trained_binding(pair_loss)]), lab)


CHAIN = torch.zeros(1, 3, 3, dtype=DTYPE)
CHAIN[0, 0, 1] = CHAIN[0, 1, 2] = 0.5  # a ≻ b, b ≻ c: strongly connected? no: nothing beats a
CYCLE = CHAIN.clone()
CYCLE[0, 2, 0] = 0.5  # … and c ≻ a: now every response can be reached from every other


def _check_no_limit(reading: Node, exists: Callable) -> Evidence:
    """``exists`` (does the Bradley–Terry MLE exist?) says no for a chain of wins with no way
    back, yes once a cycle closes it; and DPO trained on the pairs on screen has a margin that
    keeps growing."""
    chain, cycle = bool(exists(CHAIN).all()), bool(exists(CYCLE).all())
    lab = Evidence(
        {"mle_exists_for_a_chain": float(chain), "mle_exists_for_a_cycle": float(cycle)},
        0.0,
        not chain and cycle,
        note="the MLE exists exactly when the wins are strongly connected",
    )
    binding = _trained_binding(_dpo_pair_losses)
    return joined(lab, tex_evidence(reading, [binding]))


def _dpo_pair_losses(*arguments):
    return dpo_loss(*arguments)[0]


def _weakly_connected(weights: torch.Tensor) -> torch.Tensor:
    """A wrong test for the MLE: the comparison graph connected, directions ignored."""
    return mle_exists(weights + weights.mT)


CLAIMS = (
    Claim(
        id="step6.implicit_reward",
        step=6,
        tex=r"\hat r_\theta(x, y) = \beta \log \frac{\pi_\theta(y \mid x)}"
        r"{\pi_{\mathrm{ref}}(y \mid x)}",
        says="The policy defines its own reward: β times its log-ratio to the reference — DPO "
        "fits this reward to the preferences.",
        check=lambda tex: _check_implicit_reward(tex, implicit_reward),
        # Wrong variant: the β left out.
        refute=lambda tex: _check_implicit_reward(
            tex, lambda pi, ref, beta: torch.log(pi) - torch.log(ref)
        ),
    ),
    Claim(
        id="step6.dpo_gradient",
        step=6,
        tex=r"\nabla_\theta \mathcal{L}_{\mathrm{DPO}} = -\beta \, \mathbb{E}\Big[\sigma\big("
        r"\hat r_\theta(x, y_l) - \hat r_\theta(x, y_w)\big) \big(\nabla_\theta \log "
        r"\pi_\theta(y_w \mid x) - \nabla_\theta \log \pi_\theta(y_l \mid x)\big)\Big]",
        says="The gradient raises the winner and lowers the loser, weighted by how wrongly the "
        "implicit reward ranks them.",
        check=lambda tex: _check_dpo_gradient(tex, gradient_weight),
        # Wrong variant: the weight turned round, σ(r̂_w − r̂_l).
        refute=lambda tex: _check_dpo_gradient(
            tex, lambda pc, pr, rc, rr, beta: gradient_weight(pr, pc, rr, rc, beta)
        ),
    ),
    Claim(
        id="step6.weight_stops_runaway",
        step=6,
        tex=r"3 \times (a \succ b), \; 1 \times (b \succ a) \ \Rightarrow \ "
        r"\hat r_\theta(x, a) - \hat r_\theta(x, b) \to \log 3",
        says="With the weight, training stops where the implicit reward matches the data's 3 to 1 "
        "odds; without it, the margin grows without bound.",
        check=lambda tex: _check_weight_stops_runaway(tex, _dpo_pair_losses),
        # Wrong variant: the gradient without its weight σ(r̂_l − r̂_w).
        refute=lambda tex: _check_weight_stops_runaway(tex, unweighted_loss),
    ),
    Claim(
        id="step6.no_mle_no_limit",
        step=6,
        tex=r"1 \times (a \succ b), \; 1 \times (b \succ c) \ \Rightarrow \ "
        r"\hat r_\theta(x, a) - \hat r_\theta(x, c) \to \infty",
        says="If the wins only ever point one way — a beats b, b beats c, nothing beats a — no "
        "finite reward fits the pairs, and DPO's margin grows without bound.",
        check=lambda tex: _check_no_limit(tex, mle_exists),
        refute=lambda tex: _check_no_limit(tex, _weakly_connected),
    ),
)

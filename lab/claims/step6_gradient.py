"""Beyond the five steps — what the DPO gradient does (DPO paper, §4, eq. 8). With the implicit
reward r̂_θ(x, y) = β log π_θ(y|x)/π_ref(y|x),

    ∇_θ L_DPO = −β E[ σ(r̂_θ(x, y_l) − r̂_θ(x, y_w)) · (∇_θ log π_θ(y_w|x) − ∇_θ log π_θ(y_l|x)) ].

The weight σ(r̂_l − r̂_w) is large when the implicit reward ranks the loser higher and fades as the
model gets a pair right; without it every pair pushes forever (``lab.training.runaway``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lab.claims.fixtures import NUMERIC_TOLERANCE, default_population_training
from lab.claims.registry import Claim, Evidence
from lab.core.dpo import dpo_loss, gradient_weight, implicit_reward
from lab.data.pairs import sample_pairs
from lab.training.runaway import runaway_margins, unweighted_loss
from lab.worlds.tabular import DTYPE, default_world

SEED = 6


def _check_implicit_reward(reward_fn: Callable) -> Evidence:
    """``reward_fn(π, π_ref, β)`` against what the DPO loss works with: its logged rewards, and the
    loss as a Bradley–Terry loss on r̂, −log σ(r̂_w − r̂_l); and after DPO on the default world's
    population, r̂_θ − r must be one constant per prompt (the β log Z(x) of step 3)."""
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
    return Evidence(
        measured={
            "max_abs_error": worst,
            "trained_offset_spread_within_prompt": spread,
            "trained_offset_per_prompt_0": offset[0].mean().item(),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(worst <= NUMERIC_TOLERANCE and spread <= 1e-9),
        note="r̂ vs dpo_loss's rewards and loss; r̂_θ − r after training, spread along responses",
    )


def _check_dpo_gradient(weight_fn: Callable) -> Evidence:
    """The autograd gradient of the mean DPO loss over 200 pairs against
    −β mean[weight · (∇log π_θ(y_w) − ∇log π_θ(y_l))], with ∇log π_θ by autograd too; and the
    weight is above ½ exactly for the pairs whose loser the implicit reward ranks higher."""
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
    return Evidence(
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


def _check_weight_stops_runaway(pair_loss: Callable) -> Evidence:
    """On 3×(a ≻ b), 1×(b ≻ a): the margin must settle at log 3 and stop moving."""
    margins = runaway_margins(pair_loss)
    final = margins[-1]
    growth = margins[-1] - margins[-51]
    error = abs(final - math.log(3))
    return Evidence(
        measured={
            "abs_error_to_log_3": error,
            "final_margin": final,
            "margin_growth_over_last_50_steps": growth,
            "log_3": math.log(3),
        },
        tolerance=1e-9,
        passed=bool(error <= 1e-9 and abs(growth) <= 1e-9),
        note="margin r̂_a − r̂_b after 300 steps of gradient descent (β = 0.5, lr = 5)",
    )


CLAIMS = (
    Claim(
        id="step6.implicit_reward",
        step=6,
        tex=r"\hat r_\theta(x, y) = \beta \log \frac{\pi_\theta(y \mid x)}"
        r"{\pi_{\mathrm{ref}}(y \mid x)}",
        says="The policy defines its own reward: β times its log-ratio to the reference — DPO "
        "fits this reward to the preferences.",
        check=lambda: _check_implicit_reward(implicit_reward),
        # Wrong variant: the β left out.
        refute=lambda: _check_implicit_reward(lambda pi, ref, beta: torch.log(pi) - torch.log(ref)),
    ),
    Claim(
        id="step6.dpo_gradient",
        step=6,
        tex=r"\nabla_\theta \mathcal{L}_{\mathrm{DPO}} = -\beta \, \mathbb{E}\Big[\sigma\big("
        r"\hat r_\theta(x, y_l) - \hat r_\theta(x, y_w)\big) \big(\nabla_\theta \log "
        r"\pi_\theta(y_w \mid x) - \nabla_\theta \log \pi_\theta(y_l \mid x)\big)\Big]",
        says="The gradient raises the winner and lowers the loser, weighted by how wrongly the "
        "implicit reward ranks them.",
        check=lambda: _check_dpo_gradient(gradient_weight),
        # Wrong variant: the weight turned round, σ(r̂_w − r̂_l).
        refute=lambda: _check_dpo_gradient(
            lambda pc, pr, rc, rr, beta: gradient_weight(pr, pc, rr, rc, beta)
        ),
    ),
    Claim(
        id="step6.weight_stops_runaway",
        step=6,
        tex=r"3 \times (a \succ b), \; 1 \times (b \succ a) \ \Rightarrow \ "
        r"\hat r_\theta(x, a) - \hat r_\theta(x, b) \to \log 3",
        says="With the weight, training stops where the implicit reward matches the data's 3 to 1 "
        "odds; without it, the margin grows without bound.",
        check=lambda: _check_weight_stops_runaway(lambda *args: dpo_loss(*args)[0]),
        # Wrong variant: the gradient without its weight σ(r̂_l − r̂_w).
        refute=lambda: _check_weight_stops_runaway(unweighted_loss),
    ),
)

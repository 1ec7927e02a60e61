"""Step 5's claims — the DPO loss (DPO paper, eq. 7):

    L_DPO = −log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l))

The loss against its definition in 40-digit arithmetic; log 2 at π_θ = π_ref; trained on the
population of Bradley–Terry pairs it reaches π*; and on finite data it lands on the same policy as
the reward-model + KL-RL pipeline it replaces.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import mpmath
import torch

from lab.claims.fixtures import (
    CHECK_BETAS,
    NUMERIC_TOLERANCE,
    POPULATION_TRAINING,
    Z_TOLERANCE,
    default_population_training,
)
from lab.claims.registry import Claim, Evidence
from lab.core.dpo import dpo_loss, gradient_weight, optimal_policy, reward_model_loss
from lab.data.pairs import mle_exists, population_pair_weights, sample_pairs
from lab.training.runs import compare_to_optimum
from lab.training.solvers import rlhf_policy
from lab.training.tabular import TabularConfig, train_tabular, weighted_pair_loss
from lab.worlds.tabular import DTYPE, default_world

SEED = 5
CONVERGENCE_TOLERANCE = 1e-6
# DPO and the pipeline on finite data: 400 steps agree to ~2e-9, far inside the tolerance.
FINITE_DATA_TRAINING = TabularConfig(steps=400, device="cpu")


def _mpmath_dpo_loss(pc: float, pr: float, rc: float, rr: float, beta: float) -> float:
    """−log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l)) as written, in 40 digits."""
    with mpmath.workdps(40):
        h = mpmath.mpf(beta) * (
            (mpmath.mpf(pc) - mpmath.mpf(rc)) - (mpmath.mpf(pr) - mpmath.mpf(rr))
        )
        # −log σ(h) = log(1 + e^{−h}); log1p keeps e^{−h} ≪ 1 from rounding away at 40 digits
        return float(mpmath.log1p(mpmath.exp(-h)))


def _check_dpo_loss(loss_fn: Callable) -> Evidence:
    """``loss_fn`` per pair against the definition in 40-digit arithmetic — on random log-probs
    and at log-ratios of ±10⁴, where the loss and its gradient must stay finite — and its
    expectation over the default world's pair distribution against the mean over sampled pairs."""
    generator = torch.Generator().manual_seed(SEED)
    logps = -30 * torch.rand(4, 300, generator=generator, dtype=DTYPE)
    extremes = torch.tensor(
        [[0, -1e4, 0, 0], [-1e4, 0, 0, 0], [0, 0, -1e4, 0], [0, 0, 0, -1e4]], dtype=DTYPE
    ).T  # log-ratio differences of +1e4, −1e4, −1e4, +1e4
    logps = torch.cat([logps, extremes], dim=1).requires_grad_(True)
    worst, finite = 0.0, True
    for beta in CHECK_BETAS:
        losses, _, _ = loss_fn(*logps, beta)
        (gradient,) = torch.autograd.grad(losses.sum(), logps)
        finite = finite and bool(torch.isfinite(losses).all() and torch.isfinite(gradient).all())
        exact = torch.tensor(
            [_mpmath_dpo_loss(*column, beta) for column in logps.detach().T.tolist()], dtype=DTYPE
        )
        relative = (losses.detach() - exact).abs() / exact.abs().clamp_min(1e-300)
        worst = max(worst, relative.max().item())

    # E over D: exact Σ W·loss against the mean loss over sampled pairs, for a random policy
    world = default_world()
    policy = torch.log_softmax(
        torch.randn(world.pi_ref.shape, generator=generator, dtype=DTYPE), -1
    )
    reference = world.pi_ref.log()
    weights = population_pair_weights(world.pi_ref, world.reward)
    x, w, l = weights.nonzero(as_tuple=True)  # noqa: E741
    expected = (
        weights[x, w, l]
        * loss_fn(policy[x, w], policy[x, l], reference[x, w], reference[x, l], world.beta)[0]
    ).sum()
    pairs = sample_pairs(world.pi_ref, world.reward, 200_000, seed=SEED)
    x, w, l = pairs.prompt, pairs.chosen, pairs.rejected  # noqa: E741
    sampled = loss_fn(policy[x, w], policy[x, l], reference[x, w], reference[x, l], world.beta)[0]
    z = ((sampled.mean() - expected).abs() / (sampled.std() / math.sqrt(len(pairs)))).item()
    return Evidence(
        measured={
            "max_relative_error": worst,
            "finite_at_log_ratios_1e4": float(finite),
            "expectation_z_score": z,
            "pairs": float(logps.shape[1]),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(finite and worst <= NUMERIC_TOLERANCE and z <= Z_TOLERANCE),
        note="per-pair loss vs 40-digit mpmath; E_D as Σ W·loss vs the mean over 2e5 sampled pairs",
    )


def _mpmath_reward_model_loss(reward_w: float, reward_l: float) -> float:
    """−log σ(r_w − r_l) = log(1 + e^{−(r_w − r_l)}) as written, in 40 digits."""
    with mpmath.workdps(40):
        return float(mpmath.log1p(mpmath.exp(-(mpmath.mpf(reward_w) - mpmath.mpf(reward_l)))))


def _check_reward_model_loss(loss_fn: Callable) -> Evidence:
    """``loss_fn(r_w, r_l)`` per pair against −log σ(r_w − r_l) in 40-digit arithmetic, with reward
    differences up to ±10⁴ (where it must stay finite); and with the implicit rewards of a random
    π_θ in place of r_φ it is DPO's loss, pair by pair."""
    generator = torch.Generator().manual_seed(SEED)
    rewards = 10 * torch.randn(2, 300, generator=generator, dtype=DTYPE)
    extremes = torch.tensor([[1e4, -1e4], [-1e4, 1e4]], dtype=DTYPE)
    rewards = torch.cat([rewards, extremes], dim=1)
    losses = loss_fn(*rewards)
    pairs = rewards.T.tolist()
    exact = torch.tensor([_mpmath_reward_model_loss(*pair) for pair in pairs], dtype=DTYPE)
    finite = bool(torch.isfinite(losses).all())
    relative = ((losses - exact).abs() / exact.abs().clamp_min(1e-300)).max()

    logps = -30 * torch.rand(4, 300, generator=generator, dtype=DTYPE)
    dpo_losses, chosen_rewards, rejected_rewards = dpo_loss(*logps, CHECK_BETAS[0])
    as_reward_model = (loss_fn(chosen_rewards, rejected_rewards) - dpo_losses).abs().max()
    worst = max(relative.item(), as_reward_model.item())
    return Evidence(
        measured={
            "max_relative_error": relative.item(),
            "max_abs_difference_from_dpo_loss": as_reward_model.item(),
            "finite_at_reward_differences_1e4": float(finite),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(finite and worst <= NUMERIC_TOLERANCE),
        note="per-pair loss vs 40-digit mpmath; the same loss on implicit rewards vs dpo_loss",
    )


def _check_loss_at_reference(loss_fn: Callable) -> Evidence:
    """With π_θ = π_ref every pair's loss must be log 2 = −log σ(0), whatever the log-probs."""
    generator = torch.Generator().manual_seed(SEED)
    chosen = -50 * torch.rand(1000, generator=generator, dtype=DTYPE)
    rejected = -50 * torch.rand(1000, generator=generator, dtype=DTYPE)
    worst = 0.0
    for beta in CHECK_BETAS:
        losses, _, _ = loss_fn(chosen, rejected, chosen, rejected, beta)
        worst = max(worst, (losses - math.log(2)).abs().max().item())
    weight = gradient_weight(chosen, rejected, chosen, rejected, CHECK_BETAS[0])
    return Evidence(
        measured={
            "max_abs_error": worst,
            "log_2": math.log(2),
            "gradient_weight_at_reference": weight.mean().item(),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(worst <= NUMERIC_TOLERANCE),
        note="|loss − log 2| over 1000 pairs with π_θ = π_ref",
    )


def _reference_free_loss(pc, pr, rc, rr, beta):
    """A wrong DPO: the reference log-probs left out, −log σ(β log π_θ(y_w) − β log π_θ(y_l))."""
    return dpo_loss(pc, pr, torch.zeros_like(rc), torch.zeros_like(rr), beta)


def _check_converges(loss_fn: Callable) -> Evidence:
    """Train a tabular policy on the default world's exact pair distribution with ``loss_fn``
    (Adam, 600 steps): it must reach π* = π_ref exp(r/β)/Z, and its loss the loss of π*."""
    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    if loss_fn is dpo_loss:
        _, policy, _ = default_population_training()
    else:
        policy = train_tabular(
            world.pi_ref, weights, world.beta, POPULATION_TRAINING, loss_fn=loss_fn
        ).policy
    reference = world.pi_ref.log()
    loss_trained, _ = weighted_pair_loss(policy.log(), reference, weights, world.beta)
    loss_star, _ = weighted_pair_loss(star.log(), reference, weights, world.beta)
    comparison = compare_to_optimum(policy, star)
    return Evidence(
        measured={
            **comparison,
            "loss_minus_loss_at_optimum": (loss_trained - loss_star).item(),
            "loss_at_optimum": loss_star.item(),
        },
        tolerance=CONVERGENCE_TOLERANCE,
        passed=bool(comparison["max_abs_error"] <= CONVERGENCE_TOLERANCE),
        note="max |π_θ − π*| after DPO on the population (expected loss), default world",
    )


@functools.cache
def _finite_sample_rlhf(n_pairs: int = 5000):
    """The RLHF pipeline on n pairs of the default world: reward model, then KL-regularised RL."""
    world = default_world()
    pairs = sample_pairs(world.pi_ref, world.reward, n_pairs, seed=SEED)
    weights = pairs.weights(world.n_prompts, world.n_responses)
    policy, _ = rlhf_policy(world.pi_ref, weights, world.beta, FINITE_DATA_TRAINING)
    return world, weights, policy


def _check_same_as_rlhf(loss_fn: Callable) -> Evidence:
    """On 5000 sampled pairs, DPO trained with ``loss_fn`` against reward model + KL-regularised
    RL on the same pairs. Both miss π* by sampling error; they must agree with each other."""
    world, weights, rlhf = _finite_sample_rlhf()
    dpo = train_tabular(
        world.pi_ref, weights, world.beta, FINITE_DATA_TRAINING, loss_fn=loss_fn
    ).policy
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    difference = (dpo - rlhf).abs().max().item()
    exists = bool(mle_exists(weights).all())
    return Evidence(
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


CLAIMS = (
    Claim(
        id="step5.dpo_loss",
        step=5,
        tex=r"\mathcal{L}_{\mathrm{DPO}}(\pi_\theta; \pi_{\mathrm{ref}}) = "
        r"-\mathbb{E}_{(x, y_w, y_l) \sim \mathcal{D}}\Big[\log \sigma\Big(\beta \log "
        r"\frac{\pi_\theta(y_w \mid x)}{\pi_{\mathrm{ref}}(y_w \mid x)} - \beta \log "
        r"\frac{\pi_\theta(y_l \mid x)}{\pi_{\mathrm{ref}}(y_l \mid x)}\Big)\Big]",
        says="The DPO loss: a logistic loss on the difference of the two β-scaled log-ratios, "
        "averaged over preference pairs.",
        check=lambda: _check_dpo_loss(dpo_loss),
        # Wrong variant: the sign flipped — the rejected response's log-ratio first.
        refute=lambda: _check_dpo_loss(lambda pc, pr, rc, rr, beta: dpo_loss(pr, pc, rr, rc, beta)),
    ),
    Claim(
        id="step5.reward_model_loss",
        step=5,
        tex=r"\mathcal{L}_R(r_\phi) = -\mathbb{E}_{(x, y_w, y_l) \sim \mathcal{D}}\Big[\log "
        r"\sigma\big(r_\phi(x, y_w) - r_\phi(x, y_l)\big)\Big]",
        says="RLHF fits its reward model with the same logistic loss on pairs; DPO's loss is this "
        "loss with the implicit reward in place of r_φ.",
        check=lambda: _check_reward_model_loss(reward_model_loss),
        # Wrong variant: the labels swapped, −log σ(r_l − r_w).
        refute=lambda: _check_reward_model_loss(lambda rw, rl: reward_model_loss(rl, rw)),
    ),
    Claim(
        id="step5.loss_at_reference",
        step=5,
        tex=r"\pi_\theta = \pi_{\mathrm{ref}} \ \Rightarrow \ \mathcal{L}_{\mathrm{DPO}} = \log 2",
        says="Before training, when the policy equals the reference, every pair's loss is log 2.",
        check=lambda: _check_loss_at_reference(dpo_loss),
        # Wrong variant: the reference log-probs left out of the loss.
        refute=lambda: _check_loss_at_reference(_reference_free_loss),
    ),
    Claim(
        id="step5.converges_to_optimal",
        step=5,
        tex=r"\arg\min_{\pi_\theta} \mathcal{L}_{\mathrm{DPO}} = \pi^*",
        says="Trained on Bradley–Terry preferences, DPO's policy converges to the optimal policy "
        "π*.",
        check=lambda: _check_converges(dpo_loss),
        # Wrong variant: β left out of the loss (β = 1 used instead of the world's 0.5).
        refute=lambda: _check_converges(lambda pc, pr, rc, rr, beta: dpo_loss(pc, pr, rc, rr, 1.0)),
    ),
    Claim(
        id="step5.same_as_rlhf",
        step=5,
        tex=r"\pi_\theta^{\mathrm{DPO}} = \pi^*_{\hat r} \quad \text{(reward model + "
        r"KL-regularised RL)}",
        says="On the same preference data, DPO gives the same policy as fitting a reward model and "
        "then running KL-regularised RL.",
        check=lambda: _check_same_as_rlhf(dpo_loss),
        # Wrong variant: DPO without the reference model.
        refute=lambda: _check_same_as_rlhf(_reference_free_loss),
    ),
)

"""Step 5's claims — the DPO loss (DPO paper, eq. 7):

    L_DPO = −log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l))

The loss against its definition in 40-digit arithmetic, and the reward model's loss it mirrors;
log 2 at π_θ = π_ref. What training on it reaches is in ``step5_training``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import torch

from lab.claims.fixtures import (
    CHECK_BETAS,
    NUMERIC_TOLERANCE,
    Z_TOLERANCE,
    check_worlds,
    expected_loss,
    pair_losses,
    reference_free_loss,
)
from lab.claims.named import Binding, Derived, Function, Named
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
from lab.core.dpo import dpo_loss, gradient_weight, reward_model_loss
from lab.data.pairs import population_pair_weights, sample_pairs
from lab.worlds.tabular import DTYPE, default_world

SEED = 5


def _mpmath_dpo_loss(pc: float, pr: float, rc: float, rr: float, beta: float) -> float:
    """−log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l)) as written, in 40 digits."""
    with mpmath.workdps(40):
        h = mpmath.mpf(beta) * (
            (mpmath.mpf(pc) - mpmath.mpf(rc)) - (mpmath.mpf(pr) - mpmath.mpf(rr))
        )
        # −log σ(h) = log(1 + e^{−h}); log1p keeps e^{−h} ≪ 1 from rounding away at 40 digits
        return float(mpmath.log1p(mpmath.exp(-h)))


def _expectation_z_score(world, weights, loss_fn: Callable, generator) -> float:
    """E over D for a random policy: the exact Σ W·loss against the mean loss over 2·10⁵ sampled
    pairs, in standard errors of that mean."""
    log_policy = torch.log_softmax(
        torch.randn(world.pi_ref.shape, generator=generator, dtype=DTYPE), -1
    )
    reference = world.pi_ref.log()

    def losses(x, w, l):  # noqa: E741
        return loss_fn(
            log_policy[x, w], log_policy[x, l], reference[x, w], reference[x, l], world.beta
        )[0]

    x, w, l = weights.nonzero(as_tuple=True)  # noqa: E741
    expected = (weights[x, w, l] * losses(x, w, l)).sum()
    pairs = sample_pairs(world.pi_ref, world.reward, 200_000, seed=SEED)
    sampled = losses(pairs.prompt, pairs.chosen, pairs.rejected)
    return ((sampled.mean() - expected).abs() / (sampled.std() / math.sqrt(len(pairs)))).item()


def _check_dpo_loss(reading: Node, loss_fn: Callable) -> Evidence:
    """``loss_fn`` per pair against the definition in 40-digit arithmetic — on random log-probs
    and at log-ratios of ±10⁴, where the loss and its gradient must stay finite — and its
    expectation over the default world's pair distribution against the mean over sampled pairs;
    and the loss on screen, the expectation over the pair weights, is the lab's for random π_θ."""
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

    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    z = _expectation_z_score(world, weights, loss_fn, generator)
    lab = Evidence(
        measured={
            "max_relative_error": worst,
            "finite_at_log_ratios_1e4": float(finite),
            "expectation_z_score": z,
            "pairs": float(logps.shape[1]),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(finite and worst <= NUMERIC_TOLERANCE and z <= Z_TOLERANCE),
        note="per-pair loss vs 40-digit mpmath; E_D as Σ W·loss vs the mean over 2e5 sampled pairs",
        bounds={"max_relative_error": NUMERIC_TOLERANCE, "expectation_z_score": Z_TOLERANCE},
    )
    probes = random_policies(world, 20, generator, spread=2.0)
    values = {
        r"\mathcal{L}_{\mathrm{DPO}}": expected_loss(weights, world.beta, loss_fn),
        r"\pi_\theta": policy(probes, "probe"),
        r"\mathcal{D}": Named(weights, ("x", "y_w", "y_l")),
    }
    return joined(lab, tex_evidence(reading, [world_binding(world, world.beta, values)]))


def _mpmath_reward_model_loss(reward_w: float, reward_l: float) -> float:
    """−log σ(r_w − r_l) = log(1 + e^{−(r_w − r_l)}) as written, in 40 digits."""
    with mpmath.workdps(40):
        return float(mpmath.log1p(mpmath.exp(-(mpmath.mpf(reward_w) - mpmath.mpf(reward_l)))))


def _check_reward_model_loss(reading: Node, loss_fn: Callable) -> Evidence:
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
    lab = Evidence(
        measured={
            "max_relative_error": relative.item(),
            "max_abs_difference_from_dpo_loss": as_reward_model.item(),
            "finite_at_reward_differences_1e4": float(finite),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(finite and worst <= NUMERIC_TOLERANCE),
        note="per-pair loss vs 40-digit mpmath; the same loss on implicit rewards vs dpo_loss",
    )
    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    fitted = 2 * torch.randn((20, *world.reward.shape), generator=generator, dtype=DTYPE)

    def expected(reward: Named) -> Named:
        leading = tuple(d for d in reward.dims if d not in ("x", "y"))
        table = reward.to_dims((*leading, "x", "y"))
        losses = loss_fn(table[..., :, :, None], table[..., :, None, :])
        return Named((weights * losses).sum(dim=(-3, -2, -1)), leading)

    values = {
        r"\mathcal{L}_R": Function(expected),
        r"r_\phi": of_response(fitted, "probe"),
        r"\mathcal{D}": Named(weights, ("x", "y_w", "y_l")),
    }
    return joined(lab, tex_evidence(reading, [world_binding(world, world.beta, values)]))


def _check_loss_at_reference(reading: Node, loss_fn: Callable) -> Evidence:
    """With π_θ = π_ref every pair's loss must be log 2 = −log σ(0), whatever the log-probs; and
    read from the TeX, with π_θ left free and the loss the lab's for every pair of each world."""
    generator = torch.Generator().manual_seed(SEED)
    chosen = -50 * torch.rand(1000, generator=generator, dtype=DTYPE)
    rejected = -50 * torch.rand(1000, generator=generator, dtype=DTYPE)
    worst = 0.0
    for beta in CHECK_BETAS:
        losses, _, _ = loss_fn(chosen, rejected, chosen, rejected, beta)
        worst = max(worst, (losses - math.log(2)).abs().max().item())
    weight = gradient_weight(chosen, rejected, chosen, rejected, CHECK_BETAS[0])
    lab = Evidence(
        measured={
            "max_abs_error": worst,
            "gradient_weight_at_reference": weight.mean().item(),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(worst <= NUMERIC_TOLERANCE),
        note="|loss − log 2| over 1000 pairs with π_θ = π_ref",
    )
    bindings = []
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:

            def losses(binding: Binding, world=world, beta=beta) -> Named:
                log_policy = binding.lookup("pi_{theta}").canonical().to_dims(("x", "y")).log()
                table = pair_losses(log_policy, world.pi_ref.log(), beta, loss_fn)
                return Named(table, ("x", "y_w", "y_l"))

            values = {r"\mathcal{L}_{\mathrm{DPO}}": Derived(losses)}
            bindings.append(world_binding(world, beta, values, tolerance=NUMERIC_TOLERANCE))
    return joined(lab, tex_evidence(reading, bindings))


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
        check=lambda tex: _check_dpo_loss(tex, dpo_loss),
        # Wrong variant: the sign flipped — the rejected response's log-ratio first.
        refute=lambda tex: _check_dpo_loss(
            tex, lambda pc, pr, rc, rr, beta: dpo_loss(pr, pc, rr, rc, beta)
        ),
    ),
    Claim(
        id="step5.reward_model_loss",
        step=5,
        tex=r"\mathcal{L}_R(r_\phi) = -\mathbb{E}_{(x, y_w, y_l) \sim \mathcal{D}}\Big[\log "
        r"\sigma\big(r_\phi(x, y_w) - r_\phi(x, y_l)\big)\Big]",
        says="RLHF fits its reward model with the same logistic loss on pairs; DPO's loss is this "
        "loss with the implicit reward in place of r_φ.",
        check=lambda tex: _check_reward_model_loss(tex, reward_model_loss),
        # Wrong variant: the labels swapped, −log σ(r_l − r_w).
        refute=lambda tex: _check_reward_model_loss(tex, lambda rw, rl: reward_model_loss(rl, rw)),
    ),
    Claim(
        id="step5.loss_at_reference",
        step=5,
        tex=r"\pi_\theta = \pi_{\mathrm{ref}} \ \Rightarrow \ \mathcal{L}_{\mathrm{DPO}} = \log 2",
        says="Before training, when the policy equals the reference, every pair's loss is log 2.",
        check=lambda tex: _check_loss_at_reference(tex, dpo_loss),
        # Wrong variant: the reference log-probs left out of the loss.
        refute=lambda tex: _check_loss_at_reference(tex, reference_free_loss),
    ),
)

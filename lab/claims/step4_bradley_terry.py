"""Step 4's claims — Bradley–Terry: a preference probability depends only on a reward difference.

Bradley–Terry says P(y_w ≻ y_l | x) = exp(r_w) / (exp(r_w) + exp(r_l)). Dividing through by
exp(r_w) gives σ(r_w − r_l): only the difference of rewards matters, which is why the per-prompt
term β log Z(x) of the reparameterised reward cancels (DPO paper, eq. 6).
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
import torch

from lab.claims.fixtures import (
    CHECK_BETAS,
    NUMERIC_TOLERANCE,
    Z_TOLERANCE,
    check_worlds,
    symbolic_residual,
)
from lab.claims.registry import Claim, Evidence
from lab.core.dpo import (
    bradley_terry_choice,
    implicit_reward,
    log_partition,
    optimal_policy,
    preference_prob,
)
from lab.data.pairs import PreferencePairs, pair_distribution, sample_pairs
from lab.worlds.tabular import DTYPE, World, default_world

SEED = 4
SAMPLED_PAIRS = 200_000


def _check_sigmoid_identity(prob_torch, prob_sympy) -> Evidence:
    """e^A/(e^A+e^B) against a candidate for σ(A−B): symbolically, then on random float64 pairs."""
    a, b = sp.symbols("A B", real=True)
    residual = symbolic_residual(sp.exp(a) / (sp.exp(a) + sp.exp(b)) - prob_sympy(a, b))
    symbolic_zero = residual == 0

    generator = torch.Generator().manual_seed(SEED)
    scales = torch.tensor([1.0, 10.0, 100.0, 1000.0], dtype=torch.float64)
    # 250 pairs at each scale: |A − B| reaches ~1e3, where a naive e^A overflows float64.
    scale = scales.repeat_interleave(250)
    a_values = (torch.rand(scale.shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale
    b_values = (torch.rand(scale.shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale
    lhs = bradley_terry_choice(a_values, b_values)
    rhs = prob_torch(a_values, b_values)
    finite = bool(torch.isfinite(lhs).all() and torch.isfinite(rhs).all())
    error = (lhs - rhs).abs().max().item() if finite else float("inf")

    return Evidence(
        measured={
            "max_abs_error": error,
            "symbolic_residual_is_zero": float(symbolic_zero),
            "pairs": float(scale.numel()),
            "max_abs_difference": (a_values - b_values).abs().max().item(),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(symbolic_zero and finite and error <= NUMERIC_TOLERANCE),
        note=f"sympy residual: {residual}",
    )


def _check_bradley_terry_labels(sampler: Callable[[World, int, int], object]) -> Evidence:
    """Labels drawn by ``sampler`` against e^{r_w}/(e^{r_w} + e^{r_l}): for every pair {a, b} of
    the default world, how often a was preferred, in standard errors of a binomial frequency."""
    world = default_world()
    pairs = sampler(world, SAMPLED_PAIRS, SEED)
    wins = pairs.counts(world.n_prompts, world.n_responses)  # wins[x, a, b]: a ≻ b
    shown = wins + wins.transpose(-2, -1)
    expected = bradley_terry_choice(world.reward[:, :, None], world.reward[:, None, :])
    enough = shown >= 30  # the normal approximation needs a few dozen draws of the pair
    frequency = wins[enough] / shown[enough]
    p = expected[enough]
    z = ((frequency - p).abs() / (p * (1 - p) / shown[enough]).sqrt()).max().item()
    return Evidence(
        measured={
            "max_z_score": z,
            "max_abs_frequency_error": (frequency - p).abs().max().item(),
            "pairs_sampled": float(SAMPLED_PAIRS),
            "ordered_pairs_checked": float(enough.sum()),
        },
        tolerance=Z_TOLERANCE,
        passed=bool(z <= Z_TOLERANCE),
        note="sampled preference frequencies vs Bradley–Terry, in standard errors",
    )


def _bradley_terry_labels(world: World, n_pairs: int, seed: int) -> PreferencePairs:
    """Pairs drawn from π_ref, labelled as the lab labels them (Bradley–Terry on the true r)."""
    return sample_pairs(world.pi_ref, world.reward, n_pairs, seed)


def _deterministic_labels(world: World, n_pairs: int, seed: int) -> PreferencePairs:
    """A wrong labeller: the higher reward always wins (no Bradley–Terry noise)."""
    return sample_pairs(world.pi_ref, world.reward, n_pairs, seed, lambda a, b: (a > b).to(DTYPE))


def _check_only_differences(prob_torch: Callable, prob_sympy: Callable) -> Evidence:
    """A candidate P(y_w ≻ y_l) as a function of the two rewards must not change when both move by
    the same c: symbolically, on random rewards with shifts up to ±10³, and for the default world's
    labelled-pair distribution with a per-prompt shift f(x)."""
    rw, rl, c = sp.symbols("r_w r_l c", real=True)
    residual = symbolic_residual(prob_sympy(rw + c, rl + c) - prob_sympy(rw, rl))
    symbolic_zero = residual == 0

    generator = torch.Generator().manual_seed(SEED)
    reward_w = 3 * torch.randn(1000, generator=generator, dtype=DTYPE)
    reward_l = 3 * torch.randn(1000, generator=generator, dtype=DTYPE)
    shift = (2 * torch.rand(1000, generator=generator, dtype=DTYPE) - 1) * 1e3
    change = (prob_torch(reward_w + shift, reward_l + shift) - prob_torch(reward_w, reward_l)).abs()
    # e^{r+c} overflows for c ~ 10³ unless computed in log space: a NaN is a failure, counted
    non_finite = int((~torch.isfinite(change)).sum())
    change = change[torch.isfinite(change)]

    world = default_world()
    f = 20 * torch.randn(world.n_prompts, 1, 1, generator=generator, dtype=DTYPE)
    q = pair_distribution(world.pi_ref)
    r_w, r_l = world.reward[:, :, None], world.reward[:, None, :]
    weights = (q + q.transpose(-2, -1)) * prob_torch(r_w, r_l)
    shifted = (q + q.transpose(-2, -1)) * prob_torch(r_w + f, r_l + f)
    data_change = (weights - shifted).abs().max().item()
    worst = max(change.max().item() if change.numel() else 0.0, data_change)
    return Evidence(
        measured={
            "max_abs_change": worst,
            "symbolic_residual_is_zero": float(symbolic_zero),
            "max_shift": shift.abs().max().item(),
            "max_pair_weight_change_under_f_x": data_change,
            "non_finite_results": float(non_finite),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(symbolic_zero and non_finite == 0 and worst <= NUMERIC_TOLERANCE),
        note=f"sympy: P(r_w + c, r_l + c) − P(r_w, r_l) = {residual}",
    )


def _check_substituted(reparameterised_reward: Callable) -> Evidence:
    """Bradley–Terry with r replaced by ``reparameterised_reward(π*, π_ref, log Z, β)`` against
    Bradley–Terry with the true r, for every pair of responses of every prompt."""
    worst = 0.0
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            star = optimal_policy(world.pi_ref, world.reward, beta)
            log_z = log_partition(world.pi_ref, world.reward, beta)[..., None]
            r_hat = reparameterised_reward(star, world.pi_ref, log_z, beta)
            substituted = preference_prob(r_hat[:, :, None], r_hat[:, None, :])
            true = preference_prob(world.reward[:, :, None], world.reward[:, None, :])
            worst = max(worst, (substituted - true).abs().max().item())
    return Evidence(
        measured={"max_abs_error": worst},
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(worst <= NUMERIC_TOLERANCE),
        note="σ(r̂_w − r̂_l) with r̂ = β log π*/π_ref + β log Z vs σ(r_w − r_l)",
    )


def _check_z_cancels(logit: Callable) -> Evidence:
    """``logit(h_w, h_l, log Z, β)``, with h = log π*/π_ref, is the argument of σ in the preference
    written from (π*, π_ref) alone. sympy: it equals the substituted form, Z and all; numbers:
    σ(logit) computed from π* and π_ref — no reward, no Z — equals σ(r_w − r_l)."""
    h_w, h_l, log_z = sp.symbols("h_w h_l log_Z", real=True)
    beta = sp.Symbol("beta", positive=True)
    substituted = beta * h_w + beta * log_z - beta * h_l - beta * log_z
    residual = symbolic_residual(logit(h_w, h_l, log_z, beta) - substituted)
    symbolic_zero = residual == 0

    worst, largest_log_z = 0.0, 0.0
    for world in check_worlds(SEED):
        for beta_value in CHECK_BETAS:
            star = optimal_policy(world.pi_ref, world.reward, beta_value)
            log_ratio = torch.log(star) - torch.log(world.pi_ref)
            log_z_value = log_partition(world.pi_ref, world.reward, beta_value)[:, None, None]
            from_policies = torch.sigmoid(
                logit(log_ratio[:, :, None], log_ratio[:, None, :], log_z_value, beta_value)
            )
            true = preference_prob(world.reward[:, :, None], world.reward[:, None, :])
            worst = max(worst, (from_policies - true).abs().max().item())
            largest_log_z = max(largest_log_z, log_z_value.abs().max().item())
    return Evidence(
        measured={
            "max_abs_error": worst,
            "symbolic_residual_is_zero": float(symbolic_zero),
            "largest_abs_log_z": largest_log_z,
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(symbolic_zero and worst <= NUMERIC_TOLERANCE),
        note=f"sympy: logit − substituted form = {residual}",
    )


CLAIMS = (
    Claim(
        id="step4.sigmoid_identity",
        step=4,
        tex=r"\frac{e^{A}}{e^{A} + e^{B}} = \sigma(A - B)",
        says="A Bradley–Terry preference probability is the sigmoid of the reward difference.",
        check=lambda: _check_sigmoid_identity(
            preference_prob, lambda a, b: 1 / (1 + sp.exp(-(a - b)))
        ),
        # Wrong variant: the difference taken the wrong way round, σ(B − A).
        refute=lambda: _check_sigmoid_identity(
            lambda a, b: preference_prob(b, a), lambda a, b: 1 / (1 + sp.exp(-(b - a)))
        ),
    ),
    Claim(
        id="step4.bradley_terry",
        step=4,
        tex=r"p^*(y_w \succ y_l \mid x) = \frac{\exp r(x, y_w)}{\exp r(x, y_w) + \exp r(x, y_l)}",
        says="Bradley–Terry: the chance that one response is preferred grows with the "
        "exponential of its reward.",
        check=lambda: _check_bradley_terry_labels(_bradley_terry_labels),
        # Wrong variant: deterministic labels, the higher reward always wins.
        refute=lambda: _check_bradley_terry_labels(_deterministic_labels),
    ),
    Claim(
        id="step4.only_differences",
        step=4,
        tex=r"\sigma\big((r_w + c) - (r_l + c)\big) = \sigma(r_w - r_l)",
        says="Only the difference of the two rewards matters: shifting both by the same amount "
        "changes nothing.",
        check=lambda: _check_only_differences(
            bradley_terry_choice, lambda a, b: sp.exp(a) / (sp.exp(a) + sp.exp(b))
        ),
        # Wrong variant: Bradley–Terry on σ(r) instead of e^r, which is not shift-invariant.
        refute=lambda: _check_only_differences(
            lambda a, b: torch.sigmoid(a) / (torch.sigmoid(a) + torch.sigmoid(b)),
            lambda a, b: (1 / (1 + sp.exp(-a))) / (1 / (1 + sp.exp(-a)) + 1 / (1 + sp.exp(-b))),
        ),
    ),
    Claim(
        id="step4.substituted",
        step=4,
        tex=r"p^*(y_w \succ y_l \mid x) = \sigma\Big(\beta \log \frac{\pi^*(y_w \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_w \mid x)} + \beta \log Z(x) - \beta \log \frac{\pi^*(y_l \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_l \mid x)} - \beta \log Z(x)\Big)",
        says="Substituting the reparameterised reward into Bradley–Terry gives the same "
        "preference probabilities.",
        check=lambda: _check_substituted(
            lambda star, ref, log_z, beta: implicit_reward(star, ref, beta) + beta * log_z
        ),
        # Wrong variant: the β in front of the log-ratio dropped.
        refute=lambda: _check_substituted(
            lambda star, ref, log_z, beta: torch.log(star / ref) + beta * log_z
        ),
    ),
    Claim(
        id="step4.z_cancels",
        step=4,
        tex=r"p^*(y_w \succ y_l \mid x) = \sigma\Big(\beta \log \frac{\pi^*(y_w \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_w \mid x)} - \beta \log \frac{\pi^*(y_l \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_l \mid x)}\Big)",
        says="β log Z(x) appears once with each sign and cancels: the preference depends only on "
        "the two policies.",
        check=lambda: _check_z_cancels(lambda h_w, h_l, log_z, beta: beta * h_w - beta * h_l),
        # Wrong variant: Z not cancelled — β log Z(x) kept on the preferred side only.
        refute=lambda: _check_z_cancels(
            lambda h_w, h_l, log_z, beta: beta * h_w + beta * log_z - beta * h_l
        ),
    ),
)

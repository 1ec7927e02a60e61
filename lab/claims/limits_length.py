"""Beyond the steps — where DPO breaks: the length exploit, and R-DPO's fix
(``lab.experiments.length``).

Labels that favour the longer answer by b per token, P(y1 ≻ y2) = σ(r1 − r2 + b(|y1| − |y2|)), are
Bradley–Terry on r + b|y|, and DPO fits exactly that: its answers grow longer than π_ref's. R-DPO
(Park et al. 2024) adds α(|y_w| − |y_l|) inside the sigmoid, the length term of the objective
E[r − α|y|] − β KL; with α = b the bias is explained away and the answers return to the unbiased
length.

The checks train on the lecture's π_ref (the warmed-up tiny GPT-2 scored on all 259 responses of
each prompt: about 5 s, transformers' import included, once per process) with a shorter run than
the experiment's (CHECK_STEPS), shared between the two claims.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from lab.claims.fixtures import pair_losses
from lab.claims.named import Binding, Named
from lab.claims.reading import joined, policy, symbols, tex_evidence
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import total_variation
from lab.core.length import length_regularised_loss
from lab.data.pairs import pair_distribution
from lab.experiments.length import (
    CONVERGED_TV,
    LengthWorld,
    biased_pair_weights,
    lecture_world,
    population_optimum,
    train_on_biased_labels,
)

CHECK_STEPS, CHECK_LEARNING_RATE = 300, 0.3
BETA, BIAS = 0.1, 1.0  # the lecture's default β; the sweep's largest bias
FIX_TOLERANCE = 0.02  # tokens: R-DPO's mean length against the unbiased run's
LABEL_TOLERANCE = 1e-12  # the pair weights against the biased labelling written out
SEED = 8


@functools.cache
def _trained(bias: float, alpha: float | None, wrong_sign: bool = False) -> torch.Tensor:
    """π_θ trained at β = 0.1 on labels biased by ``bias``: DPO (``alpha`` None) or R-DPO, with
    the length term's sign flipped when ``wrong_sign``."""
    pair_loss = _minus_alpha if wrong_sign else length_regularised_loss
    return train_on_biased_labels(
        lecture_world(), bias, BETA, CHECK_STEPS, CHECK_LEARNING_RATE, alpha, pair_loss
    )


def _mean_lengths(world: LengthWorld, pi: torch.Tensor) -> torch.Tensor:
    return (pi * world.lengths).sum(-1)


def _labelling_error(world: LengthWorld, bias: float) -> float:
    """The pairs the runs train on against the biased labelling written out: draw (y1, y2) from
    π_ref, then y1 ≻ y2 with probability σ(r1 − r2 + b(|y1| − |y2|))."""
    q = pair_distribution(world.pi_ref)
    longer = world.lengths[:, None] - world.lengths[None, :]
    first_wins = torch.sigmoid(world.reward[:, :, None] - world.reward[:, None, :] + bias * longer)
    written = q * first_wins + q.transpose(-2, -1) * first_wins
    return (biased_pair_weights(world, bias) - written).abs().max().item()


def _length_binding(world: LengthWorld, pi_theta: torch.Tensor, label: str) -> Binding:
    values = {
        r"\pi_\theta": policy(pi_theta),
        r"\pi_{\mathrm{ref}}": policy(world.pi_ref),
        "|y|": Named(world.lengths, ("y",)),
    }
    variables = {"x": world.pi_ref.shape[0], "y": world.pi_ref.shape[1]}
    return Binding(variables, symbols(values), tolerance=1e-12, label=label)


def _check_exploit(reading: Node, bias: float) -> Evidence:
    """π_θ trained by DPO on labels biased by ``bias`` (b = 1 for the claim) against π_ref, read
    from the TeX with |y| each response's content tokens, prompt by prompt; the labels are the
    biased ones, and the run has reached its loss's optimum (π* of r + b|y|)."""
    world = lecture_world()
    pi_theta = _trained(bias, None)
    label_error = _labelling_error(world, bias)
    tv = total_variation(pi_theta, population_optimum(world, bias, 0.0, BETA)).max().item()
    lengths = _mean_lengths(world, pi_theta)
    lab = Evidence(
        {
            "trained_mean_length": lengths.mean().item(),
            "reference_mean_length": _mean_lengths(world, world.pi_ref).mean().item(),
            "label_error": label_error,
            "tv_to_optimum": tv,
        },
        0.0,
        label_error <= LABEL_TOLERANCE and tv <= CONVERGED_TV,
        note=f"DPO on pairs from π_ref labelled σ(r1 − r2 + b(|y1| − |y2|)), b = {bias:g}, "
        f"β = {BETA:g}, {CHECK_STEPS} Adam steps",
        bounds={"label_error": LABEL_TOLERANCE, "tv_to_optimum": CONVERGED_TV},
    )
    binding = _length_binding(world, pi_theta, f"b = {bias:g}, β = {BETA:g}")
    return joined(lab, tex_evidence(reading, [binding]))


def _minus_alpha(pc, pr, rc, rr, beta, chosen_lengths, rejected_lengths, alpha):
    """Wrong: the length term with a minus, −log σ(β·h − α(|y_w| − |y_l|))."""
    return length_regularised_loss(pc, pr, rc, rr, beta, chosen_lengths, rejected_lengths, -alpha)


def _loss_binding(world: LengthWorld, pi_theta: torch.Tensor, beta: float, alpha: float, pair_loss):
    """The loss of every pair (x, y_w, y_l) for each π_θ of a stack (probe, x, y), as
    ``pair_loss`` computes it, with β, α and the lengths it was given."""
    lengths = world.lengths

    def loss_fn(pc, pr, rc, rr, beta):  # every pair at once: (probe, x, y_w, y_l)
        chosen = torch.broadcast_to(lengths[:, None], pc.shape)
        rejected = torch.broadcast_to(lengths[None, :], pc.shape)
        return pair_loss(pc, pr, rc, rr, beta, chosen, rejected, alpha)

    losses = pair_losses(pi_theta.log(), world.pi_ref.log(), beta, loss_fn)
    values = {
        r"\pi_\theta": policy(pi_theta, "probe"),
        r"\pi_{\mathrm{ref}}": policy(world.pi_ref),
        r"\mathcal{L}_{\text{R-DPO}}": Named(losses, ("probe", "x", "y_{w}", "y_{l}")),
        r"\beta": Named(torch.tensor(beta, dtype=torch.float64)),
        r"\alpha": Named(torch.tensor(alpha, dtype=torch.float64)),
        "|y_{w}|": Named(lengths, ("y_{w}",)),
        "|y_{l}|": Named(lengths, ("y_{l}",)),
    }
    k = world.pi_ref.shape[1]
    variables = symbols({"x": world.pi_ref.shape[0], "y_w": k, "y_l": k})
    return Binding(
        variables, symbols(values), tolerance=1e-10, label=f"β = {beta:g}, α = {alpha:g}"
    )


def _probes(world: LengthWorld, pi_theta: torch.Tensor) -> torch.Tensor:
    """The trained π_θ and three random policies around π_ref. Shape: (4, P, K)."""
    generator = torch.Generator().manual_seed(SEED)
    noise = torch.randn((3, *world.pi_ref.shape), generator=generator, dtype=torch.float64)
    return torch.cat([pi_theta[None], torch.softmax(world.pi_ref.log() + 2 * noise, dim=-1)])


def _check_fix(reading: Node, pair_loss: Callable, wrong_sign: bool) -> Evidence:
    """R-DPO with α = b = 1 on the biased labels, trained with ``pair_loss``: its mean length
    must come back within FIX_TOLERANCE of DPO's on unbiased labels (where DPO on the same biased
    labels ends far above it); and the loss on screen, read from the TeX for every pair of both
    prompts, must equal ``pair_loss`` for the trained π_θ and random ones, at two (β, α)."""
    world = lecture_world()
    fixed = _trained(BIAS, BIAS, wrong_sign)
    unbiased = _mean_lengths(world, _trained(0.0, None)).mean().item()
    exploited = _mean_lengths(world, _trained(BIAS, None)).mean().item()
    length = _mean_lengths(world, fixed).mean().item()
    gap = abs(length - unbiased)
    lab = Evidence(
        {
            "rdpo_length_gap": gap,
            "rdpo_mean_length": length,
            "unbiased_dpo_mean_length": unbiased,
            "biased_dpo_mean_length": exploited,
        },
        FIX_TOLERANCE,
        gap <= FIX_TOLERANCE,
        note=f"R-DPO (α = b = {BIAS:g}) and DPO on the same biased labels, β = {BETA:g}, "
        f"{CHECK_STEPS} Adam steps; the gap is to DPO on unbiased labels",
    )
    bindings = [
        _loss_binding(world, _probes(world, fixed), BETA, BIAS, pair_loss),
        _loss_binding(world, _probes(world, fixed), 0.3, 0.75, pair_loss),
    ]
    return joined(lab, tex_evidence(reading, bindings))


CLAIMS = (
    Claim(
        id="limits.length_exploit",
        step=8,
        tex=r"\mathbb{E}_{y \sim \pi_\theta}[|y|] \ge \mathbb{E}_{y \sim \pi_{\mathrm{ref}}}[|y|]",
        says="When the labels favour the longer answer, DPO learns to answer at greater length "
        "than the reference model.",
        check=lambda tex: _check_exploit(tex, BIAS),
        # Wrong variant: the same DPO run on unbiased labels, where it shortens the answers.
        refute=lambda tex: _check_exploit(tex, 0.0),
    ),
    Claim(
        id="limits.length_fix",
        step=8,
        tex=r"\mathcal{L}_{\text{R-DPO}} = -\log \sigma\Big(\beta \log "
        r"\frac{\pi_\theta(y_w \mid x)}{\pi_{\mathrm{ref}}(y_w \mid x)} - \beta \log "
        r"\frac{\pi_\theta(y_l \mid x)}{\pi_{\mathrm{ref}}(y_l \mid x)} "
        r"+ \alpha \big(|y_w| - |y_l|\big)\Big)",
        says="R-DPO adds alpha times the length difference inside the sigmoid, so the labels' "
        "taste for length is explained away and the answers return to their unbiased length.",
        check=lambda tex: _check_fix(tex, length_regularised_loss, wrong_sign=False),
        # Wrong variant: the length term with a minus, which makes the answers longer still.
        refute=lambda tex: _check_fix(tex, _minus_alpha, wrong_sign=True),
    ),
)

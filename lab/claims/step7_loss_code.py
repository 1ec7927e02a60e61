"""Beyond the five steps — the DPO loss as code: the DPO paper's eight-line PyTorch sketch.

The claim's text is the sketch itself (``language="python"``), typeset on screen line by line and
run by the check (``lab.claims.code``): its losses, its implicit rewards and the gradient of its
loss with respect to the policy's log-probs must equal the lab's ``dpo_loss`` on a random batch
of responses in float64, paired by index arrays as the sketch pairs them. The refutation holds
the sketch to a plausible misreading of the loss, one that leaves π_ref out (every reference
log-prob 0), which it must not match.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import torch

from lab.claims.registry import Claim, Evidence
from lab.core.dpo import dpo_loss

TOLERANCE = 1e-12
PAIRS = 6
BETAS = (0.1, 0.5)
SEED = 7

# The sketch of the DPO paper (Rafailov et al., 2023, appendix B): a batch of responses' log-probs,
# and index arrays that say which responses form each preference pair. Its names are shortened
# (pi_yw for pi_yw_logps, pi_logratio for pi_logratios) so that each line fits the screen at a
# readable size; its eight lines and what each computes are the paper's.
SKETCH = """\
def dpo_loss(pi_logps, ref_logps, yw_idxs, yl_idxs, beta):
    pi_yw, pi_yl = pi_logps[yw_idxs], pi_logps[yl_idxs]
    ref_yw, ref_yl = ref_logps[yw_idxs], ref_logps[yl_idxs]
    pi_logratio = pi_yw - pi_yl
    ref_logratio = ref_yw - ref_yl
    losses = -F.logsigmoid(beta * (pi_logratio - ref_logratio))
    rewards = beta * (pi_logps - ref_logps).detach()
    return losses, rewards"""


def _batch(beta: float) -> dict[str, torch.Tensor]:
    """2·PAIRS responses' log-probs under π_θ and π_ref, and a random pairing of them."""
    generator = torch.Generator().manual_seed(SEED + int(100 * beta))
    order = torch.randperm(2 * PAIRS, generator=generator)
    return {
        "pi_logps": -30 * torch.rand(2 * PAIRS, generator=generator, dtype=torch.float64),
        "ref_logps": -30 * torch.rand(2 * PAIRS, generator=generator, dtype=torch.float64),
        "yw_idxs": order[:PAIRS],
        "yl_idxs": order[PAIRS:],
    }


def _errors(sketch: Callable, lab_loss: Callable, beta: float) -> dict[str, float]:
    """The sketch's losses, rewards and ∂(Σ losses)/∂ log π_θ against ``lab_loss``'s."""
    batch = _batch(beta)
    ours = batch["pi_logps"].clone().requires_grad_(True)
    theirs = batch["pi_logps"].clone().requires_grad_(True)
    losses, rewards = sketch(ours, batch["ref_logps"], batch["yw_idxs"], batch["yl_idxs"], beta)
    chosen, rejected, ref = batch["yw_idxs"], batch["yl_idxs"], batch["ref_logps"]
    want, chosen_rewards, rejected_rewards = lab_loss(
        theirs[chosen], theirs[rejected], ref[chosen], ref[rejected], beta
    )
    losses.sum().backward()
    want.sum().backward()
    reward_error = max(
        (rewards[chosen] - chosen_rewards).abs().max().item(),
        (rewards[rejected] - rejected_rewards).abs().max().item(),
    )
    return {
        "max_abs_loss_error": (losses - want).abs().max().item(),
        "max_abs_reward_error": reward_error,
        "max_abs_gradient_error": (ours.grad - theirs.grad).abs().max().item(),
    }


def _check_sketch(reading: MappingProxyType, lab_loss: Callable) -> Evidence:
    if "dpo_loss" not in reading:
        return Evidence({}, TOLERANCE, False, note="the code defines no dpo_loss")
    errors = [_errors(reading["dpo_loss"], lab_loss, beta) for beta in BETAS]
    measured = {name: max(e[name] for e in errors) for name in errors[0]}
    return Evidence(
        measured,
        TOLERANCE,
        max(measured.values()) <= TOLERANCE,
        note=f"the sketch vs the lab's dpo_loss: {PAIRS} pairs, β in {BETAS}, float64",
        bounds=dict.fromkeys(measured, TOLERANCE),
    )


def _without_reference(chosen, rejected, ref_chosen, ref_rejected, beta):
    """Wrong: the loss with π_ref left out, as if only the policy's log-ratio mattered."""
    zero = torch.zeros_like(ref_chosen)
    return dpo_loss(chosen, rejected, zero, zero, beta)


CLAIMS = (
    Claim(
        id="step7.loss_as_code",
        step=7,
        tex=SKETCH,
        language="python",
        says="Eight lines of PyTorch compute the DPO loss from the four log-probs of each pair.",
        check=lambda code: _check_sketch(code, dpo_loss),
        refute=lambda code: _check_sketch(code, _without_reference),
    ),
)

"""DPO's length exploit and its fix: the length-regularised DPO loss (R-DPO; Park et al. 2024,
"Disentangling Length from Quality in Direct Preference Optimization"):

    L_R = −log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l) + α (|y_w| − |y_l|))

|y| is a response's length in tokens. R-DPO is DPO derived for the objective with a length
penalty, max E_π[r − α|y|] − β KL(π ‖ π_ref): its optimum gives r = β log π*/π_ref + α|y| + β log Z,
and Bradley–Terry on that reward is the loss above. The length term enters with a PLUS: a pair
whose chosen answer is longer is already explained by α per token, so the policy need not learn
"longer is better" to fit it. When the labels favour longer answers by b per token,
P(y1 ≻ y2) = σ(r(y1) − r(y2) + b(|y1| − |y2|)), DPO's implicit reward fits r + b|y| (its policy
grows longer); R-DPO's fits r + (b − α)|y|, which is r at α = b. With −α instead (the sign slip)
it fits r + (b + α)|y|: longer still.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lab.core.dpo import dpo_loss


def length_regularised_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    beta: float,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    alpha: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """R-DPO's loss per pair: ``dpo_loss``'s arguments and returns, plus the two responses'
    lengths |y_w|, |y_l| (tokens; shape (batch_size,)) and the length weight α.

    Returns (losses, chosen_rewards, rejected_rewards), each of shape (batch_size,): the loss
    −log σ(β·h + α(|y_w| − |y_l|)), h the difference of the two log-ratios, and the detached
    implicit rewards β·log π_θ/π_ref (the length term is not part of them). α = 0 is DPO.

    Raises ValueError as ``dpo_loss`` does, for an α that is not finite, and for lengths that are
    not finite or not of the log-probs' shape.
    """
    if not math.isfinite(float(alpha)):
        raise ValueError(f"alpha must be finite, got {alpha}")
    _, chosen_rewards, rejected_rewards = dpo_loss(  # validates β and the log-probs
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    for name, lengths in (
        ("chosen_lengths", chosen_lengths),
        ("rejected_lengths", rejected_lengths),
    ):
        if lengths.shape != policy_chosen_logps.shape:
            raise ValueError(
                f"{name} must have the log-probs' shape {tuple(policy_chosen_logps.shape)}, "
                f"got {tuple(lengths.shape)}"
            )
        if not bool(torch.isfinite(lengths).all()):
            raise ValueError(f"{name} must be finite")
    dtype = chosen_rewards.dtype  # float32 at least, as dpo_loss computes
    log_ratio_chosen = policy_chosen_logps.to(dtype) - reference_chosen_logps.to(dtype)
    log_ratio_rejected = policy_rejected_logps.to(dtype) - reference_rejected_logps.to(dtype)
    length_margin = float(alpha) * (chosen_lengths.to(dtype) - rejected_lengths.to(dtype))
    losses = -F.logsigmoid(beta * (log_ratio_chosen - log_ratio_rejected) + length_margin)
    return losses, chosen_rewards, rejected_rewards

"""Step 5 — the DPO loss (DPO paper, eq. 7) and its gradient weight (eq. 8).

    L_DPO = −log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l))

Conventions follow the reference implementations (eric-mitchell/direct-preference-optimization,
``trainers.dpo_loss``): inputs are summed sequence log-probs, one per pair; the implicit rewards
β·(log π_θ − log π_ref) are returned detached, for logging.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The DPO loss for a batch of preference pairs.

    Args:
        policy_chosen_logps: log π_θ(y_w | x). Shape: (batch_size,)
        policy_rejected_logps: log π_θ(y_l | x). Shape: (batch_size,)
        reference_chosen_logps: log π_ref(y_w | x). Shape: (batch_size,)
        reference_rejected_logps: log π_ref(y_l | x). Shape: (batch_size,)
        beta: the KL strength β > 0.

    Returns:
        (losses, chosen_rewards, rejected_rewards), each of shape (batch_size,): the per-pair loss
        −log σ(β·h) with h the difference of log-ratios, and the detached implicit rewards
        β·log π_θ/π_ref of the chosen and of the rejected response.
    """
    pi_logratios = policy_chosen_logps - policy_rejected_logps
    ref_logratios = reference_chosen_logps - reference_rejected_logps
    logits = pi_logratios - ref_logratios
    # −log σ(z) = softplus(−z): finite for |z| up to float range, where log(sigmoid(z)) gives −inf.
    losses = F.softplus(-beta * logits)
    chosen_rewards = beta * (policy_chosen_logps - reference_chosen_logps).detach()
    rejected_rewards = beta * (policy_rejected_logps - reference_rejected_logps).detach()
    return losses, chosen_rewards, rejected_rewards


def gradient_weight(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """σ(r̂_l − r̂_w): how strongly each pair pulls on the policy (DPO paper, eq. 8).

    Large when the implicit reward ranks the rejected response above the chosen one. Same argument
    shapes as ``dpo_loss``; returns shape (batch_size,).
    """
    chosen_rewards = beta * (policy_chosen_logps - reference_chosen_logps)
    rejected_rewards = beta * (policy_rejected_logps - reference_rejected_logps)
    return torch.sigmoid(rejected_rewards - chosen_rewards).detach()

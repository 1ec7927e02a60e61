"""The DPO loss over a weighted set of pairs, and the metrics a TRL user already reads.

Both trainers come here with their pairs' log-probs: the tabular one reads them off its table, the
transformer one gets them from one concatenated forward pass. The weights sum to 1, so the loss is
the expected DPO loss (population pair weights) or the mean over N sampled pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.core.dpo import dpo_loss

# TRL's DPOTrainer logs these names; the lab's reports use them too.
METRIC_NAMES = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
)

LossFn = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def weighted_dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    weight: torch.Tensor,
    beta: float,
    loss_fn: LossFn = dpo_loss,
    with_metrics: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Σ_p weight_p · L(p) and its metrics (an empty dict without ``with_metrics``).

    Args:
        policy_chosen_logps … reference_rejected_logps: as ``dpo_loss``. Shape: (P,)
        weight: each pair's weight, summing to 1. Shape: (P,)
        loss_fn: a per-pair loss with ``dpo_loss``'s signature and returns.

    Returns:
        (loss, metrics): the differentiable scalar, and the weighted means of the loss, of the
        implicit rewards ("rewards/chosen", "rewards/rejected"), of their difference
        ("rewards/margins"), of the pairs ranked right ("rewards/accuracies") and of the policy's
        log-probs ("logps/chosen", "logps/rejected").
    """
    losses, chosen_rewards, rejected_rewards = loss_fn(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    weight = weight.to(losses.dtype)
    loss = (weight * losses).sum()
    if not with_metrics:
        return loss, {}

    def mean(values: torch.Tensor) -> torch.Tensor:
        return (weight * values.detach().to(weight.dtype)).sum()

    summaries = torch.stack(
        [
            loss.detach(),
            mean(chosen_rewards),
            mean(rejected_rewards),
            mean(chosen_rewards - rejected_rewards),
            mean((chosen_rewards > rejected_rewards).to(weight.dtype)),
            mean(policy_chosen_logps),
            mean(policy_rejected_logps),
        ]
    )
    # One transfer to Python for all of them (on a GPU, each .item() would wait for the device).
    return loss, dict(zip(METRIC_NAMES, summaries.tolist(), strict=True))

"""R-DPO's loss (``lab.core.length``) as the tabular trainer's ``loss_fn``.

The trainer hands its loss the pairs' log-probs only, in the order of ``pair_indices(weights)``;
this factory looks up each pair's two lengths in that same order, once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.core.length import length_regularised_loss
from lab.training.tabular import pair_indices
from lab.training.weighted_loss import LossFn


def length_regularised_pairs(
    weights: torch.Tensor,
    lengths: torch.Tensor,
    alpha: float,
    pair_loss: Callable = length_regularised_loss,
) -> LossFn:
    """A loss with ``dpo_loss``'s signature for ``train_tabular(…, weights, …)``: ``pair_loss``
    (R-DPO's, by default) with each pair's |y_w| and |y_l| and ``alpha`` filled in.

    Shapes: weights (P, K, K), the pair weights the trainer is given; lengths (K,) or (P, K), each
    response's length in tokens."""
    x, w, l = pair_indices(weights)  # noqa: E741
    table = lengths.expand(weights.shape[:-1])
    chosen, rejected = table[x, w], table[x, l]

    def loss_fn(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
        if policy_chosen.shape != chosen.shape:
            raise ValueError(
                f"the loss was given {policy_chosen.shape[0]} pairs; the weights it was built "
                f"for hold {chosen.shape[0]}"
            )
        device = policy_chosen.device
        return pair_loss(
            policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta,
            chosen.to(device), rejected.to(device), alpha,
        )  # fmt: skip

    return loss_fn

"""dpo_loss and gradient_weight beyond the registered claims: extremes, dtypes, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from lab import dpo_loss, gradient_weight


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_ratios_of_1e4_give_finite_losses_and_gradients(dtype: torch.dtype) -> None:
    policy_chosen = torch.tensor([0.0, -1e4, 0.0], dtype=dtype, requires_grad=True)
    policy_rejected = torch.tensor([-1e4, 0.0, 0.0], dtype=dtype, requires_grad=True)
    reference = torch.zeros(3, dtype=dtype)
    losses, chosen, rejected = dpo_loss(policy_chosen, policy_rejected, reference, reference, 0.5)
    losses.sum().backward()
    assert torch.isfinite(losses).all()
    assert torch.isfinite(policy_chosen.grad).all() and torch.isfinite(policy_rejected.grad).all()
    # h = +1e4: the pair is won, loss ≈ 0; h = −1e4: loss ≈ β·1e4
    assert losses[0].item() == pytest.approx(0.0, abs=1e-30)
    assert losses[1].item() == pytest.approx(0.5e4, rel=1e-6)
    assert losses[2].item() == pytest.approx(math.log(2), rel=1e-6)
    assert chosen.tolist() == pytest.approx([0.0, -0.5e4, 0.0])
    assert not chosen.requires_grad and not rejected.requires_grad


def test_the_loss_is_the_logistic_loss_of_the_log_ratio_difference() -> None:
    pc, pr, rc, rr = (torch.tensor([v], dtype=torch.float64) for v in (-1.0, -2.5, -1.5, -1.0))
    beta = 0.7
    h = (-1.0 - -1.5) - (-2.5 - -1.0)
    losses, _, _ = dpo_loss(pc, pr, rc, rr, beta)
    assert losses.item() == pytest.approx(math.log1p(math.exp(-beta * h)), rel=1e-14)


def test_gradient_weight_is_large_where_the_loser_is_ranked_higher() -> None:
    reference = torch.zeros(2, dtype=torch.float64)
    chosen = torch.tensor([-3.0, -0.1], dtype=torch.float64)  # pair 0: the winner is unlikely
    rejected = torch.tensor([-0.1, -3.0], dtype=torch.float64)
    weight = gradient_weight(chosen, rejected, reference, reference, 1.0)
    assert weight[0] > 0.9 and weight[1] < 0.1


@pytest.mark.parametrize("beta", [0.0, -0.5, float("nan"), float("inf")])
def test_a_bad_beta_is_rejected(beta: float) -> None:
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="beta must be"):
        dpo_loss(x, x, x, x, beta)
    with pytest.raises(ValueError, match="beta must be"):
        gradient_weight(x, x, x, x, beta)


def test_non_finite_log_probs_and_mismatched_shapes_are_named() -> None:
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="reference_rejected_logps must be finite"):
        dpo_loss(x, x, x, torch.tensor([0.0, float("nan"), 0.0]), 0.1)
    with pytest.raises(ValueError, match=r"policy_rejected_logps \(4,\)"):
        dpo_loss(x, torch.zeros(4), x, x, 0.1)

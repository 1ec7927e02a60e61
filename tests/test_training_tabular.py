"""The tabular trainer: it starts at π_ref, its weighted loss is the mean loss, and on the
population it reaches π*."""

from __future__ import annotations

import pytest
import torch

from lab import dpo_loss, optimal_policy
from lab.data.pairs import population_pair_weights, sample_pairs
from lab.training.tabular import TabularConfig, TabularPolicy, train_tabular, weighted_pair_loss
from lab.worlds.tabular import DTYPE, default_world, random_world


def test_the_policy_starts_at_the_reference() -> None:
    world = default_world()
    assert torch.allclose(TabularPolicy(world.pi_ref).probs(), world.pi_ref, atol=1e-15)


def test_weighted_loss_over_counts_is_the_mean_loss_over_the_pairs() -> None:
    world = random_world(2, 4, seed=1)
    pairs = sample_pairs(world.pi_ref, world.reward, 300, seed=1)
    policy = torch.log_softmax(torch.randn(world.pi_ref.shape, dtype=DTYPE), dim=-1)
    reference = world.pi_ref.log()
    weighted, metrics = weighted_pair_loss(
        policy, reference, pairs.weights(world.n_prompts, world.n_responses), beta=0.3
    )
    x, w, l = pairs.prompt, pairs.chosen, pairs.rejected  # noqa: E741
    losses, chosen, rejected = dpo_loss(
        policy[x, w], policy[x, l], reference[x, w], reference[x, l], 0.3
    )
    assert weighted.item() == pytest.approx(losses.mean().item(), rel=1e-12)
    assert metrics["rewards/accuracies"] == pytest.approx(
        (chosen > rejected).double().mean().item()
    )
    assert metrics["rewards/margins"] == pytest.approx((chosen - rejected).mean().item())


def test_population_dpo_reaches_the_optimum_of_a_small_random_world() -> None:
    world = random_world(2, 3, seed=4)
    star = optimal_policy(world.pi_ref, world.reward, 0.8)
    weights = population_pair_weights(world.pi_ref, world.reward)
    trained = train_tabular(world.pi_ref, weights, 0.8, TabularConfig(steps=400), target=star)
    assert (trained.policy - star).abs().max() < 1e-6
    errors = [error for _, error in trained.history]
    assert errors[-1] < errors[0] / 1e4, "the recorded error should fall"

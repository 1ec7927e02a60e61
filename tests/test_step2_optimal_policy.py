"""Step 2's functions beyond the registered claims: stability, broadcasting, bad input."""

from __future__ import annotations

import pytest
import torch

from lab import log_partition, optimal_policy
from lab.step2_optimal_policy import log_optimal_policy, maximise_objective
from lab.world import DTYPE, default_world, random_world


def test_optimal_policy_is_a_distribution_that_favours_high_reward() -> None:
    world = default_world()
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    assert torch.allclose(star.sum(-1), torch.ones(world.n_prompts, dtype=DTYPE))
    # reweighting by exp(r/β): the ratio π*/π_ref is ordered like the reward
    ratio_order = (star / world.pi_ref).argsort(dim=-1)
    assert torch.equal(ratio_order, world.reward.argsort(dim=-1))


def test_huge_reward_over_beta_neither_overflows_nor_gives_nan() -> None:
    pi_ref = torch.tensor([0.5, 0.3, 0.2], dtype=DTYPE)
    reward = torch.tensor([1e4, -1e4, 0.0], dtype=DTYPE)
    star = optimal_policy(pi_ref, reward, beta=1e-2)  # r/β = ±1e6
    assert torch.equal(star, torch.tensor([1.0, 0.0, 0.0], dtype=DTYPE))
    assert log_partition(pi_ref, reward, 1e-2).item() == pytest.approx(1e6 + torch.log(pi_ref[0]))


def test_zeros_in_the_reference_stay_zero() -> None:
    pi_ref = torch.tensor([0.0, 0.4, 0.6], dtype=DTYPE)
    star = optimal_policy(pi_ref, torch.tensor([5.0, 0.0, 1.0], dtype=DTYPE), beta=0.5)
    assert star[0] == 0 and torch.isclose(star.sum(), torch.tensor(1.0, dtype=DTYPE))
    assert not torch.isnan(log_optimal_policy(pi_ref, torch.zeros(3, dtype=DTYPE), 1.0)).any()


def test_leading_dimensions_broadcast() -> None:
    world = default_world()
    rewards = torch.stack([world.reward, 2 * world.reward])  # (2, prompts, responses)
    star = optimal_policy(world.pi_ref, rewards, 0.5)
    assert star.shape == (2, *world.pi_ref.shape)
    assert torch.allclose(star[1], optimal_policy(world.pi_ref, 2 * world.reward, 0.5))
    assert log_partition(world.pi_ref, rewards, 0.5).shape == (2, world.n_prompts)


def test_numerical_maximiser_finds_the_closed_form_of_a_random_world() -> None:
    world = random_world(2, 4, seed=11)
    numerical = maximise_objective(world.pi_ref, world.reward, beta=0.8)
    assert (numerical - optimal_policy(world.pi_ref, world.reward, 0.8)).abs().max() < 1e-9


def test_bad_input_is_rejected() -> None:
    pi_ref = torch.tensor([0.5, 0.5], dtype=DTYPE)
    with pytest.raises(ValueError, match="beta must be > 0"):
        optimal_policy(pi_ref, torch.zeros(2, dtype=DTYPE), beta=-0.1)
    with pytest.raises(ValueError, match="reward must be finite"):
        log_partition(pi_ref, torch.tensor([0.0, float("nan")], dtype=DTYPE), 1.0)
    with pytest.raises(ValueError, match="reward has shape"):
        optimal_policy(pi_ref, torch.zeros(3, dtype=DTYPE), 1.0)
    with pytest.raises(ValueError, match="needs π_ref > 0"):
        maximise_objective(torch.tensor([0.0, 1.0], dtype=DTYPE), torch.zeros(2), 1.0)

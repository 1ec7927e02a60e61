"""Step 4's functions, beyond the registered claims."""

from __future__ import annotations

import torch

from lab import bradley_terry_choice, preference_prob


def test_preference_prob_is_one_half_for_equal_rewards() -> None:
    rewards = torch.tensor([-3.0, 0.0, 7.5], dtype=torch.float64)
    assert torch.allclose(preference_prob(rewards, rewards), torch.full_like(rewards, 0.5))


def test_preference_probabilities_of_a_pair_sum_to_one() -> None:
    a = torch.tensor([1e3, -2.0, 0.3], dtype=torch.float64)
    b = torch.tensor([-1e3, 5.0, 0.1], dtype=torch.float64)
    total = preference_prob(a, b) + preference_prob(b, a)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-15)


def test_bradley_terry_choice_survives_huge_rewards() -> None:
    p = bradley_terry_choice(torch.tensor(1e4, dtype=torch.float64), torch.tensor(0.0))
    assert torch.isfinite(p) and p.item() == 1.0


def test_preference_prob_broadcasts() -> None:
    assert preference_prob(torch.zeros(3, 1), torch.zeros(1, 4)).shape == (3, 4)


def test_the_preference_from_the_two_policies_alone_matches_the_reward() -> None:
    """Step 4's punchline on a random world: no reward and no Z needed."""
    from lab import implicit_reward, optimal_policy
    from lab.world import random_world

    world = random_world(2, 4, seed=5)
    star = optimal_policy(world.pi_ref, world.reward, 0.4)
    r_hat = implicit_reward(star, world.pi_ref, 0.4)
    from_policies = preference_prob(r_hat[:, :, None], r_hat[:, None, :])
    from_reward = preference_prob(world.reward[:, :, None], world.reward[:, None, :])
    assert torch.allclose(from_policies, from_reward, atol=1e-14)

"""Step 3's implicit reward beyond the registered claims: what it recovers, and bad input."""

from __future__ import annotations

import pytest
import torch

from lab import implicit_reward, log_partition, optimal_policy
from lab.world import DTYPE, default_world, random_world


def test_implicit_reward_of_the_reference_is_zero() -> None:
    world = default_world()
    assert torch.equal(
        implicit_reward(world.pi_ref, world.pi_ref, 0.5), torch.zeros(3, 5, dtype=DTYPE)
    )


def test_implicit_reward_of_the_optimum_is_the_reward_minus_a_per_prompt_constant() -> None:
    world = random_world(4, 5, seed=2)
    star = optimal_policy(world.pi_ref, world.reward, 0.7)
    offset = world.reward - implicit_reward(star, world.pi_ref, 0.7)
    # the same number along every response of a prompt: β log Z(x)
    assert torch.allclose(offset, offset[:, :1].expand_as(offset), atol=1e-12)
    assert torch.allclose(offset[:, 0], 0.7 * log_partition(world.pi_ref, world.reward, 0.7))


def test_a_response_the_policy_never_gives_has_minus_infinite_implicit_reward() -> None:
    pi = torch.tensor([0.0, 1.0], dtype=DTYPE)
    value = implicit_reward(pi, torch.tensor([0.5, 0.5], dtype=DTYPE), 2.0)
    assert value[0] == float("-inf") and torch.isfinite(value[1])


def test_zeros_in_the_reference_are_rejected() -> None:
    with pytest.raises(ValueError, match="pi_ref is 0 where pi is positive"):
        implicit_reward(
            torch.tensor([0.5, 0.5], dtype=DTYPE), torch.tensor([0.0, 1.0], dtype=DTYPE), 1.0
        )
    with pytest.raises(ValueError, match="undefined"):
        implicit_reward(
            torch.tensor([0.0, 1.0], dtype=DTYPE), torch.tensor([0.0, 1.0], dtype=DTYPE), 1.0
        )
    with pytest.raises(ValueError, match="beta must be finite"):
        implicit_reward(
            torch.tensor([0.5, 0.5], dtype=DTYPE),
            torch.tensor([0.5, 0.5], dtype=DTYPE),
            float("nan"),
        )

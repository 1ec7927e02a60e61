"""The tabular worlds: the default "What is 2 + 2?" world, seeded random ones, bad input."""

from __future__ import annotations

import pytest
import torch

from lab.data.pairs import sample_pairs
from lab.worlds.tabular import DTYPE, World, default_world, random_world


def test_default_world_is_the_two_plus_two_example() -> None:
    world = default_world()
    assert world.prompts[0] == "What is 2 + 2?"
    assert {"4", "2 + 2 = 4", "5, trust me!", "22"} <= set(world.responses[0])
    assert world.n_prompts >= 2, "per-prompt constants need more than one prompt"
    names = world.responses[0]
    reward = dict(zip(names, world.reward[0].tolist(), strict=True))
    # correct beats wrong; concise beats verbose
    assert min(reward["4"], reward["2 + 2 = 4"]) > max(reward["22"], reward["5, trust me!"])
    assert reward["4"] > reward["2 + 2 = 4"]
    assert torch.allclose(world.pi_ref.sum(-1), torch.ones(world.n_prompts, dtype=DTYPE))


def test_random_worlds_are_seeded() -> None:
    a, b, c = random_world(3, 4, seed=7), random_world(3, 4, seed=7), random_world(3, 4, seed=8)
    assert torch.equal(a.pi_ref, b.pi_ref) and torch.equal(a.reward, b.reward)
    assert not torch.equal(a.reward, c.reward)
    assert a.pi_ref.shape == (3, 4) and a.responses[2] == ("y0", "y1", "y2", "y3")


def test_a_world_rejects_a_reference_that_is_not_a_distribution() -> None:
    world = default_world()
    with pytest.raises(ValueError, match=r"pi_ref must sum to 1.*off by \+0\.1"):
        World(world.prompts, world.responses, world.pi_ref * 1.1, world.reward, 1.0)
    with pytest.raises(ValueError, match="beta must be > 0"):
        World(world.prompts, world.responses, world.pi_ref, world.reward, 0.0)
    with pytest.raises(ValueError, match="n_pairs"):
        sample_pairs(world.pi_ref, world.reward, 0, seed=0)

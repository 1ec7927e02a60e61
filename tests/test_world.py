"""The toy worlds and the preference data drawn from them."""

from __future__ import annotations

import pytest
import torch

from lab.step4_bradley_terry import preference_prob
from lab.world import (
    DTYPE,
    World,
    default_world,
    empirical_pair_weights,
    pair_distribution,
    population_pair_weights,
    random_world,
    sample_preference_pairs,
)


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


def test_pair_distribution_is_distinct_reference_draws_with_uniform_prompts() -> None:
    world = random_world(2, 4, seed=1)
    q = pair_distribution(world)
    assert torch.allclose(q.sum(), torch.tensor(1.0, dtype=DTYPE))
    assert torch.all(torch.diagonal(q, dim1=-2, dim2=-1) == 0)
    assert torch.allclose(q.sum(dim=(-2, -1)), torch.full((2,), 0.5, dtype=DTYPE))
    # off the diagonal, proportional to π_ref(y1) π_ref(y2)
    ratio = q[0, 0, 1] / q[0, 2, 3]
    expected = world.pi_ref[0, 0] * world.pi_ref[0, 1] / (world.pi_ref[0, 2] * world.pi_ref[0, 3])
    assert torch.isclose(ratio, expected)


def test_population_weights_follow_bradley_terry() -> None:
    world = default_world()
    weights = population_pair_weights(world)
    assert torch.isclose(weights.sum(), torch.tensor(1.0, dtype=DTYPE))
    # the share of a pair's mass on "a ≻ b" is σ(r_a − r_b)
    share = weights[0, 0, 3] / (weights[0, 0, 3] + weights[0, 3, 0])
    assert torch.isclose(share, preference_prob(world.reward[0, 0], world.reward[0, 3]))


def test_sampled_pairs_match_the_population_weights() -> None:
    world = default_world()
    pairs = sample_preference_pairs(world, 200_000, seed=3)
    empirical = empirical_pair_weights(world, pairs)
    expected = population_pair_weights(world)
    standard_error = (expected * (1 - expected) / len(pairs)).sqrt().clamp_min(1e-12)
    assert ((empirical - expected).abs() / standard_error).max() < 5
    assert torch.all(pairs.chosen != pairs.rejected)


def test_sampling_is_seeded_and_records_use_the_hugging_face_format() -> None:
    world = default_world()
    a, b = sample_preference_pairs(world, 50, seed=0), sample_preference_pairs(world, 50, seed=0)
    assert torch.equal(a.chosen, b.chosen) and torch.equal(a.rejected, b.rejected)
    record = a.records(world)[0]
    assert set(record) == {"prompt", "chosen", "rejected"}
    assert record["prompt"] in world.prompts and record["chosen"] != record["rejected"]
    assert len(a) == 50 and a.counts(world.n_prompts, world.n_responses).sum() == 50


def test_a_world_rejects_a_reference_that_is_not_a_distribution() -> None:
    world = default_world()
    with pytest.raises(ValueError, match=r"pi_ref must sum to 1.*off by \+0\.1"):
        World(world.prompts, world.responses, world.pi_ref * 1.1, world.reward, 1.0)
    with pytest.raises(ValueError, match="beta must be > 0"):
        World(world.prompts, world.responses, world.pi_ref, world.reward, 0.0)
    with pytest.raises(ValueError, match="n_pairs"):
        sample_preference_pairs(world, 0, seed=0)

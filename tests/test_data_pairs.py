"""Preference pairs drawn from a world: the pair distribution, population and sampled weights, the
Hugging Face records, and when the Bradley–Terry MLE exists."""

from __future__ import annotations

import torch

from lab.core.dpo import preference_prob
from lab.data.pairs import (
    mle_exists,
    pair_distribution,
    population_pair_weights,
    sample_pairs,
)
from lab.worlds.tabular import DTYPE, default_world, random_world


def test_pair_distribution_is_distinct_reference_draws_with_uniform_prompts() -> None:
    world = random_world(2, 4, seed=1)
    q = pair_distribution(world.pi_ref)
    assert torch.allclose(q.sum(), torch.tensor(1.0, dtype=DTYPE))
    assert torch.all(torch.diagonal(q, dim1=-2, dim2=-1) == 0)
    assert torch.allclose(q.sum(dim=(-2, -1)), torch.full((2,), 0.5, dtype=DTYPE))
    # off the diagonal, proportional to π_ref(y1) π_ref(y2)
    ratio = q[0, 0, 1] / q[0, 2, 3]
    expected = world.pi_ref[0, 0] * world.pi_ref[0, 1] / (world.pi_ref[0, 2] * world.pi_ref[0, 3])
    assert torch.isclose(ratio, expected)


def test_population_weights_follow_bradley_terry() -> None:
    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    assert torch.isclose(weights.sum(), torch.tensor(1.0, dtype=DTYPE))
    # the share of a pair's mass on "a ≻ b" is σ(r_a − r_b)
    share = weights[0, 0, 3] / (weights[0, 0, 3] + weights[0, 3, 0])
    assert torch.isclose(share, preference_prob(world.reward[0, 0], world.reward[0, 3]))


def test_sampled_pairs_match_the_population_weights() -> None:
    world = default_world()
    pairs = sample_pairs(world.pi_ref, world.reward, 200_000, seed=3)
    empirical = pairs.weights(world.n_prompts, world.n_responses)
    expected = population_pair_weights(world.pi_ref, world.reward)
    standard_error = (expected * (1 - expected) / len(pairs)).sqrt().clamp_min(1e-12)
    assert ((empirical - expected).abs() / standard_error).max() < 5
    assert torch.all(pairs.chosen != pairs.rejected)


def test_sampling_is_seeded_and_records_use_the_hugging_face_format() -> None:
    world = default_world()
    a, b = (
        sample_pairs(world.pi_ref, world.reward, 50, seed=0),
        sample_pairs(world.pi_ref, world.reward, 50, seed=0),
    )
    assert torch.equal(a.chosen, b.chosen) and torch.equal(a.rejected, b.rejected)
    record = a.records(world)[0]
    assert set(record) == {"prompt", "chosen", "rejected"}
    assert record["prompt"] in world.prompts and record["chosen"] != record["rejected"]
    assert len(a) == 50 and a.counts(world.n_prompts, world.n_responses).sum() == 50


def test_mle_existence_needs_every_response_to_win_and_lose() -> None:
    weights = torch.zeros(2, 3, 3, dtype=DTYPE)
    for a, b in [(0, 1), (1, 2), (2, 0)]:  # prompt 0: a cycle, strongly connected
        weights[0, a, b] = 1
    weights[1, 0, 1] = weights[1, 1, 0] = weights[1, 0, 2] = 1  # prompt 1: response 2 never wins
    assert mle_exists(weights).tolist() == [True, False]

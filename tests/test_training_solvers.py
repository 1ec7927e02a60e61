"""The solvers that know nothing of the closed form: J's maximiser and the reward-model pipeline."""

from __future__ import annotations

import torch

from lab import optimal_policy
from lab.data.pairs import mle_exists, population_pair_weights, sample_pairs
from lab.training.solvers import fit_reward_model, maximise_objective, rlhf_policy
from lab.training.tabular import TabularConfig, train_tabular
from lab.worlds.tabular import random_world


def test_numerical_maximiser_finds_the_closed_form_of_a_random_world() -> None:
    world = random_world(2, 4, seed=11)
    numerical = maximise_objective(world.pi_ref, world.reward, beta=0.8)
    assert (numerical - optimal_policy(world.pi_ref, world.reward, 0.8)).abs().max() < 1e-9


def test_the_reward_model_recovers_the_reward_up_to_a_per_prompt_shift() -> None:
    world = random_world(2, 4, seed=6)
    weights = population_pair_weights(world.pi_ref, world.reward)
    fitted = fit_reward_model(weights, TabularConfig(steps=400))
    offset = fitted - world.reward
    assert torch.allclose(offset, offset[:, :1].expand_as(offset), atol=1e-6)


def test_dpo_and_the_rlhf_pipeline_agree_on_finite_samples() -> None:
    world = random_world(2, 4, seed=2)
    weights = sample_pairs(world.pi_ref, world.reward, 400, seed=0).weights(
        world.n_prompts, world.n_responses
    )
    assert mle_exists(weights).all()
    config = TabularConfig(steps=500)
    dpo = train_tabular(world.pi_ref, weights, 0.6, config).policy
    rlhf, _ = rlhf_policy(world.pi_ref, weights, 0.6, config)
    assert (dpo - rlhf).abs().max() < 1e-6
    assert (dpo - optimal_policy(world.pi_ref, world.reward, 0.6)).abs().max() > 1e-3

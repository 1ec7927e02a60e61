"""Training on tabular worlds: DPO, the reward-model pipeline, and their comparison with π*."""

from __future__ import annotations

import pytest
import torch

from lab import dpo_loss, optimal_policy
from lab.train import (
    TabularPolicy,
    fit_reward_model,
    mle_exists,
    pick_device,
    rlhf_policy,
    run,
    train_dpo,
    weighted_pair_loss,
)
from lab.world import (
    DTYPE,
    default_world,
    empirical_pair_weights,
    population_pair_weights,
    random_world,
    sample_preference_pairs,
)


def test_the_policy_starts_at_the_reference() -> None:
    world = default_world()
    assert torch.allclose(TabularPolicy(world.pi_ref).probs(), world.pi_ref, atol=1e-15)


def test_weighted_loss_over_counts_is_the_mean_loss_over_the_pairs() -> None:
    world = random_world(2, 4, seed=1)
    pairs = sample_preference_pairs(world, 300, seed=1)
    policy = torch.log_softmax(torch.randn(world.pi_ref.shape, dtype=DTYPE), dim=-1)
    reference = world.pi_ref.log()
    weighted, metrics = weighted_pair_loss(
        policy, reference, empirical_pair_weights(world, pairs), beta=0.3
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
    trained = train_dpo(world.pi_ref, population_pair_weights(world), 0.8, steps=400, target=star)
    assert (trained.policy - star).abs().max() < 1e-6
    errors = [error for _, error in trained.history]
    assert errors[-1] < errors[0] / 1e4, "the recorded error should fall"


def test_the_reward_model_recovers_the_reward_up_to_a_per_prompt_shift() -> None:
    world = random_world(2, 4, seed=6)
    fitted = fit_reward_model(population_pair_weights(world), steps=400)
    offset = fitted - world.reward
    assert torch.allclose(offset, offset[:, :1].expand_as(offset), atol=1e-6)


def test_dpo_and_the_rlhf_pipeline_agree_on_finite_samples() -> None:
    world = random_world(2, 4, seed=2)
    weights = empirical_pair_weights(world, sample_preference_pairs(world, 400, seed=0))
    assert mle_exists(weights).all()
    dpo = train_dpo(world.pi_ref, weights, 0.6, steps=500).policy
    rlhf, _ = rlhf_policy(world.pi_ref, weights, 0.6, steps=500)
    assert (dpo - rlhf).abs().max() < 1e-6
    assert (dpo - optimal_policy(world.pi_ref, world.reward, 0.6)).abs().max() > 1e-3


def test_mle_existence_needs_every_response_to_win_and_lose() -> None:
    weights = torch.zeros(2, 3, 3, dtype=DTYPE)
    for a, b in [(0, 1), (1, 2), (2, 0)]:  # prompt 0: a cycle, strongly connected
        weights[0, a, b] = 1
    weights[1, 0, 1] = weights[1, 1, 0] = weights[1, 0, 2] = 1  # prompt 1: response 2 never wins
    assert mle_exists(weights).tolist() == [True, False]


def test_a_run_is_reproducible_and_reports_every_figure() -> None:
    world = random_world(2, 3, seed=3)
    first, _ = run(world, n_pairs=200, seed=7, steps=200)
    second, _ = run(world, n_pairs=200, seed=7, steps=200)
    assert first.max_abs_error == second.max_abs_error
    assert first.mode == "samples" and first.device == "cpu"
    row = first.as_dict()
    assert {"max_abs_error", "tv", "kl", "rlhf_max_abs_difference", "mle_exists"} <= set(row)
    assert 0 <= row["tv"] <= 1 and row["kl"] >= 0
    population, _ = run(world, steps=200)
    assert population.mode == "population" and population.n_pairs is None


def test_tests_run_on_the_cpu_and_a_missing_gpu_is_named() -> None:
    assert pick_device().type == "cpu"  # conftest hides any GPU
    with pytest.raises(ValueError, match="no GPU"):
        pick_device("cuda")

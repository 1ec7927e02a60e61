"""The maths core (lab.core.dpo) beyond the registered claims: formulas, stability, broadcasting,
extremes, dtypes and bad input, step by step."""

from __future__ import annotations

import math

import pytest
import torch

from lab import (
    bradley_terry_choice,
    dpo_loss,
    gradient_weight,
    implicit_reward,
    kl_divergence,
    log_partition,
    optimal_policy,
    preference_prob,
    rlhf_objective,
    total_variation,
)
from lab.core.dpo import log_optimal_policy
from lab.training.solvers import maximise_objective
from lab.worlds.tabular import DTYPE, default_world, random_world


def _distribution(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=DTYPE)


def test_kl_of_two_coins_matches_the_formula() -> None:
    p, q = _distribution(0.5, 0.5), _distribution(0.9, 0.1)
    expected = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert kl_divergence(p, q).item() == pytest.approx(expected, rel=1e-14)


def test_kl_ignores_responses_that_p_never_gives() -> None:
    p, q = _distribution(0.0, 1.0), _distribution(0.3, 0.7)
    assert kl_divergence(p, q).item() == pytest.approx(-math.log(0.7), rel=1e-14)


def test_kl_is_infinite_where_q_is_zero_and_says_so() -> None:
    with pytest.raises(ValueError, match=r"q is 0 where p is positive.*infinite"):
        kl_divergence(_distribution(0.5, 0.5), _distribution(1.0, 0.0))


def test_kl_broadcasts_leading_dimensions() -> None:
    p = torch.softmax(torch.randn(4, 3, 5, dtype=DTYPE), dim=-1)
    q = torch.softmax(torch.randn(3, 5, dtype=DTYPE), dim=-1)
    assert kl_divergence(p, q).shape == (4, 3)


def test_objective_at_the_reference_is_the_expected_reward() -> None:
    world = default_world()
    value = rlhf_objective(world.pi_ref, world.pi_ref, world.reward, beta=0.7)
    assert torch.allclose(value, (world.pi_ref * world.reward).sum(-1), atol=1e-15)


def test_objective_penalises_distance_from_the_reference_by_beta() -> None:
    world = default_world()
    pi = torch.softmax(torch.randn(world.pi_ref.shape, dtype=DTYPE), dim=-1)
    j1 = rlhf_objective(pi, world.pi_ref, world.reward, beta=1.0)
    j2 = rlhf_objective(pi, world.pi_ref, world.reward, beta=2.0)
    assert torch.allclose(j1 - j2, kl_divergence(pi, world.pi_ref))


@pytest.mark.parametrize(
    ("pi_ref", "beta", "message"),
    [
        (_distribution(0.5, 0.5, 0.0), 0.0, "beta must be > 0"),
        (_distribution(0.5, 0.5, 0.0), -1.0, "beta must be > 0"),
        (_distribution(0.5, 0.5, 0.0), float("nan"), "beta must be finite"),
        (_distribution(0.5, 0.5, 0.0), float("inf"), "beta must be finite"),
        (_distribution(0.7, 0.5, -0.2), 1.0, "pi_ref has negative entries"),
        (_distribution(0.5, 0.3, 0.1), 1.0, r"pi_ref must sum to 1.*0\.9.*off by -0\.1"),
        (_distribution(0.5, 0.5), 1.0, r"pi has shape \(3,\) but pi_ref has shape \(2,\)"),
        (_distribution(0.0, 0.5, 0.5), 1.0, "pi_ref is 0 where pi is positive.*infinite"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(pi_ref, beta, message) -> None:
    pi = _distribution(0.2, 0.3, 0.5)
    with pytest.raises(ValueError, match=message):
        rlhf_objective(pi, pi_ref, torch.zeros(3, dtype=DTYPE), beta)


def test_leading_dimensions_that_do_not_broadcast_are_named() -> None:
    pi = torch.full((2, 3), 1 / 3, dtype=DTYPE)
    pi_ref = torch.full((4, 3), 1 / 3, dtype=DTYPE)
    with pytest.raises(ValueError, match=r"leading .* do not broadcast"):
        rlhf_objective(pi, pi_ref, torch.zeros(3, dtype=DTYPE), 1.0)


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
    world = random_world(2, 4, seed=5)
    star = optimal_policy(world.pi_ref, world.reward, 0.4)
    r_hat = implicit_reward(star, world.pi_ref, 0.4)
    from_policies = preference_prob(r_hat[:, :, None], r_hat[:, None, :])
    from_reward = preference_prob(world.reward[:, :, None], world.reward[:, None, :])
    assert torch.allclose(from_policies, from_reward, atol=1e-14)


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
    with pytest.raises(ValueError, match=r"policy_rejected_logps has shape \(4,\)"):
        dpo_loss(x, torch.zeros(4), x, x, 0.1)


# ---- bad input that used to slip through: NaN, empty tensors, broadcasting, range, dtype ---------


@pytest.mark.parametrize("function", [preference_prob, bradley_terry_choice])
def test_preference_functions_name_a_non_finite_reward(function) -> None:
    with pytest.raises(ValueError, match=r"reward_w must be finite: 1 entries are not, e\.g\. nan"):
        function(torch.tensor([0.0, float("nan")]), torch.zeros(2))
    with pytest.raises(ValueError, match="reward_l must be finite"):
        function(torch.zeros(2), torch.tensor([float("inf"), 0.0]))


@pytest.mark.parametrize("function", [preference_prob, bradley_terry_choice])
def test_preference_functions_name_shapes_that_do_not_broadcast(function) -> None:
    message = r"shapes do not broadcast: reward_w \(3,\), reward_l \(4,\)"
    with pytest.raises(ValueError, match=message):
        function(torch.zeros(3), torch.zeros(4))


EMPTY_RESPONSES = torch.empty(3, 0, dtype=DTYPE)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda e: optimal_policy(e, e, 1.0), "pi_ref"),
        (lambda e: log_optimal_policy(e, e, 1.0), "pi_ref"),
        (lambda e: log_partition(e, e, 1.0), "pi_ref"),
        (lambda e: kl_divergence(e, e), "p"),
        (lambda e: rlhf_objective(e, e, e, 1.0), "pi"),
        (lambda e: implicit_reward(e, e, 1.0), "pi"),
        (lambda e: total_variation(e, e), "p"),
    ],
)
def test_tables_without_responses_are_refused_by_name(call, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must have at least one response"):
        call(EMPTY_RESPONSES)


def test_a_table_without_prompts_gives_an_empty_result() -> None:
    """Zero prompts is an empty batch, not an error: the result has zero rows too."""
    empty = torch.empty(0, 4, dtype=DTYPE)
    assert optimal_policy(empty, empty, 1.0).shape == (0, 4)
    assert kl_divergence(empty, empty).shape == (0,)
    assert log_partition(empty, empty, 1.0).shape == (0,)


def test_total_variation_checks_its_distributions() -> None:
    with pytest.raises(ValueError, match="p must be finite"):
        total_variation(_distribution(float("nan"), 1.0), _distribution(0.5, 0.5))
    with pytest.raises(ValueError, match="q must sum to 1"):
        total_variation(_distribution(0.5, 0.5), _distribution(0.5, 0.6))


@pytest.mark.parametrize(
    ("reward", "beta"), [(1e308, 0.5), (1.0, 1e-320), (-1e300, 1e-10)], ids=["r", "beta", "neg"]
)
def test_reward_over_beta_beyond_float_range_is_refused(reward: float, beta: float) -> None:
    """r/β that overflows float64 would make π* all NaN: refused, saying which ratio."""
    pi_ref = _distribution(0.5, 0.5)
    rewards = torch.tensor([reward, 0.0], dtype=DTYPE)
    for function in (optimal_policy, log_optimal_policy, log_partition):
        with pytest.raises(ValueError, match=r"reward / beta is out of range: .*index \(0,\)"):
            function(pi_ref, rewards, beta)


def test_reward_over_beta_near_the_float_range_still_works() -> None:
    star = optimal_policy(_distribution(0.5, 0.5), torch.tensor([1.0, 0.0], dtype=DTYPE), 1e-300)
    assert torch.equal(star, _distribution(1.0, 0.0))


def test_dpo_loss_refuses_log_probs_of_different_shapes() -> None:
    """(4,) and (4, 1) would broadcast into a (4, 4) loss: one per pair is (4,)."""
    x = torch.zeros(4)
    message = r"policy_rejected_logps has shape \(4, 1\) but policy_chosen_logps has shape \(4,\)"
    with pytest.raises(ValueError, match=message):
        dpo_loss(x, x[:, None], x, x, 0.1)
    with pytest.raises(ValueError, match=r"reference_chosen_logps has shape \(\)"):
        dpo_loss(x, x, torch.tensor(0.0), x, 0.1)


def test_an_empty_batch_of_pairs_has_empty_losses() -> None:
    empty = torch.empty(0)
    losses, chosen, rejected = dpo_loss(empty, empty, empty, empty, 0.1)
    assert losses.shape == chosen.shape == rejected.shape == (0,)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_log_probs_are_computed_in_float32(dtype: torch.dtype) -> None:
    """In float16, β·h = 2·(−60 000) overflows to −inf and the loss to inf; in float32 it is
    120 000 (119 808 from bfloat16's nearest inputs). The results come back in float32, the
    gradients in the inputs' dtype."""
    policy_chosen = torch.tensor([-30000.0], dtype=dtype, requires_grad=True)
    policy_rejected = torch.tensor([30000.0], dtype=dtype, requires_grad=True)
    zero = torch.zeros(1, dtype=dtype)
    losses, chosen, rejected = dpo_loss(policy_chosen, policy_rejected, zero, zero, 2.0)
    assert losses.dtype == chosen.dtype == rejected.dtype == torch.float32
    h = policy_chosen.item() - policy_rejected.item()  # the inputs as the dtype rounds them
    assert losses.item() == pytest.approx(-2.0 * h) and h == pytest.approx(-60000, rel=1e-2)
    losses.sum().backward()
    assert policy_chosen.grad.dtype == dtype and torch.isfinite(policy_chosen.grad).all()
    weight = gradient_weight(policy_chosen, policy_rejected, zero, zero, 2.0)
    assert weight.dtype == torch.float32 and weight.item() == 1.0


def test_kl_from_log_q_matches_and_stays_finite_where_q_underflows() -> None:
    from lab.core.dpo import kl_divergence_to_log

    p, q = _distribution(0.5, 0.5), _distribution(0.9, 0.1)
    assert kl_divergence_to_log(p, q.log()).item() == pytest.approx(kl_divergence(p, q).item())
    # q = (1, e^-800): 0 in float64, so kl_divergence would call it infinite; it is 399.3
    log_q = torch.tensor([0.0, -800.0], dtype=DTYPE)
    assert kl_divergence_to_log(p, log_q).item() == pytest.approx(0.5 * 800 + math.log(0.5))
    with pytest.raises(ValueError, match="q is 0 where p is positive"):
        kl_divergence_to_log(p, torch.tensor([0.0, -math.inf], dtype=DTYPE))
    with pytest.raises(ValueError, match="log_q must be a log-probability"):
        kl_divergence_to_log(p, torch.tensor([0.0, math.nan], dtype=DTYPE))

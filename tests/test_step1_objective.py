"""Step 1's functions beyond the registered claims: KL, the objective, and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from lab import kl_divergence, rlhf_objective
from lab.world import DTYPE, default_world


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

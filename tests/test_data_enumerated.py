"""The token world listed response by response: pair weights over it, and π* from π_ref and r."""

from __future__ import annotations

import math

import torch

from lab.data.pairs import pair_distribution, population_pair_weights, sample_pairs

BETA = 0.5  # the β the reference_world fixture lists π* at


def sampled_weights(proposal: torch.Tensor, reward: torch.Tensor, n_pairs: int, seed: int):
    return sample_pairs(proposal, reward, n_pairs, seed).weights(*proposal.shape)


def small_table(seed: int = 0, n_prompts: int = 2, n: int = 5):
    generator = torch.Generator().manual_seed(seed)
    proposal = torch.softmax(
        torch.randn(n_prompts, n, generator=generator, dtype=torch.float64), -1
    )
    reward = torch.randn(n_prompts, n, generator=generator, dtype=torch.float64)
    return proposal, reward


def test_population_weights_are_bradley_terry_odds_over_the_pair_distribution() -> None:
    proposal, reward = small_table()
    weights = population_pair_weights(proposal, reward)
    assert torch.isclose(weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.all(weights.diagonal(dim1=-2, dim2=-1) == 0)
    off = ~torch.eye(5, dtype=torch.bool)
    odds = (weights / weights.transpose(-2, -1))[:, off]
    want = torch.exp(reward[:, :, None] - reward[:, None, :])[:, off]
    assert torch.allclose(odds, want)  # P(a ≻ b)/P(b ≻ a) = e^{r_a − r_b}
    unordered = weights + weights.transpose(-2, -1)
    q = pair_distribution(proposal)
    assert torch.allclose(unordered, q + q.transpose(-2, -1))


def test_sampled_weights_are_counts_that_approach_the_population() -> None:
    proposal, reward = small_table()
    few = sampled_weights(proposal, reward, 10, seed=0)
    assert torch.allclose(few * 10, (few * 10).round()) and math.isclose(few.sum().item(), 1)
    population = population_pair_weights(proposal, reward)
    error = [
        (sampled_weights(proposal, reward, n, seed=0) - population).abs().sum().item()
        for n in (100, 100_000)
    ]
    assert error[1] < 0.05 < error[0]
    assert torch.equal(
        sampled_weights(proposal, reward, 100, 3),
        sampled_weights(proposal, reward, 100, 3),
    )


def test_pi_star_reweights_pi_ref_by_the_reward(reference_world) -> None:
    _, enumerated = reference_world
    assert torch.allclose(enumerated.pi_ref.sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-12)
    ratio = (enumerated.pi_star / enumerated.pi_ref).log() - enumerated.reward / BETA
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-9)  # = −log Z(x) per prompt
    names = enumerated.response_names()
    assert names[enumerated.pi_star[0].argmax()] == "4"

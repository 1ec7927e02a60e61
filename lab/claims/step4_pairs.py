"""Step 4's data claims — the preference pairs both labs train on are Bradley–Terry's.

A pair compares two different responses, and it is labelled one way e^{r_w − r_l} times as often
as the other: for the tabular lab's population and samples and for the token world's population
and samples (the data the transformer trains on). The refutations are the data bugs: a response
paired with itself, every label the other way round.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.claims.fixtures import Z_TOLERANCE, enumerated_token_world
from lab.claims.named import Binding
from lab.claims.reading import joined, of_pair, of_response, tex_evidence, world_binding
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import preference_prob
from lab.data.enumerated import world_pair_weights
from lab.data.pairs import pair_distribution, sample_pairs
from lab.worlds.tabular import default_world

SEED = 4
TOKEN_PAIRS = 20_000  # sampled over the token world, as its transformer trains on


def _pair_bindings(
    distribution: Callable, weights_of: Callable, sampled: bool = False
) -> list[Binding]:
    """D bound to the pair weights both labs train on: the default world's population (pairs
    from π_ref), 2·10⁴ sampled pairs (``sampled``), and the token world's population for both
    proposals."""
    world = default_world()
    q = distribution(world.pi_ref)
    population = (q + q.mT) * preference_prob(world.reward[:, :, None], world.reward[:, None, :])
    bindings = [
        world_binding(world, world.beta, {r"\mathcal{D}": of_pair(population)}, label="tabular"),
    ]
    if sampled:
        pairs = sample_pairs(world.pi_ref, world.reward, 20_000, SEED)
        values = {r"\mathcal{D}": of_pair(pairs.weights(*world.pi_ref.shape))}
        bindings.append(world_binding(world, world.beta, values, label="sampled"))
    enumerated = enumerated_token_world()
    k = enumerated.pi_ref.shape[-1]
    variables = {"x": len(enumerated.world.prompts), "y": k, "y_{w}": k, "y_{l}": k}
    for proposal in ("uniform", "reference"):
        values = {
            "mathcal D": of_pair(weights_of(enumerated, proposal)),
            "r": of_response(enumerated.reward),
        }
        bindings.append(Binding(variables, values, label=f"token world, {proposal}"))
    return bindings


def _token_weights(enumerated, proposal: str, n_pairs: int | None = None) -> torch.Tensor:
    """The token world's pair weights: the population's (``n_pairs`` None) or a sample's."""
    return world_pair_weights(enumerated, proposal, n_pairs, SEED)


def _check_distinct_pairs(reading: Node, distribution: Callable) -> Evidence:
    """No pair compares a response with itself: the weight on y_w = y_l, read from the TeX, is 0
    in every data set both labs draw (``distribution``: the pair distribution of the tabular
    population)."""
    lab = Evidence({}, 0.0, True, note="tabular population and samples; token world populations")
    bindings = _pair_bindings(distribution, _token_weights, sampled=True)
    return joined(lab, tex_evidence(reading, bindings))


def _check_pair_odds(reading: Node, weights_of: Callable) -> Evidence:
    """The odds on screen, D(x, y_w, y_l) = D(x, y_l, y_w) e^{r_w − r_l}, for the pair weights of
    both labs' populations (``weights_of``: the token world's pair weights); and the token
    world's sampled pairs are labelled at those odds, within sampling error."""
    enumerated = enumerated_token_world()
    z = max(
        abs(_label_z_score(weights_of(enumerated, proposal, TOKEN_PAIRS), enumerated.reward))
        for proposal in ("uniform", "reference")
    )
    lab = Evidence(
        {"sampled_labels_z_score": z},
        Z_TOLERANCE,
        z <= Z_TOLERANCE,
        note=f"the token world's {TOKEN_PAIRS} sampled pairs: wins against σ(r_w − r_l), pooled",
    )
    return joined(lab, tex_evidence(reading, _pair_bindings(pair_distribution, weights_of)))


def _label_z_score(weights: torch.Tensor, reward: torch.Tensor) -> float:
    """How far the sampled labels are from Bradley–Terry, in standard errors: over every pair
    {a, b} drawn n times, a's wins against n σ(r_a − r_b), summed (a binomial count each)."""
    counts = weights * TOKEN_PAIRS
    upper = torch.triu(torch.ones_like(counts[0], dtype=torch.bool), diagonal=1)
    n = (counts + counts.mT)[:, upper]
    p = preference_prob(reward[:, :, None], reward[:, None, :])[:, upper]
    wins = counts[:, upper]
    return ((wins - n * p).sum() / (n * p * (1 - p)).sum().sqrt()).item()


def _pairs_with_repeats(proposal: torch.Tensor) -> torch.Tensor:
    """A wrong pair distribution: two independent draws, a response may meet itself."""
    joint = proposal[:, :, None] * proposal[:, None, :]
    return joint / joint.sum(dim=(-2, -1), keepdim=True) / proposal.shape[0]


def _labels_flipped(enumerated, proposal: str, n_pairs: int | None = None) -> torch.Tensor:
    """Wrong pair weights: every label the other way round."""
    return world_pair_weights(enumerated, proposal, n_pairs, SEED).mT


CLAIMS = (
    Claim(
        id="step4.distinct_pairs",
        step=4,
        tex=r"\sum_{y} \mathcal{D}(x, y, y) = 0",
        says="A preference pair compares two different responses: the data put no weight on a "
        "response compared with itself.",
        check=lambda tex: _check_distinct_pairs(tex, pair_distribution),
        refute=lambda tex: _check_distinct_pairs(tex, _pairs_with_repeats),
    ),
    Claim(
        id="step4.pair_odds",
        step=4,
        tex=r"\mathcal{D}(x, y_w, y_l) = \mathcal{D}(x, y_l, y_w) \, e^{r(x, y_w) - r(x, y_l)}",
        says="The data are Bradley–Terry's: a pair is labelled one way e^(r_w − r_l) times as "
        "often as the other.",
        check=lambda tex: _check_pair_odds(tex, _token_weights),
        refute=lambda tex: _check_pair_odds(tex, _labels_flipped),
    ),
)

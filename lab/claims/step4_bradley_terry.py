"""Step 4's claims — Bradley–Terry: a preference probability depends only on a reward difference.

Bradley–Terry says P(y_w ≻ y_l | x) = exp(r_w) / (exp(r_w) + exp(r_l)). Dividing through by
exp(r_w) gives σ(r_w − r_l): only the difference of rewards matters, which is why the per-prompt
term β log Z(x) of the reparameterised reward cancels (DPO paper, eq. 6). Each check reads the
claim's TeX and evaluates it on the lab's numbers: the labels the lab samples, its π* and Z.
The pairs the labs train on are claimed in ``step4_pairs``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from lab.claims.fixtures import (
    CHECK_BETAS,
    NUMERIC_TOLERANCE,
    check_worlds,
)
from lab.claims.named import Binding, Named
from lab.claims.reading import (
    joined,
    of_prompt,
    policy,
    preference,
    symbols,
    tex_evidence,
    world_binding,
)
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.core.dpo import (
    bradley_terry_choice,
    implicit_reward,
    log_partition,
    optimal_policy,
    preference_prob,
)
from lab.data.pairs import pair_distribution, sample_pairs
from lab.worlds.tabular import DTYPE, World, default_world

SEED = 4
SAMPLED_PAIRS = 200_000
ENOUGH = 30  # a pair needs a few dozen draws before its frequency estimates its probability
IDENTITY_SCALE = 30.0  # |A|, |B| for evaluating e^A literally: e^30 is far from overflow


def _random_values(count: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(count, generator=generator, dtype=DTYPE) * 2 - 1) * scale


def _identity_binding(names: tuple[str, ...], generator: torch.Generator) -> Binding:
    """Random values for the symbols of an identity, along one dimension "i" of 1000 points."""
    values = {
        name: Named(_random_values(1000, IDENTITY_SCALE, generator), ("i",)) for name in names
    }
    return Binding({}, symbols(values), tolerance=NUMERIC_TOLERANCE)


def _check_sigmoid_identity(reading: Node, prob: Callable) -> Evidence:
    """The lab's stable e^A/(e^A + e^B) against ``prob`` = σ(A − B), on pairs up to |A − B| ~ 10³
    (where a naive e^A overflows); and the identity on screen, evaluated as written."""
    generator = torch.Generator().manual_seed(SEED)
    scale = torch.tensor([1.0, 10.0, 100.0, 1000.0], dtype=DTYPE).repeat_interleave(250)
    a, b = (_random_values(1000, 1.0, generator) * scale for _ in range(2))
    lhs, rhs = bradley_terry_choice(a, b), prob(a, b)
    finite = bool(torch.isfinite(lhs).all() and torch.isfinite(rhs).all())
    error = (lhs - rhs).abs().max().item() if finite else float("inf")
    lab = Evidence(
        measured={"max_abs_error": error, "max_abs_difference": (a - b).abs().max().item()},
        tolerance=NUMERIC_TOLERANCE,
        passed=error <= NUMERIC_TOLERANCE,
        note="bradley_terry_choice vs preference_prob, |A − B| up to 1e3",
    )
    binding = _identity_binding(("A", "B"), generator)
    return joined(lab, tex_evidence(reading, [binding]))


@functools.cache
def _sampled_preferences(world: World, labels: Callable) -> Named:
    """How often the lab's sampled pairs prefer y_w to y_l, with standard errors: a table
    (x, y_w, y_l); pairs drawn fewer than ENOUGH times carry no constraint."""
    pairs = sample_pairs(world.pi_ref, world.reward, SAMPLED_PAIRS, SEED, labels)
    wins = pairs.counts(world.n_prompts, world.n_responses)  # wins[x, a, b]: a ≻ b
    shown = wins + wins.transpose(-2, -1)
    frequency = wins / shown.clamp_min(1)
    error = (
        torch.maximum(frequency * (1 - frequency), 1 / shown.clamp_min(1)) / shown.clamp_min(1)
    ).sqrt()
    return Named(frequency, ("x", "y_w", "y_l"), torch.where(shown >= ENOUGH, error, torch.inf))


def _check_bradley_terry(reading: Node, labels: Callable) -> Evidence:
    """The lab's sampled labels (2·10⁵ pairs of the default world, labelled by ``labels``) against
    the model on screen, evaluated with the true reward, within 5 standard errors per pair."""
    world = default_world()
    frequencies = _sampled_preferences(world, labels)
    checked = float((frequencies.error < torch.inf).sum())
    binding = world_binding(
        world, world.beta, {r"p^*": preference(frequencies.values, frequencies.error)}
    )
    lab = Evidence(
        {"ordered_pairs_checked": checked, "pairs_sampled": float(SAMPLED_PAIRS)},
        5.0,
        checked > 0,
        note="sampled preference frequencies vs the formula on screen, within 5 standard errors",
    )
    return joined(tex_evidence(reading, [binding]), lab)


def _check_only_differences(reading: Node, choice: Callable) -> Evidence:
    """``choice(r_w, r_l)``, the lab's Bradley–Terry probability, must not move when both rewards
    move by the same c (up to ±10³), nor the default world's pair weights under a per-prompt
    shift f(x); and the identity on screen, evaluated as written."""
    generator = torch.Generator().manual_seed(SEED)
    reward_w, reward_l = (3 * torch.randn(1000, generator=generator, dtype=DTYPE) for _ in range(2))
    shift = _random_values(1000, 1e3, generator)
    change = (choice(reward_w + shift, reward_l + shift) - choice(reward_w, reward_l)).abs()
    world = default_world()
    f = 20 * torch.randn(world.n_prompts, 1, 1, generator=generator, dtype=DTYPE)
    q = pair_distribution(world.pi_ref)
    r_w, r_l = world.reward[:, :, None], world.reward[:, None, :]
    data_change = ((q + q.mT) * (choice(r_w, r_l) - choice(r_w + f, r_l + f))).abs().max()
    worst = max(change.max().item(), data_change.item())
    lab = Evidence(
        measured={"max_abs_change": worst, "max_shift": shift.abs().max().item()},
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(torch.isfinite(change).all()) and worst <= NUMERIC_TOLERANCE,
        note="the lab's P(r_w + c, r_l + c) − P(r_w, r_l), and the pair weights under f(x)",
    )
    binding = _identity_binding(("r_w", "r_l", "c"), generator)
    return joined(lab, tex_evidence(reading, [binding]))


def _policy_bindings(closed_form: Callable, p_star: Callable[[World], Named]) -> list[Binding]:
    """Per world and β: π* from ``closed_form``, Z from the lab, p* from ``p_star``."""
    bindings = []
    for world in check_worlds(SEED):
        target = p_star(world)
        for beta in CHECK_BETAS:
            values = {
                r"\pi^*": policy(closed_form(world.pi_ref, world.reward, beta)),
                "Z": of_prompt(log_partition(world.pi_ref, world.reward, beta).exp()),
                r"p^*": preference(target.values, target.error),
            }
            bindings.append(world_binding(world, beta, values))
    return bindings


@functools.cache
def _true_preferences(world: World) -> Named:
    """p*(y_w ≻ y_l | x) from the true reward, by the lab's preference_prob."""
    table = preference_prob(world.reward[:, :, None], world.reward[:, None, :])
    return Named(table, ("x", "y_w", "y_l"))


def _check_substituted(reading: Node, closed_form: Callable) -> Evidence:
    """The substituted preference on screen — β log Z(x) in both rewards, not yet cancelled —
    evaluated with the lab's π* and Z, against the labels the lab samples (within 5 standard
    errors per pair)."""
    lab = Evidence({}, 5.0, True, note="the labels of 2·10⁵ sampled pairs of each check world")

    def sampled(world: World) -> Named:
        return _sampled_preferences(world, preference_prob)

    return joined(lab, tex_evidence(reading, _policy_bindings(closed_form, sampled)))


def _check_z_cancels(reading: Node, closed_form: Callable) -> Evidence:
    """The preference on screen, from π* and π_ref alone, with the lab's π*, against p* from the
    true reward; and the same through the lab's implicit reward, σ(r̂_w − r̂_l)."""
    worst = 0.0
    for world in check_worlds(SEED):
        for beta in CHECK_BETAS:
            r_hat = implicit_reward(
                closed_form(world.pi_ref, world.reward, beta), world.pi_ref, beta
            )
            through_lab = preference_prob(r_hat[:, :, None], r_hat[:, None, :])
            worst = max(worst, (through_lab - _true_preferences(world).values).abs().max().item())
    lab = Evidence(
        {"max_abs_error": worst},
        NUMERIC_TOLERANCE,
        worst <= NUMERIC_TOLERANCE,
        note="σ(r̂_w − r̂_l), r̂ the lab's implicit reward of π*, vs σ(r_w − r_l)",
    )
    return joined(lab, tex_evidence(reading, _policy_bindings(closed_form, _true_preferences)))


def _deterministic_labels(reward_1: torch.Tensor, reward_2: torch.Tensor) -> torch.Tensor:
    """A wrong labeller: the higher reward always wins (no Bradley–Terry noise)."""
    return (reward_1 > reward_2).to(DTYPE)


def _padded_choice(reward_w: torch.Tensor, reward_l: torch.Tensor) -> torch.Tensor:
    """A wrong e^{r_w}/(e^{r_w} + e^{r_l}): a third, empty option (a zero logit) in the softmax."""
    both = torch.stack(
        [*torch.broadcast_tensors(reward_w, reward_l), torch.zeros_like(reward_w + reward_l)]
    )
    return torch.softmax(both, dim=0)[0]


def _closed_form_beta_inverted(pi_ref, reward, beta):
    """A wrong π*: β multiplying the reward instead of dividing it."""
    return optimal_policy(pi_ref, reward, 1 / beta)


CLAIMS = (
    Claim(
        id="step4.bradley_terry",
        step=4,
        tex=r"p^*(y_w \succ y_l \mid x) = \frac{\exp r(x, y_w)}{\exp r(x, y_w) + \exp r(x, y_l)}",
        says="Bradley–Terry: the chance that one response is preferred grows with the "
        "exponential of its reward.",
        check=lambda tex: _check_bradley_terry(tex, preference_prob),
        refute=lambda tex: _check_bradley_terry(tex, _deterministic_labels),
    ),
    Claim(
        id="step4.sigmoid_identity",
        step=4,
        tex=r"\frac{e^{A}}{e^{A} + e^{B}} = \sigma(A - B)",
        says="A Bradley–Terry preference probability is the sigmoid of the reward difference.",
        check=lambda tex: _check_sigmoid_identity(tex, preference_prob),
        # Wrong variant: the difference taken the wrong way round, σ(B − A).
        refute=lambda tex: _check_sigmoid_identity(tex, lambda a, b: preference_prob(b, a)),
    ),
    Claim(
        id="step4.only_differences",
        step=4,
        tex=r"\sigma\big((r_w + c) - (r_l + c)\big) = \sigma(r_w - r_l)",
        says="Only the difference of the two rewards matters: shifting both by the same amount "
        "changes nothing.",
        check=lambda tex: _check_only_differences(tex, bradley_terry_choice),
        refute=lambda tex: _check_only_differences(tex, _padded_choice),
    ),
    Claim(
        id="step4.substituted",
        step=4,
        tex=r"p^*(y_w \succ y_l \mid x) = \sigma\Big(\beta \log \frac{\pi^*(y_w \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_w \mid x)} + \beta \log Z(x) - \beta \log \frac{\pi^*(y_l \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_l \mid x)} - \beta \log Z(x)\Big)",
        says="Substituting the reparameterised reward into Bradley–Terry gives the same "
        "preference probabilities.",
        check=lambda tex: _check_substituted(tex, optimal_policy),
        refute=lambda tex: _check_substituted(tex, _closed_form_beta_inverted),
    ),
    Claim(
        id="step4.z_cancels",
        step=4,
        tex=r"p^*(y_w \succ y_l \mid x) = \sigma\Big(\beta \log \frac{\pi^*(y_w \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_w \mid x)} - \beta \log \frac{\pi^*(y_l \mid x)}"
        r"{\pi_{\mathrm{ref}}(y_l \mid x)}\Big)",
        says="β log Z(x) appears once with each sign and cancels: the preference depends only on "
        "the two policies.",
        check=lambda tex: _check_z_cancels(tex, optimal_policy),
        refute=lambda tex: _check_z_cancels(tex, _closed_form_beta_inverted),
    ),
)

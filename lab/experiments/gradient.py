"""The gradient chapter's experiment: each pair's weight σ(r̂_l − r̂_w) during a real DPO run,
and the same run without the weight.

DPO's gradient is  ∇L = −β E[σ(r̂_l − r̂_w) (∇log π_θ(y_w) − ∇log π_θ(y_l))]: every pair pushes its
chosen response up and its rejected one down, relative to π_ref, weighted by how wrong the model
ranks it. The run: one prompt of the default world ("What is 2 + 2?"), N pairs drawn from π_ref
and labelled by Bradley–Terry from the true reward (seeded), plain gradient descent from π_ref on
the mean DPO loss. Every pair starts at weight σ(0) = ½. A pair the model comes to rank right
(r̂_w > r̂_l) falls below ½; a pair whose label the other pairs outvote (noisy labels) stays above
½ for good. DPO settles where the implicit rewards fit the pairs' odds. The ablation runs the same
descent on −β·h per pair (h the difference of log-ratios): the same push for every pair whatever
the model already believes, so the margins grow at a constant rate, without end.

The run can only settle when the pairs' "beat" graph is strongly connected over the responses
they compare (``lab.data.pairs.mle_exists``); otherwise no finite reward fits them, and the
experiment says so instead of showing a run that has not settled.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from lab.core.dpo import dpo_loss
from lab.core.validation import check_beta
from lab.data.pairs import mle_exists, sample_pairs
from lab.experiments import ExperimentFailed
from lab.training.runaway import unweighted_loss
from lab.worlds.tabular import DTYPE, World, default_world

SETTLED = 1e-6  # the most any pair's margin may still move per step, over the run's last tenth
MAX_STEPS = 100_000  # every step is recorded, for every distinct pair
MAX_PAIRS = 1_000_000


@dataclass(frozen=True)
class GradientConfig:
    beta: float = 0.5  # the KL strength β (the default world's)
    steps: int = 1000  # gradient-descent steps, from π_ref
    learning_rate: float = 2.0  # plain gradient descent on the table's logits
    n_pairs: int = 24  # pairs drawn from π_ref, labelled by Bradley–Terry
    seed: int = 1  # draws the pairs and labels; seed 0 leaves "5, trust me!" never winning
    prompt: int = 0  # which prompt of the default world

    def __post_init__(self) -> None:
        check_beta(self.beta)
        if not 10 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be in 10..{MAX_STEPS:,}, got {self.steps:,}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        if not 2 <= self.n_pairs <= MAX_PAIRS:
            raise ValueError(f"n_pairs must be in 2..{MAX_PAIRS:,}, got {self.n_pairs:,}")


@dataclass(frozen=True)
class GradientRun:
    """A run's record. ``pairs`` are the distinct labelled pairs (chosen, rejected, how many of
    the N); ``weights[t][k]`` is pair k's σ(r̂_l − r̂_w) after t steps (t = 0: at π_ref);
    ``margins`` and ``unweighted_margins`` the pairs' r̂_w − r̂_l in DPO's run and the ablation's;
    ``implicit_rewards`` every response's r̂ = β log π_θ/π_ref at the end of DPO's run."""

    config: GradientConfig
    prompt: str
    responses: list[str]
    pairs: list[tuple[int, int, int]]
    weights: list[list[float]]
    margins: list[list[float]]
    unweighted_margins: list[list[float]]
    losses: list[float]
    implicit_rewards: list[float]

    @property
    def ranked_right(self) -> list[bool]:
        """Whether the trained model ranks each pair as its label does (r̂_w > r̂_l)."""
        return [margin > 0 for margin in self.margins[-1]]

    def summary(self) -> dict:
        """The figures the chapter quotes: the weights' spread, the margins' growth."""
        final, right = self.weights[-1], self.ranked_right
        right_weights = [w for w, ok in zip(final, right, strict=True) if ok]
        wrong_weights = [w for w, ok in zip(final, right, strict=True) if not ok]
        tenth = max(1, self.config.steps // 10)
        return {
            "start_weight": self.weights[0][0],
            "right_pairs": len(right_weights),
            "wrong_pairs": len(wrong_weights),
            "right_weight_max": max(right_weights, default=math.nan),
            "wrong_weight_min": min(wrong_weights, default=math.nan),
            "start_loss": self.losses[0],
            "final_loss": self.losses[-1],
            "dpo_margin_max": max(abs(m) for m in self.margins[-1]),
            "unweighted_margin_max": max(abs(m) for m in self.unweighted_margins[-1]),
            "dpo_margin_drift": _drift(self.margins, tenth),
            "unweighted_margin_drift": _drift(self.unweighted_margins, tenth),
        }

    def as_dict(self) -> dict:
        return {
            "config": asdict(self.config),
            "prompt": self.prompt,
            "responses": self.responses,
            "pairs": [
                {"chosen": chosen, "rejected": rejected, "count": count}
                for chosen, rejected, count in self.pairs
            ],
            "summary": self.summary(),
            "weights": _rounded(self.weights),
            "margins": _rounded(self.margins),
            "unweighted_margins": _rounded(self.unweighted_margins),
            "losses": [round(loss, 8) for loss in self.losses],
            "implicit_rewards": [round(reward, 8) for reward in self.implicit_rewards],
        }


def _drift(margins: list[list[float]], steps: int) -> float:
    """The most any pair's margin moved per step over the last ``steps`` steps."""
    return max(abs(b - a) for a, b in zip(margins[-1 - steps], margins[-1], strict=True)) / steps


def _rounded(rows: list[list[float]]) -> list[list[float]]:
    return [[round(value, 8) for value in row] for row in rows]


def distinct_pairs(config: GradientConfig, world: World) -> list[tuple[int, int, int]]:
    """The N drawn pairs as distinct (chosen, rejected, count), likeliest first."""
    x = config.prompt
    drawn = sample_pairs(
        world.pi_ref[x : x + 1], world.reward[x : x + 1], config.n_pairs, config.seed
    )
    counts = drawn.counts(1, world.n_responses)[0]
    found = [(w, loser, int(counts[w, loser])) for w, loser in counts.nonzero().tolist()]
    if not bool(mle_exists(_compared(counts))[0]):
        raise ExperimentFailed(
            f"the {config.n_pairs} pairs drawn with seed {config.seed} leave a response that never "
            "wins or never loses: no finite reward fits them, and DPO's margins cannot settle; "
            "draw more pairs (--n-pairs) or another --seed"
        )
    return sorted(found, key=lambda pair: (-pair[2], pair[0], pair[1]))


def _compared(counts: torch.Tensor) -> torch.Tensor:
    """The counts restricted to the responses that appear in some pair, as a (1, k, k) table."""
    seen = ((counts.sum(0) + counts.sum(1)) > 0).nonzero().flatten()
    return counts[seen][:, seen][None]


def _descend(pair_loss, pairs, log_ref: torch.Tensor, config: GradientConfig) -> dict:
    """Plain gradient descent on the table's logits from π_ref: margins and losses every step."""
    chosen = torch.tensor([pair[0] for pair in pairs])
    rejected = torch.tensor([pair[1] for pair in pairs])
    counts = torch.tensor([n for _, _, n in pairs], dtype=DTYPE)
    theta = log_ref.clone().requires_grad_(True)
    margins, losses = [], []
    for step in range(config.steps + 1):
        log_pi = torch.log_softmax(theta, dim=-1)
        args = (log_pi[chosen], log_pi[rejected], log_ref[chosen], log_ref[rejected], config.beta)
        per_pair = pair_loss(*args)
        per_pair = per_pair[0] if isinstance(per_pair, tuple) else per_pair
        loss = (counts * per_pair).sum() / counts.sum()
        ratio = log_pi.detach() - log_ref
        margins.append((config.beta * (ratio[chosen] - ratio[rejected])).tolist())
        losses.append(loss.item())
        if step < config.steps:
            (grad,) = torch.autograd.grad(loss, theta)
            with torch.no_grad():
                theta -= config.learning_rate * grad
    rewards = (config.beta * (torch.log_softmax(theta.detach(), dim=-1) - log_ref)).tolist()
    return {"margins": margins, "losses": losses, "rewards": rewards}


def gradient_experiment(config: GradientConfig = GradientConfig(), world: World | None = None):
    """Run DPO and its unweighted ablation on the same pairs. Raises ``ExperimentFailed`` when no
    finite reward fits the pairs, or when DPO has not settled within ``config.steps``."""
    world = world or default_world()
    if not 0 <= config.prompt < world.n_prompts:
        raise ValueError(f"prompt must be in 0..{world.n_prompts - 1}, got {config.prompt}")
    pairs = distinct_pairs(config, world)
    log_ref = torch.log(world.pi_ref[config.prompt]).to(DTYPE)
    dpo = _descend(dpo_loss, pairs, log_ref, config)
    ablation = _descend(unweighted_loss, pairs, log_ref, config)
    weights = [[1 / (1 + math.exp(m)) for m in row] for row in dpo["margins"]]
    run = GradientRun(
        config=config,
        prompt=world.prompts[config.prompt],
        responses=list(world.responses[config.prompt]),
        pairs=pairs,
        weights=weights,
        margins=dpo["margins"],
        unweighted_margins=ablation["margins"],
        losses=dpo["losses"],
        implicit_rewards=dpo["rewards"],
    )
    drift = run.summary()["dpo_margin_drift"]
    if drift > SETTLED:
        raise ExperimentFailed(
            f"DPO had not settled after {config.steps} steps: a pair's margin still moved "
            f"{drift:.2g} per step (at most {SETTLED:g} counts as settled); "
            "give it more --steps or a larger --learning-rate"
        )
    return run

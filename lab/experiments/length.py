"""Where DPO breaks: the length exploit, and R-DPO's fix.

Preference data tend to favour the longer answer, whatever it says. The token world
(``lab.worlds.tokens``: 259 responses per prompt, r = 2·[right answer only] − 0.5·|y|) is labelled
with a length bias of b per token,

    P(y1 ≻ y2) = σ(r(y1) − r(y2) + b(|y1| − |y2|)),

|y| the response's content tokens (EOS not counted): Bradley–Terry with the reward r + b|y|, so
the pairs are ``population_pair_weights(π_ref, r + b|y|)`` — every pair of responses drawn from
π_ref, weighted by its exact probability (the expected loss, no sampling noise). π_ref is the
lecture's warmed-up tiny GPT-2, scored on every response. π_θ is a table over the responses,
trained from π_ref with DPO, and with R-DPO (α = b) on the same biased pairs, at each (b, β).
DPO's population optimum is π* of r + b|y|; R-DPO's, with +α(|y_w| − |y_l|) inside the sigmoid
(``lab.core.length``), is π* of r + (b − α)|y|: the unbiased π* at α = b.

What is measured, for π_ref, each π_θ, and π* of the true reward at each β: the mean length
E_π[|y|], the accuracy (the mass on responses that state the right answer and no other number:
the reward's "correct" term) and the true reward E_π[r], each averaged over the prompts.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from dataclasses import asdict, dataclass

import torch

from lab.core.dpo import dpo_loss, optimal_policy, total_variation
from lab.core.length import length_regularised_loss
from lab.data.enumerated import enumerate_world
from lab.data.pairs import population_pair_weights
from lab.experiments import ExperimentFailed
from lab.training.devices import single_cpu_thread
from lab.training.length_loss import length_regularised_pairs
from lab.training.tabular import TabularConfig, train_tabular
from lab.training.transformer import WARMUP_STEPS
from lab.worlds.tabular import DTYPE
from lab.worlds.tokens import TokenWorld, build_tokenizer

LENGTH_MARGIN = 0.1  # tokens: the least rise of DPO's mean length (largest bias vs none) shown
FIX_SHARE = 0.25  # R-DPO must leave at most this share of DPO's rise in mean length
CONVERGED_TV = 0.05  # the most TV any trained π_θ may sit from its loss's population optimum
LIKELIEST = 5  # responses of the first prompt listed under DPO at the largest bias
MAX_STEPS = 100_000
FIGURES = ("mean_length", "accuracy", "reward")


def _increasing(name: str, values: tuple[float, ...], least: int, positive: bool) -> None:
    numbers = tuple(float(v) for v in values)
    bound = "> 0" if positive else "≥ 0"
    ok = (
        len(numbers) >= least
        and all(math.isfinite(v) and (v > 0 if positive else v >= 0) for v in numbers)
        and all(a < b for a, b in itertools.pairwise(numbers))
    )
    if not ok:
        raise ValueError(
            f"{name} must be {('one', 'two')[least - 1]} or more finite numbers {bound}, "
            "in increasing order, "
            f"got {' '.join(f'{v:g}' for v in numbers) or 'none'}"
        )


@dataclass(frozen=True)
class LengthConfig:
    biases: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # b, the labels' bias per token
    betas: tuple[float, ...] = (0.1, 0.5)  # the KL strengths β trained at
    steps: int = 600  # Adam steps per run (the tabular trainer, full batch)
    learning_rate: float = 0.3  # Adam's, cosine-decayed to 0
    seed: int = 0  # π_ref's initialisation (the lecture's)

    def __post_init__(self) -> None:
        _increasing("biases", self.biases, 2, positive=False)
        _increasing("betas", self.betas, 1, positive=True)
        if not 10 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be in 10..{MAX_STEPS:,}, got {self.steps:,}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")


@dataclass(frozen=True)
class LengthWorld:
    """The token world listed response by response under π_ref. Tables (P, K), float64;
    ``lengths`` (K,): content tokens; ``correct``: 1 where the response states the prompt's
    answer and no other number (the reward's bonus term), else 0."""

    prompts: tuple[str, ...]
    responses: tuple[str, ...]
    pi_ref: torch.Tensor
    reward: torch.Tensor
    lengths: torch.Tensor
    correct: torch.Tensor
    seconds: float  # π_ref's warm-up and scoring

    def figures(self, pi: torch.Tensor) -> dict[str, float]:
        """Mean length, accuracy and true reward under ``pi`` (P, K), averaged over prompts."""
        return {
            "mean_length": (pi * self.lengths).sum(-1).mean().item(),
            "accuracy": (pi * self.correct).sum(-1).mean().item(),
            "reward": (pi * self.reward).sum(-1).mean().item(),
        }


@functools.cache
def lecture_world(seed: int = 0, warmup_steps: int = WARMUP_STEPS) -> LengthWorld:
    """π_ref is the lecture's: the tiny GPT-2 warmed up on the world's examples, every response
    scored. Computed once per process (transformers is imported here, not with the module)."""
    from lab.training.policies import reference_policy

    start = time.perf_counter()
    world = TokenWorld()
    tokenizer = build_tokenizer(world)
    reference = reference_policy(world, tokenizer, seed, warmup_steps)
    enumerated = enumerate_world(world, tokenizer, reference, beta=1.0)  # its π* is not used
    lengths = torch.tensor(
        [sum(token != world.eos_id for token in r) for r in enumerated.responses], dtype=DTYPE
    )
    correct = (enumerated.reward + world.length_penalty * lengths) / world.correct_bonus
    if not bool(((correct == 0) | (correct == 1)).all()):
        raise RuntimeError("the reward is not bonus·[correct] − penalty·|y|")
    return LengthWorld(
        world.prompts, tuple(enumerated.response_names()), enumerated.pi_ref, enumerated.reward,
        lengths, correct, time.perf_counter() - start,
    )  # fmt: skip


def biased_pair_weights(world: LengthWorld, bias: float) -> torch.Tensor:
    """Pairs from π_ref labelled with σ(r1 − r2 + b(|y1| − |y2|)): Bradley–Terry on r + b|y|."""
    return population_pair_weights(world.pi_ref, world.reward + bias * world.lengths)


def train_on_biased_labels(
    world: LengthWorld,
    bias: float,
    beta: float,
    steps: int,
    learning_rate: float,
    alpha: float | None = None,
    pair_loss=length_regularised_loss,
) -> torch.Tensor:
    """π_θ (P, K) trained from π_ref on the pairs labelled with bias b: with DPO (``alpha``
    None), or with ``pair_loss`` (R-DPO's) at ``alpha``."""
    weights = biased_pair_weights(world, bias)
    loss_fn = (
        dpo_loss
        if alpha is None
        else length_regularised_pairs(weights, world.lengths, alpha, pair_loss)
    )
    config = TabularConfig(steps=steps, learning_rate=learning_rate, device="cpu")
    with single_cpu_thread():  # two threads on a shared machine wait for each other
        return train_tabular(world.pi_ref, weights, beta, config, loss_fn=loss_fn).policy


def population_optimum(world: LengthWorld, bias: float, alpha: float, beta: float):
    """Where the loss on the population of biased pairs is least: π* of r + (b − α)|y|."""
    return optimal_policy(world.pi_ref, world.reward + (bias - alpha) * world.lengths, beta)


Grid = list[list[dict[str, float]]]  # [β index][b index] → figures


@dataclass(frozen=True)
class LengthRun:
    """The experiment's record: the figures of π_ref, of π* (true reward) at each β, and of
    DPO's and R-DPO's π_θ at each (β, b): ``dpo[i][j]`` is β = betas[i], b = biases[j]."""

    config: LengthConfig
    world: LengthWorld
    reference: dict[str, float]
    optimum: list[dict[str, float]]
    dpo: Grid
    rdpo: Grid
    likeliest: list[list[tuple[str, float]]]  # per β: DPO at the largest bias, first prompt
    reference_likeliest: list[tuple[str, float]]
    unbiased: list[dict[str, float]]  # per β: DPO on unbiased labels (b = 0)
    max_tv_to_optimum: float
    seconds: float

    def summary(self) -> dict[str, float]:
        out = {f"reference_{name}": value for name, value in self.reference.items()}
        for i, beta in enumerate(self.config.betas):
            for name, value in self.optimum[i].items():
                out[f"optimum_{name}_beta{beta:g}"] = value
            for j, bias in enumerate(self.config.biases):
                for loss, grid in (("dpo", self.dpo), ("rdpo", self.rdpo)):
                    for name, value in grid[i][j].items():
                        out[f"{loss}_{name}_b{bias:g}_beta{beta:g}"] = value
        out["max_tv_to_optimum"] = self.max_tv_to_optimum
        out["warmup_seconds"] = self.world.seconds
        out["seconds"] = self.seconds
        return out

    def as_dict(self) -> dict:
        def rounded(figures: dict[str, float]) -> dict[str, float]:
            return {name: round(value, 8) for name, value in figures.items()}

        def listed(pairs: list[tuple[str, float]]) -> list[dict]:
            return [{"response": r, "probability": round(p, 8)} for r, p in pairs]

        return {
            "config": asdict(self.config),
            "biases": list(self.config.biases),
            "betas": list(self.config.betas),
            "prompts": list(self.world.prompts),
            "reference": rounded(self.reference),
            "optimum": [rounded(f) for f in self.optimum],
            "dpo": [[rounded(f) for f in row] for row in self.dpo],
            "rdpo": [[rounded(f) for f in row] for row in self.rdpo],
            "likeliest": [
                {"beta": beta, "bias": self.config.biases[-1], "responses": listed(pairs)}
                for beta, pairs in zip(self.config.betas, self.likeliest, strict=True)
            ],
            "reference_likeliest": listed(self.reference_likeliest),
            "unbiased": [rounded(f) for f in self.unbiased],
            "max_tv_to_optimum": self.max_tv_to_optimum,
            "summary": self.summary(),
        }


def _likeliest(world: LengthWorld, pi: torch.Tensor) -> list[tuple[str, float]]:
    top = pi[0].argsort(descending=True)[:LIKELIEST].tolist()
    return [(world.responses[k], pi[0, k].item()) for k in top]


def _train_grid(world: LengthWorld, config: LengthConfig, beta: float):
    """DPO and R-DPO (α = b) at every bias, at one β: their figures, the likeliest responses of
    DPO at the largest bias, and the largest TV of a run from its loss's population optimum."""
    dpo, rdpo, worst, likeliest = [], [], 0.0, []
    for bias in config.biases:
        runs = {"dpo": (None, 0.0), "rdpo": (bias, bias)}
        if bias == 0:  # R-DPO with α = 0 is DPO: the same run
            runs = {"dpo": (None, 0.0)}
        trained = {}
        for name, (alpha, shift) in runs.items():
            pi = train_on_biased_labels(
                world, bias, beta, config.steps, config.learning_rate, alpha
            )
            target = population_optimum(world, bias, shift, beta)
            worst = max(worst, total_variation(pi, target).max().item())
            trained[name] = pi
        dpo.append(world.figures(trained["dpo"]))
        rdpo.append(world.figures(trained.get("rdpo", trained["dpo"])))
        likeliest = _likeliest(world, trained["dpo"])
    return dpo, rdpo, likeliest, worst


def length_experiment(config: LengthConfig = LengthConfig()) -> LengthRun:
    """Train every run; raises ``ExperimentFailed`` when a run has not converged, the largest
    bias does not lengthen DPO's answers by LENGTH_MARGIN, or R-DPO does not undo most of it."""
    start = time.perf_counter()
    world = lecture_world(config.seed)
    grids = [_train_grid(world, config, beta) for beta in config.betas]
    run = LengthRun(
        config=config,
        world=world,
        reference=world.figures(world.pi_ref),
        optimum=[world.figures(population_optimum(world, 0.0, 0.0, b)) for b in config.betas],
        dpo=[grid[0] for grid in grids],
        rdpo=[grid[1] for grid in grids],
        likeliest=[grid[2] for grid in grids],
        reference_likeliest=_likeliest(world, world.pi_ref),
        unbiased=[
            _unbiased(world, config, beta, grid[0])
            for beta, grid in zip(config.betas, grids, strict=True)
        ],
        max_tv_to_optimum=max(grid[3] for grid in grids),
        seconds=time.perf_counter() - start,
    )
    _check_measurable(run)
    return run


def _unbiased(world: LengthWorld, config: LengthConfig, beta: float, dpo: list[dict]) -> dict:
    """DPO's figures on unbiased labels (b = 0) at ``beta``: the sweep's first run when it
    starts at 0, else a run of its own."""
    if config.biases[0] == 0:
        return dpo[0]
    pi = train_on_biased_labels(world, 0.0, beta, config.steps, config.learning_rate)
    return world.figures(pi)


def _check_measurable(run: LengthRun) -> None:
    config = run.config
    if run.max_tv_to_optimum > CONVERGED_TV:
        raise ExperimentFailed(
            f"a run ended {run.max_tv_to_optimum:.3g} in TV from the optimum of its loss (at most "
            f"{CONVERGED_TV:g} counts as trained): give it more --steps or a larger --lr"
        )
    for i, beta in enumerate(config.betas):
        unbiased = run.unbiased[i]["mean_length"]
        rise = run.dpo[i][-1]["mean_length"] - unbiased
        if rise < LENGTH_MARGIN:
            raise ExperimentFailed(
                f"at β = {beta:g}, labels biased by b = {config.biases[-1]:g} per token lengthen "
                f"DPO's answers by {rise:.3g} tokens over unbiased labels' (at least "
                f"{LENGTH_MARGIN:g} is needed to show the exploit): raise the largest of "
                "--biases, or drop the largest --betas"
            )
        left = abs(run.rdpo[i][-1]["mean_length"] - unbiased)
        if left > FIX_SHARE * rise:
            raise ExperimentFailed(
                f"at β = {beta:g}, R-DPO (α = b) leaves its answers {left:.3g} tokens from the "
                f"unbiased run's mean length, more than {FIX_SHARE:g} of DPO's {rise:.3g}: give "
                "it more --steps"
            )

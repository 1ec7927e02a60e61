"""Where DPO breaks (1): mass on responses that no pair compared, and (2) the chosen response's own
log-prob falling while the margin grows — both from the same runs of the tiny GPT-2.

N pairs drawn from π_ref leave most of the 259 responses in no pair: π_ref rarely says them. The
loss never mentions them, and the pairs' "beat" graph is not strongly connected, so the
Bradley–Terry MLE does not exist (``lab.data.pairs.mle_exists``) and nothing pins the policy's
ratios down. A table would leave an unseen response's logit where it was (its mass then falls as
the winners rise); a language model shares its parameters between responses, so pushing "4" up
can push "4 4" up with it. The runs, all from one π_ref (warmed up once, as in
``lab.training.transformer_runs``):

    reference   N pairs from π_ref: the failure
    uniform     the same N drawn uniformly over every response (a broader proposal)
    more        ``more`` × N pairs from π_ref (more data)
    population  the default transformer run (every pair, weighted by its probability)

Unseen means: in no pair of the reference run, for the first prompt; every run's mass on those
same responses is recorded, so the bars compare like with like. The chosen-falls record reads the
trainers' metrics (TRL's names) before and after: the transformer's reference and population runs,
and the tabular policy on the default world's population (``lab.experiments.chosen_falls``).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, replace

import torch

from lab.core.dpo import total_variation
from lab.data.batches import enumerated_preference_batch
from lab.data.enumerated import EnumeratedWorld, enumerate_world, world_pair_weights
from lab.data.pairs import compared_responses
from lab.experiments import ExperimentFailed
from lab.experiments.chosen_falls import chosen_falls_record
from lab.training.policies import reference_policy
from lab.training.transformer import TransformerConfig
from lab.training.transformer_runs import run_transformer_pairs
from lab.worlds.tokens import TokenWorld, build_tokenizer

MIN_GAIN = 0.01  # how much more mass than π_ref's the failure run must put on unseen responses
SHOWN = 8  # responses drawn as bars: the likeliest under any of the policies
MAX_PAIRS = 100_000
# TRL's metrics recorded before and after each run
METRICS = (
    "logps/chosen",
    "logps/rejected",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
)


@dataclass(frozen=True)
class UnseenMassConfig:
    n_pairs: int = 1000  # N pairs for the reference and uniform runs
    seed: int = 1  # draws the pairs and their labels (π_ref is the transformer's, seed 0)
    steps: int = 800  # Adam steps per run (the transformer's default)
    more: int = 10  # the "more pairs" fix draws more × N pairs from π_ref

    def __post_init__(self) -> None:
        if not 10 <= self.n_pairs <= MAX_PAIRS:
            raise ValueError(f"n_pairs must be in 10..{MAX_PAIRS:,}, got {self.n_pairs:,}")
        if not 0 <= self.seed < 2**31:
            raise ValueError(f"seed must be in 0..{2**31 - 1}, got {self.seed}")
        if not 10 <= self.steps <= 100_000:
            raise ValueError(f"steps must be in 10..100,000, got {self.steps:,}")
        if not 2 <= self.more <= 100 or self.more * self.n_pairs > 10 * MAX_PAIRS:
            raise ValueError(
                f"more must be in 2..100 with more × n_pairs ≤ {10 * MAX_PAIRS:,}, got {self.more}"
            )


@dataclass(frozen=True)
class RunRecord:
    """One transformer run, seen from the first prompt. ``unseen_mass``: π_θ's mass on the
    responses in no pair of the reference run; ``own_unseen_mass``: on those in none of its own
    pairs; ``tv``: TV(π_θ, π*) per prompt; ``shown``: π_θ over the shown responses."""

    name: str
    pairs_from: str
    n_pairs: int | None
    mle_exists: bool
    distinct_pairs: int
    unseen_mass: float
    own_unseen_mass: float
    tv: list[float]
    shown: list[float]
    step0: dict[str, float]
    metrics: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class UnseenMassRun:
    config: UnseenMassConfig
    beta: float
    prompt: str
    nodes: list[dict]  # responses in some pair of the reference run: name, π_ref, wins, losses
    edges: list[dict]  # its distinct labelled pairs: chosen, rejected, count (likeliest first)
    unseen: list[str]  # responses in no pair, the ones π_θ (reference run) likes most first
    shown: list[str]  # the bars' responses
    pi_ref: list[float]  # over ``shown``
    pi_star: list[float]
    reference_unseen_mass: float  # π_ref's mass on the unseen responses
    optimal_unseen_mass: float  # π*'s
    top_unseen: dict  # the unseen response π_θ (reference run) likes most: name, π_θ, π_ref, π*
    runs: list[RunRecord]
    chosen_falls: dict = field(default_factory=dict)
    # Every prompt and response, not written: π_ref, π*, which responses are in the reference
    # run's pairs ("seen", bool), and each run's π_θ by its name. Shape: (prompts, n)
    tables: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    def run(self, name: str) -> RunRecord:
        return next(run for run in self.runs if run.name == name)

    def summary(self) -> dict:
        failed, uniform, more = (self.run(n) for n in ("reference", "uniform", "more"))
        return {
            "seen_responses": float(len(self.nodes)),
            "unseen_responses": float(len(self.unseen)),
            "distinct_pairs": float(failed.distinct_pairs),
            "mle_exists": float(failed.mle_exists),
            "unseen_mass_pi_ref": self.reference_unseen_mass,
            "unseen_mass_pi_star": self.optimal_unseen_mass,
            "unseen_mass_pi_theta": failed.unseen_mass,
            "unseen_mass_uniform": uniform.unseen_mass,
            "unseen_mass_more": more.unseen_mass,
            "top_unseen_pi_theta": self.top_unseen["pi_theta"],
            "tv_reference": failed.tv[0],
            "tv_uniform": uniform.tv[0],
            "tv_more": more.tv[0],
            "tv_population": self.run("population").tv[0],
            **self.chosen_falls.get("summary", {}),
        }

    def as_dict(self) -> dict:
        record = asdict(replace(self, tables={}))
        del record["tables"]
        record["summary"] = self.summary()
        return record


def _graph(weights: torch.Tensor, counts_scale: int, enumerated: EnumeratedWorld):
    """The first prompt's comparison graph: nodes (with π_ref, wins, losses) and edges."""
    names, table = enumerated.response_names(), weights[0] * counts_scale
    seen = compared_responses(weights)[0].nonzero().flatten().tolist()
    nodes = [
        {
            "response": names[y],
            "pi_ref": enumerated.pi_ref[0, y].item(),
            "wins": round(table[y].sum().item()),
            "losses": round(table[:, y].sum().item()),
        }
        for y in sorted(seen, key=lambda y: -enumerated.pi_ref[0, y].item())
    ]
    edges = [
        {"chosen": names[w], "rejected": names[loser], "count": round(table[w, loser].item())}
        for w, loser in table.nonzero().tolist()
    ]
    edges.sort(key=lambda edge: (-edge["count"], edge["chosen"], edge["rejected"]))
    return nodes, edges


def _train(name, pairs_from, n_pairs, seed, setup, unseen) -> tuple[RunRecord, torch.Tensor]:
    """One transformer run on the pairs (None: the population) from ``pairs_from``."""
    config, reference, enumerated = setup
    weights = world_pair_weights(enumerated, pairs_from, n_pairs, seed)
    batch = enumerated_preference_batch(enumerated.space, weights)
    report, _, probs = run_transformer_pairs(
        config, reference, batch, enumerated, "samples" if n_pairs else "population", n_pairs,
        seed, compare=False, pair_weights=weights, progress=False,
    )  # fmt: skip
    record = RunRecord(
        name=name,
        pairs_from=pairs_from,
        n_pairs=n_pairs,
        mle_exists=bool(report.mle_exists),
        distinct_pairs=report.distinct_pairs,
        unseen_mass=probs[0][unseen].sum().item(),
        own_unseen_mass=probs[0][~compared_responses(weights)[0]].sum().item(),
        tv=total_variation(probs, enumerated.pi_star).tolist(),
        shown=[],
        step0={key: report.step0[key] for key in METRICS},
        metrics={key: report.metrics[key] for key in METRICS},
        seconds=report.seconds,
    )
    return record, probs


def _shown(enumerated: EnumeratedWorld, policies: list[torch.Tensor]) -> list[int]:
    """The first prompt's likeliest responses under π_ref, π* or any trained π_θ."""
    stacked = torch.stack([enumerated.pi_ref[0], enumerated.pi_star[0], *(p[0] for p in policies)])
    return stacked.amax(0).argsort(descending=True)[:SHOWN].tolist()


@functools.cache
def _reference() -> tuple[torch.nn.Module, EnumeratedWorld]:
    """π_ref — the default transformer run's, warmed up once per process and frozen — and the
    token world enumerated under it."""
    training, world = TransformerConfig(), TokenWorld()
    tokenizer = build_tokenizer(world)
    reference = reference_policy(world, tokenizer, training.seed, training.warmup_steps)
    return reference, enumerate_world(world, tokenizer, reference, training.beta)


def _setup(config: UnseenMassConfig):
    """(transformer settings, π_ref, the enumerated world)."""
    return (TransformerConfig(steps=config.steps), *_reference())


def unseen_mass_experiment(config: UnseenMassConfig = UnseenMassConfig()) -> UnseenMassRun:
    """The four runs and the tabular population run. Raises ``ExperimentFailed`` when the
    reference run does not put ``MIN_GAIN`` more mass than π_ref on the responses it never saw."""
    setup = _setup(config)
    enumerated = setup[2]
    weights = world_pair_weights(enumerated, "reference", config.n_pairs, config.seed)
    unseen = ~compared_responses(weights)[0]
    failed, probs = _train("reference", "reference", config.n_pairs, config.seed, setup, unseen)
    reference_mass = enumerated.pi_ref[0][unseen].sum().item()
    if failed.unseen_mass < reference_mass + MIN_GAIN:
        raise ExperimentFailed(
            f"π_θ put {failed.unseen_mass:.3g} of the first prompt's mass on the responses in no "
            f"pair, π_ref {reference_mass:.3g}: not {MIN_GAIN:g} more, the effect is not "
            f"measurable at these settings ({config.n_pairs:,} pairs compare "
            f"{int((~unseen).sum())} of the first prompt's {unseen.numel()} responses); "
            "draw fewer pairs (--n-pairs), or change --steps or --seed"
        )
    runs, policies = [failed], [probs]
    for name, pairs_from, n_pairs in (
        ("uniform", "uniform", config.n_pairs),
        ("more", "reference", config.more * config.n_pairs),
        ("population", "uniform", None),
    ):
        run, probs = _train(name, pairs_from, n_pairs, config.seed, setup, unseen)
        runs.append(run)
        policies.append(probs)
    return _record(config, enumerated, weights, unseen, runs, policies)


def _record(config, enumerated, weights, unseen, runs, policies) -> UnseenMassRun:
    names, shown = enumerated.response_names(), _shown(enumerated, policies)
    runs = [
        RunRecord(**{**asdict(run), "shown": probs[0][shown].tolist()})
        for run, probs in zip(runs, policies, strict=True)
    ]
    theta = policies[0][0]
    order = sorted(unseen.nonzero().flatten().tolist(), key=lambda y: -theta[y].item())
    top = order[0]
    nodes, edges = _graph(weights, config.n_pairs, enumerated)
    return UnseenMassRun(
        config=config,
        beta=enumerated.beta,
        prompt=enumerated.world.prompts[0],
        nodes=nodes,
        edges=edges,
        unseen=[names[y] for y in order],
        shown=[names[y] for y in shown],
        pi_ref=enumerated.pi_ref[0][shown].tolist(),
        pi_star=enumerated.pi_star[0][shown].tolist(),
        reference_unseen_mass=enumerated.pi_ref[0][unseen].sum().item(),
        optimal_unseen_mass=enumerated.pi_star[0][unseen].sum().item(),
        top_unseen={
            "response": names[top],
            "pi_theta": theta[top].item(),
            "pi_ref": enumerated.pi_ref[0, top].item(),
            "pi_star": enumerated.pi_star[0, top].item(),
        },
        runs=runs,
        chosen_falls=chosen_falls_record(runs),
        tables={
            "pi_ref": enumerated.pi_ref,
            "pi_star": enumerated.pi_star,
            "seen": compared_responses(weights),
            **{run.name: probs for run, probs in zip(runs, policies, strict=True)},
        },
    )

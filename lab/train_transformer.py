"""DPO on a tiny transformer, checked against the closed-form optimum π* = π_ref·exp(r/β)/Z.

The tabular lab trains one free parameter per response; here the policy is a causal language model
that scores a response as a sum of token log-probs (``lab.sequences``). The world is small enough
(``lab.token_world``: 259 responses per prompt) to list every response, so π_θ, π_ref and π* are
whole distributions and "DPO reaches π*" is a measurement: total variation, max |error| and
KL(π_θ ‖ π*) over every response of every prompt.

Preference pairs: a prompt uniformly, two different responses from a *proposal*, the first
preferred with Bradley–Terry probability σ(r₁ − r₂) under the true reward.
- The default proposal is uniform over the enumerated responses: the population is then "every
  pair of the enumerated space, weighted by its Bradley–Terry probability".
- ``--pairs-from reference`` draws both responses from π_ref, as in the DPO paper.
In population mode both reach π* (every pair has some weight, so the Bradley–Terry maximum
likelihood exists and pins every log-ratio). With N sampled pairs they fail differently: from
π_ref, responses that π_ref rarely says are never compared (the MLE does not exist), nothing in the
loss holds them down, and π_θ can move mass onto them — "mass on unseen responses"; uniformly,
every response is compared but the N comparisons are spread over 259 responses, so the few that
matter (the right answer) are compared rarely and their ratios are noisy.
Data modes: population (every labelled pair, weighted by its probability: the exact expected
loss), finite samples (N pairs: the mean loss over them) and a preference file (its rows, equally
weighted).

Each step is ONE forward pass over the distinct sequences of the batch (chosen and rejected
together), the DPO loss of ``lab.step5_dpo_loss`` on their sequence log-probs, and Adam. log π_ref
is computed once before training (π_ref is frozen). Logged metrics carry TRL's names.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer
from tqdm import tqdm

from lab.files import written_atomically
from lab.palette import PALETTE
from lab.policies import WARMUP_STEPS, TinyLMConfig, reference_policy, single_cpu_thread
from lab.preference_data import (
    PreferenceBatch,
    concatenated_forward,
    enumerated_preference_batch,
    load_preferences,
)
from lab.sequences import SequenceBatch, batch_logprobs, collate
from lab.step1_objective import total_variation
from lab.step2_optimal_policy import optimal_policy
from lab.step4_bradley_terry import preference_prob
from lab.step5_dpo_loss import dpo_loss
from lab.token_world import TokenWorld, build_tokenizer, response_space, response_text
from lab.train import compare_to_optimum, mle_exists, pick_device
from lab.validation import check_beta

METRIC_NAMES = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
)
PROPOSALS = ("uniform", "reference")
SAMPLE_SIZES = (1000, 10000, 100000)  # finite-sample runs when --n-pairs is not given


@dataclass(frozen=True)
class TransformerSetup:
    """Everything a run depends on. The defaults are the lecture's setup."""

    beta: float = 0.5
    steps: int = 800
    learning_rate: float = 3e-3
    warmup_steps: int = WARMUP_STEPS
    seed: int = 0
    pairs_from: str = "uniform"  # the proposal the two responses of a pair are drawn from
    batch_pairs: int | None = None  # pairs per step; None: all of them (full batch)
    model: TinyLMConfig = field(default_factory=TinyLMConfig)

    def __post_init__(self) -> None:
        check_beta(self.beta)
        if self.steps < 1 or self.warmup_steps < 0:
            raise ValueError(
                f"need steps ≥ 1 and warmup_steps ≥ 0, got {self.steps}, {self.warmup_steps}"
            )
        if self.pairs_from not in PROPOSALS:
            raise ValueError(f"pairs_from must be one of {PROPOSALS}, got {self.pairs_from!r}")


# --- the enumerated world: π_ref, r and π* over every response ------------------------------------


@dataclass(frozen=True)
class EnumeratedWorld:
    """Every response of every prompt, with π_ref, r and π* as tables.

    space: every prompt ∘ response, prompt-major (row x·n + y holds response y of prompt x).
    responses: the n responses' token ids, the same for every prompt.
    pi_ref, reward, pi_star: float64 tables. Shape: (n_prompts, n)
    """

    world: TokenWorld
    tokenizer: Tokenizer
    beta: float
    space: SequenceBatch
    responses: tuple[tuple[int, ...], ...]
    pi_ref: torch.Tensor
    reward: torch.Tensor
    pi_star: torch.Tensor

    def response_names(self) -> list[str]:
        return [response_text(self.tokenizer, r) or "∅" for r in self.responses]


def enumerate_world(
    world: TokenWorld, tokenizer: Tokenizer, reference: torch.nn.Module, beta: float
) -> EnumeratedWorld:
    """π_ref's probability of every response, the reward table, and π* computed from the two."""
    responses = tuple(response_space(world, tokenizer))
    prompts = [tokenizer.encode(p).ids for p in world.prompts]
    space = collate(
        [p for p in prompts for _ in responses],
        [r for _ in prompts for r in responses],
        world.eos_id,
    )
    pi_ref = enumerated_probs(reference, space).reshape(len(prompts), len(responses))
    reward = torch.tensor(
        [[world.reward(x, response_text(tokenizer, y)) for y in responses] for x in world.prompts],
        dtype=torch.float64,
    )
    pi_star = optimal_policy(pi_ref, reward, beta)
    return EnumeratedWorld(world, tokenizer, beta, space, responses, pi_ref, reward, pi_star)


def enumerated_probs(model: torch.nn.Module, space: SequenceBatch) -> torch.Tensor:
    """π(y | x) of every row of ``space``, computed in float64 on a copy of the model, so that the
    comparison with π* is not limited by float32 rounding. Shape: (len(space),)"""
    model64 = copy.deepcopy(model).double().eval()
    device = next(model64.parameters()).device
    with torch.no_grad():
        return batch_logprobs(model64, space.to(device)).exp().cpu()


# lab.world draws a pair's responses from π_ref; here the distribution they are drawn from is a
# parameter (uniform by default), so these three take that proposal instead of a World.
def pair_proposal(enumerated: EnumeratedWorld, pairs_from: str) -> torch.Tensor:
    """The distribution the two responses of a pair are drawn from. Shape: (n_prompts, n)"""
    if pairs_from == "reference":
        return enumerated.pi_ref
    return torch.full_like(enumerated.pi_ref, 1 / enumerated.pi_ref.shape[-1])


def pair_distribution(proposal: torch.Tensor) -> torch.Tensor:
    """q(x, y₁, y₂): x uniform, (y₁, y₂) ~ proposal ⊗ proposal given y₁ ≠ y₂.

    Shape: (n_prompts, n, n); sums to 1; zero on the diagonal.
    """
    n_prompts, n = proposal.shape
    joint = proposal[:, :, None] * proposal[:, None, :] * (1 - torch.eye(n, dtype=proposal.dtype))
    return joint / joint.sum(dim=(-2, -1), keepdim=True) / n_prompts


def population_pair_weights(proposal: torch.Tensor, reward: torch.Tensor) -> torch.Tensor:
    """Probability of each labelled triple (x, y_w, y_l): (q(x,w,l) + q(x,l,w))·σ(r_w − r_l).

    The exact expected DPO loss is Σ weights·loss. Shape: (n_prompts, n, n); sums to 1.
    """
    q = pair_distribution(proposal)
    return (q + q.transpose(-2, -1)) * preference_prob(reward[:, :, None], reward[:, None, :])


def sampled_pair_weights(
    proposal: torch.Tensor, reward: torch.Tensor, n_pairs: int, seed: int
) -> torch.Tensor:
    """The fraction of N sampled labelled pairs that are each (x, y_w, y_l).

    Pairs are drawn from ``pair_distribution``, labelled by Bradley–Terry with the true reward; the
    mean DPO loss over the N pairs is Σ weights·loss. Shape: (n_prompts, n, n); sums to 1.
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be ≥ 1, got {n_pairs}")
    n_prompts, n = proposal.shape
    generator = torch.Generator().manual_seed(seed)
    flat_q = pair_distribution(proposal).reshape(-1)
    draws = torch.multinomial(flat_q, n_pairs, replacement=True, generator=generator)
    prompt, first, second = draws // (n * n), (draws // n) % n, draws % n
    p_first = preference_prob(reward[prompt, first], reward[prompt, second])
    first_wins = torch.rand(n_pairs, generator=generator, dtype=torch.float64) < p_first
    winner = torch.where(first_wins, first, second)
    loser = torch.where(first_wins, second, first)
    flat = (prompt * n + winner) * n + loser
    counts = torch.bincount(flat, minlength=n_prompts * n * n).to(torch.float64)
    return counts.reshape(n_prompts, n, n) / n_pairs


def world_pair_weights(
    enumerated: EnumeratedWorld, pairs_from: str, n_pairs: int | None, seed: int
) -> torch.Tensor:
    """The population's pair weights (``n_pairs`` None) or those of N sampled pairs, over the
    enumerated world. Shape: (n_prompts, n, n)"""
    proposal = pair_proposal(enumerated, pairs_from)
    if n_pairs is None:
        return population_pair_weights(proposal, enumerated.reward)
    return sampled_pair_weights(proposal, enumerated.reward, n_pairs, seed)


def world_pairs(
    enumerated: EnumeratedWorld, pairs_from: str, n_pairs: int | None, seed: int
) -> PreferenceBatch:
    """``world_pair_weights`` as a PreferenceBatch over the enumerated responses."""
    weights = world_pair_weights(enumerated, pairs_from, n_pairs, seed)
    return enumerated_preference_batch(enumerated.space, weights)


def policy_probs(policy: torch.nn.Module, enumerated: EnumeratedWorld) -> torch.Tensor:
    """π_θ over every response of every prompt. Shape: (n_prompts, n)"""
    return enumerated_probs(policy, enumerated.space).reshape(enumerated.pi_star.shape)


# --- the DPO step ---------------------------------------------------------------------------------


def dpo_batch_metrics(
    policy: torch.nn.Module, batch: PreferenceBatch, beta: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted DPO loss of a batch, from one concatenated forward pass, and TRL's metrics.

    Args:
        policy: π_θ, a causal LM.
        batch: pairs with ``reference_logps`` (``PreferenceBatch.with_reference``).
        beta: the KL strength β.

    Returns:
        (loss, metrics): the scalar Σ_p weight_p·L_DPO(p), differentiable; and the weighted means
        of the detached implicit rewards β·log π_θ/π_ref ("rewards/chosen", "rewards/rejected"),
        of their difference ("rewards/margins"), the weight of pairs whose chosen reward is higher
        ("rewards/accuracies") and the policy's log-probs ("logps/chosen", "logps/rejected").
    """
    if batch.reference_logps is None:
        raise ValueError("the batch needs log π_ref first: call batch.with_reference(reference)")
    policy_chosen_logps, policy_rejected_logps = concatenated_forward(policy, batch)
    losses, chosen_rewards, rejected_rewards = dpo_loss(
        policy_chosen_logps,
        policy_rejected_logps,
        batch.reference_logps[batch.chosen_index],
        batch.reference_logps[batch.rejected_index],
        beta,
    )
    weight = batch.weight.to(losses.dtype)
    loss = (weight * losses).sum()

    def mean(values: torch.Tensor) -> torch.Tensor:
        return (weight * values.detach().to(weight.dtype)).sum()

    summaries = torch.stack(
        [
            loss.detach(),
            mean(chosen_rewards),
            mean(rejected_rewards),
            mean(chosen_rewards - rejected_rewards),
            mean((chosen_rewards > rejected_rewards).float()),
            mean(policy_chosen_logps),
            mean(policy_rejected_logps),
        ]
    )
    # One transfer to Python for all of them (on a GPU, each .item() would wait for the device).
    metrics = dict(zip(METRIC_NAMES, summaries.tolist(), strict=True))
    return loss, metrics


def start_policy(reference: torch.nn.Module) -> torch.nn.Module:
    """π_θ at step 0: a trainable copy of π_ref (the loss starts at ln 2, every reward at 0)."""
    return copy.deepcopy(reference).requires_grad_(True)


def train_dpo(
    policy: torch.nn.Module,
    batch: PreferenceBatch,
    beta: float,
    steps: int,
    learning_rate: float,
    batch_pairs: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    description: str = "DPO",
) -> list[dict[str, float]]:
    """Train π_θ in place with the DPO loss and Adam; return the metrics of every step.

    Args:
        policy: π_θ, usually ``start_policy(reference)``.
        batch: the pairs, with ``reference_logps``, on the policy's device.
        batch_pairs: pairs per step, drawn with probability their weight (``PreferenceBatch.draw``);
            None: every pair, every step (full batch).
        seed: seeds the draws of pairs.
        progress: a tqdm bar on stderr; None: only when stderr is a terminal.

    Returns:
        One dict per step with the METRIC_NAMES, measured before that step's update.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    policy.train()
    history = []
    disable = None if progress is None else not progress
    bar = tqdm(range(steps), desc=description, disable=disable, leave=False, file=sys.stderr)
    with single_cpu_thread():
        for _ in bar:
            step_batch = batch if batch_pairs is None else batch.draw(batch_pairs, generator)
            loss, metrics = dpo_batch_metrics(policy, step_batch, beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.append(metrics)
            margin = metrics["rewards/margins"]
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", margin=f"{margin:.3f}")
    policy.eval()
    return history


# --- a whole run ----------------------------------------------------------------------------------


@dataclass
class RunReport:
    """One training run, compared with π* when the world's reward is known. Field names follow
    the tabular runs' (``lab.train.RunReport``) where they mean the same."""

    mode: str  # "population", "samples" or "file"
    n_pairs: int | None  # N sampled or read; None for the population
    seed: int | None  # the seed of the sampled pairs (and of minibatch draws)
    beta: float
    steps: int
    distinct_pairs: int  # distinct labelled (x, y_w, y_l) the loss sums over
    final_loss: float
    max_abs_error: float | None  # max over (x, y) of |π_θ − π*|; None without a known reward
    tv: float | None  # max over prompts of TV(π_θ, π*)
    kl: float | None  # max over prompts of KL(π_θ ‖ π*)
    reference_tv: float | None  # max over prompts of TV(π_ref, π*): the distance DPO must close
    mle_exists: bool | None  # is the Bradley–Terry MLE finite on these pairs (lab.train)?
    step0: dict[str, float]  # the first step's metrics (π_θ = π_ref): loss ln 2, rewards 0
    metrics: dict[str, float]  # the last step's metrics, TRL's names
    device: str
    seconds: float
    figure: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def run_training(
    setup: TransformerSetup,
    reference: torch.nn.Module,
    batch: PreferenceBatch,
    enumerated: EnumeratedWorld | None,
    mode: str,
    n_pairs: int | None,
    seed: int,
    pair_weights: torch.Tensor | None = None,
    progress: bool | None = None,
) -> tuple[RunReport, torch.nn.Module]:
    """Train π_θ from π_ref on ``batch``; compare it with π* when ``enumerated`` is given.

    Args:
        pair_weights: the batch's pairs as a (n_prompts, n, n) table, when they come from the
            enumerated world (to say whether the Bradley–Terry MLE exists).
    """
    device = next(reference.parameters()).device
    started = time.perf_counter()
    batch = batch.to(device).with_reference(reference)
    policy = start_policy(reference)
    label = "population" if n_pairs is None else f"{mode} N={n_pairs} seed={seed}"
    history = train_dpo(
        policy,
        batch,
        setup.beta,
        setup.steps,
        setup.learning_rate,
        setup.batch_pairs,
        seed,
        progress,
        description=f"DPO {label}",
    )
    distance: dict[str, float | None] = dict.fromkeys(("max_abs_error", "tv", "kl"))
    reference_tv = None
    if enumerated is not None:
        distance = compare_to_optimum(policy_probs(policy, enumerated), enumerated.pi_star)
        reference_tv = total_variation(enumerated.pi_ref, enumerated.pi_star).max().item()
    report = RunReport(
        mode=mode,
        n_pairs=n_pairs,
        seed=None if n_pairs is None else seed,
        beta=setup.beta,
        steps=setup.steps,
        distinct_pairs=len(batch),
        final_loss=history[-1]["loss"],
        **distance,
        reference_tv=reference_tv,
        mle_exists=None if pair_weights is None else bool(mle_exists(pair_weights).all()),
        step0=history[0],
        metrics=history[-1],
        device=str(device),
        seconds=time.perf_counter() - started,
    )
    return report, policy


def plot_policies(
    enumerated: EnumeratedWorld,
    pi_theta: torch.Tensor,
    prompt_index: int,
    title: str,
    stem: Path,
    top: int = 8,
) -> list[Path]:
    """Bars of π_ref, π* and π_θ over one prompt's likeliest responses, the rest pooled in one bar.

    Writes ``stem``.png and ``stem``.svg; returns their paths. Colours are the lecture's palette.
    """
    from matplotlib.figure import Figure  # here: runs that draw nothing skip the import

    rows = torch.stack([t[prompt_index] for t in (enumerated.pi_ref, enumerated.pi_star, pi_theta)])
    shown = rows.max(dim=0).values.argsort(descending=True)[:top]
    rest = rows.sum(dim=1) - rows[:, shown].sum(dim=1)
    names = [enumerated.response_names()[i] for i in shown.tolist()]
    labels = [name if name == "∅" else f"“{name}”" for name in names]
    labels.append(f"the other {rows.shape[1] - len(shown)}")
    values = torch.cat([rows[:, shown], rest[:, None]], dim=1)

    figure = Figure(figsize=(10, 4.2), facecolor=PALETTE.background)
    axes = figure.add_subplot()
    axes.set_facecolor(PALETTE.background)
    width = 0.27
    legend = (
        (r"$\pi_{\mathrm{ref}}$", PALETTE.reference),
        (r"$\pi^*$ (closed form)", PALETTE.optimal),
        (r"$\pi_\theta$ (DPO)", PALETTE.policy),
    )
    for k, (label, colour) in enumerate(legend):
        positions = [i + (k - 1) * width for i in range(len(labels))]
        axes.bar(positions, values[k].tolist(), width, label=label, color=colour)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_ylabel("probability", color=PALETTE.text)
    axes.set_title(title, color=PALETTE.text)
    axes.tick_params(colors=PALETTE.text)
    for spine in axes.spines.values():
        spine.set_color(PALETTE.muted)
    axes.legend(facecolor=PALETTE.background, labelcolor=PALETTE.text, edgecolor=PALETTE.muted)
    figure.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        with written_atomically(path) as partial:
            figure.savefig(partial, facecolor=PALETTE.background)
    return paths


def run_transformer(
    setup: TransformerSetup,
    population: bool = True,
    sample_sizes: tuple[int, ...] = (),
    seeds: tuple[int, ...] = (0,),
    data: Path | None = None,
    figure_dir: Path | None = None,
    progress: bool | None = None,
    world: TokenWorld | None = None,
    device: torch.device | str | None = None,
) -> dict:
    """The runs of ``dpo-lab train --policy transformer``; returns the report as a dict.

    The population run (if ``population``), one finite-sample run per N and seed, or — with
    ``data`` — one run on that preference file. π_ref is warmed up once (seed ``setup.seed``) and
    shared by every run. With ``figure_dir``, each run draws its bars there (PNG and SVG).
    """
    world = world or TokenWorld()
    device = pick_device(None if device is None else str(device))
    tokenizer = build_tokenizer(world)
    reference = reference_policy(
        world, tokenizer, setup.seed, setup.warmup_steps, setup.model, device
    )
    enumerated = enumerate_world(world, tokenizer, reference, setup.beta)

    # (mode, N, seed, batch, world to compare with, pair-weight table)
    jobs: list[tuple[str, int | None, int, PreferenceBatch, EnumeratedWorld | None, object]] = []
    notes = []
    if data is not None:
        records = load_preferences(data, world, tokenizer, setup.model.n_positions)
        known = set(records.prompts) <= set(world.prompts)
        notes.append(
            f"{data}: its prompts are the world's, so π_θ is compared with the world's π* — "
            "which assumes its preferences came from the world's reward (true of "
            "data/example_preferences.jsonl)."
            if known
            else f"{data}: prompts outside the world: no known reward, no π* to compare with."
        )
        target = enumerated if known else None
        jobs.append(("file", len(records.batch), setup.seed, records.batch, target, None))
    else:
        plan = ([(None, setup.seed)] if population else []) + [
            (n, seed) for n in sample_sizes for seed in seeds
        ]
        for n_pairs, seed in plan:
            weights = world_pair_weights(enumerated, setup.pairs_from, n_pairs, seed)
            batch = enumerated_preference_batch(enumerated.space, weights)
            mode = "population" if n_pairs is None else "samples"
            jobs.append((mode, n_pairs, seed, batch, enumerated, weights))

    runs = []
    for mode, n_pairs, seed, batch, target, weights in jobs:
        report, policy = run_training(
            setup, reference, batch, target, mode, n_pairs, seed, weights, progress
        )
        if figure_dir is not None:
            suffix = "" if n_pairs is None else f"_{mode}_{n_pairs}_seed{seed}"
            title = f"“{world.prompts[0]}”: DPO on a transformer, {mode}"
            if report.tv is not None:
                title += rf" — TV($\pi_\theta$, $\pi^*$) = {report.tv:.3g}"
            stem = Path(figure_dir) / f"transformer_policies{suffix}"
            paths = plot_policies(enumerated, policy_probs(policy, enumerated), 0, title, stem)
            report.figure = str(paths[0])
        runs.append(report.as_dict())
    return {
        "policy": "transformer",
        "setup": asdict(setup)
        | {"parameters": sum(p.numel() for p in reference.parameters()), "device": str(device)},
        "world": {
            "prompts": list(world.prompts),
            "responses_per_prompt": len(enumerated.responses),
            "vocabulary": list(world.vocabulary),
            "max_response_tokens": world.max_response_tokens,
        },
        "notes": notes,
        "summary": summarise(runs),
        "runs": runs,
    }


def summarise(runs: list[dict]) -> dict:
    """The population run's distance to π*, and each N's TV over its seeds."""
    summary: dict = {}
    population = [run for run in runs if run["mode"] == "population"]
    if population:
        summary["population_tv"] = population[0]["tv"]
        summary["population_max_abs_error"] = population[0]["max_abs_error"]
    by_n: dict[int, list[float]] = {}
    for run in runs:
        if run["mode"] == "samples":
            by_n.setdefault(run["n_pairs"], []).append(run["tv"])
    summary["samples"] = {
        str(n): {
            "seeds": len(tvs),
            "mean_tv": statistics.fmean(tvs),
            "min_tv": min(tvs),
            "max_tv": max(tvs),
        }
        for n, tvs in sorted(by_n.items())
    }
    return summary


# --- the command line: `dpo-lab train --policy transformer` (options in lab/cli.py) --------------


def main(args: argparse.Namespace, parser: argparse.ArgumentParser, command: str) -> int:
    """Run ``dpo-lab train --policy transformer``. Bad options are usage errors (exit 2), and so
    is a bad preference file (its message names the file, each line and the problem)."""
    defaults = TransformerSetup()
    if args.world != "default":
        parser.error("--policy transformer trains on its own token world: drop --world")
    mode = args.mode or ("both" if args.n_pairs else "population")
    n_pairs = tuple(args.n_pairs or SAMPLE_SIZES) if mode != "population" else ()
    if args.data is not None and (args.mode or args.n_pairs):
        parser.error("--data is its own data: drop --mode and --n-pairs")
    if any(n < 1 for n in n_pairs):
        parser.error("every --n-pairs must be ≥ 1")
    try:
        setup = TransformerSetup(
            beta=defaults.beta if args.beta is None else args.beta,
            steps=defaults.steps if args.steps is None else args.steps,
            learning_rate=defaults.learning_rate if args.lr is None else args.lr,
            warmup_steps=defaults.warmup_steps if args.warmup_steps is None else args.warmup_steps,
            pairs_from=args.pairs_from or defaults.pairs_from,
            batch_pairs=args.batch_pairs,
        )
        report = run_transformer(
            setup,
            population=mode != "samples",
            sample_sizes=n_pairs,
            seeds=tuple(args.seeds or (0,)),
            data=args.data,
            figure_dir=None if args.plots is None else Path(args.plots),
            device=args.device,
        )
    except (ValueError, OSError) as error:  # PreferenceDataError is a ValueError
        parser.error(str(error))
    report = {"command": command, **report}
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 0


def format_report(report: dict) -> str:
    """The report as a table, one row per run, with the step-0 check and the figures."""
    setup, world = report["setup"], report["world"]
    pairs = "uniformly" if setup["pairs_from"] == "uniform" else "from π_ref"
    lines = [
        f"DPO on a tiny transformer: GPT-2, {setup['model']['n_layer']} layers × "
        f"{setup['model']['n_embd']}, {setup['parameters']:,} parameters, on {setup['device']}",
        f"world: prompts {', '.join(map(repr, world['prompts']))}; "
        f"{world['responses_per_prompt']} responses each (≤ {world['max_response_tokens']} tokens)",
        f"π_ref: the model after {setup['warmup_steps']} supervised warm-up steps; "
        f"β = {setup['beta']}; {setup['steps']} Adam steps at lr {setup['learning_rate']}; "
        f"a pair's two responses drawn {pairs}",
        *report["notes"],
        "",
    ]
    header = ("mode", "N", "seed", "TV(π_θ,π*)", "max|π_θ−π*|", "KL(π_θ‖π*)", "TV(π_ref,π*)",
              "loss", "margins", "accuracies", "MLE", "seconds")  # fmt: skip
    rows = [header]
    for run in report["runs"]:
        m = run["metrics"]
        rows.append(
            (
                run["mode"],
                "—" if run["n_pairs"] is None else f"{run['n_pairs']:,}",
                "—" if run["seed"] is None else str(run["seed"]),
                _number(run["tv"]),
                _number(run["max_abs_error"]),
                _number(run["kl"]),
                _number(run["reference_tv"]),
                f"{m['loss']:.4f}",
                f"{m['rewards/margins']:.3f}",
                f"{m['rewards/accuracies']:.3f}",
                {True: "yes", False: "no", None: "—"}[run["mle_exists"]],
                f"{run['seconds']:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    table.insert(1, "  ".join("-" * w for w in widths))
    lines += [line.rstrip() for line in table]
    lines.append("")
    worst_loss = max(abs(run["step0"]["loss"] - math.log(2)) for run in report["runs"])
    worst_reward = max(
        abs(run["step0"][key])
        for run in report["runs"]
        for key in ("rewards/chosen", "rewards/rejected")
    )
    lines.append(
        f"step 0 (π_θ = π_ref), every run: |loss − ln 2| ≤ {worst_loss:.1e}, "
        f"|mean reward| ≤ {worst_reward:.1e}"
    )
    lines.append(
        "MLE: whether the pairs' Bradley–Terry maximum-likelihood reward is finite; where it "
        "is not, DPO's optimum lies at infinity and training stops wherever it stops."
    )
    figures = [run["figure"] for run in report["runs"] if run.get("figure")]
    if figures:
        lines.append("figures (PNG and SVG): " + ", ".join(figures))
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"

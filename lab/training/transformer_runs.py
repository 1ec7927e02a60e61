"""DPO on the tiny GPT-2, compared with the closed-form π* over every response of the token world.

π_ref is the model after a short supervised warm-up, shared by every run of an experiment. Each run
trains a copy of it on one data set — the population of pairs (every labelled pair weighted by its
probability: the exact expected loss), N sampled pairs (the mean loss over them), or a preference
file's rows — and measures TV, max |error| and KL(π_θ ‖ π*) over every response.

With N sampled pairs the two proposals fail differently: from π_ref, responses that π_ref rarely
says are never compared (the Bradley–Terry MLE does not exist), nothing holds them down, and π_θ
can move mass onto them; uniformly, every response is compared but the right answer only rarely,
so its ratio is noisy. In population mode both reach π*.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lab.core.dpo import log_optimal_policy, total_variation
from lab.data.batches import PreferenceBatch, enumerated_preference_batch
from lab.data.enumerated import EnumeratedWorld, enumerate_world, policy_probs, world_pair_weights
from lab.data.jsonl import load_preferences
from lab.data.pairs import mle_exists
from lab.training.devices import Log, pick_device, say
from lab.training.policies import reference_policy
from lab.training.runs import RunReport, compare_to_optimum
from lab.training.transformer import TransformerConfig, start_policy, train_transformer
from lab.worlds.tokens import TokenWorld, build_tokenizer

TV_EVERY = 50  # updates between two measurements of TV(π_θ, π*) during a run


def run_transformer_pairs(
    config: TransformerConfig,
    reference: torch.nn.Module,
    batch: PreferenceBatch,
    enumerated: EnumeratedWorld,
    mode: str,
    n_pairs: int | None,
    seed: int,
    compare: bool = True,
    pair_weights: torch.Tensor | None = None,
    progress: bool | None = None,
    log: Log = None,
) -> tuple[RunReport, torch.nn.Module, torch.Tensor]:
    """Train π_θ from π_ref on ``batch``; compare it with the enumerated world's π* (``compare``).
    Returns the report, the trained model, and π_θ over every response (n_prompts, n).

    Args:
        pair_weights: the batch's pairs as a (n_prompts, n, n) table, when they come from the
            enumerated world (to say whether the Bradley–Terry MLE exists).
    """
    device = next(reference.parameters()).device
    started = time.perf_counter()
    batch = batch.to(device).with_reference(reference)
    policy = start_policy(reference)
    label = "population" if n_pairs is None else f"{mode} N={n_pairs} seed={seed}"
    tv_history: list[tuple[int, float]] = []

    def see(done: int, trained: torch.nn.Module) -> None:
        tv = total_variation(policy_probs(trained, enumerated), enumerated.pi_star).max().item()
        tv_history.append((done, tv))

    watch = (TV_EVERY, see) if compare else None
    history = train_transformer(policy, batch, config, seed, progress, label, log, watch)
    probs = policy_probs(policy, enumerated)
    distance: dict[str, float | None] = dict.fromkeys(("max_abs_error", "tv", "kl"))
    reference_tv = None
    if compare:
        log_star = log_optimal_policy(enumerated.pi_ref, enumerated.reward, enumerated.beta)
        distance = compare_to_optimum(probs, enumerated.pi_star, log_star)
        reference_tv = total_variation(enumerated.pi_ref, enumerated.pi_star).max().item()
    report = RunReport(
        policy="transformer",
        mode=mode,
        n_pairs=n_pairs,
        seed=None if n_pairs is None else seed,
        beta=config.beta,
        steps=config.steps,
        distinct_pairs=len(batch),
        final_loss=history[-1]["loss"],
        **distance,
        reference_tv=reference_tv,
        mle_exists=None if pair_weights is None else bool(mle_exists(pair_weights).all()),
        step0=history[0],
        metrics=history[-1],
        device=str(device),
        seconds=time.perf_counter() - started,
        tv_history=tv_history or None,
    )
    return report, policy, probs


@dataclass
class TransformerExperiment:
    """The runs of one ``transformer_experiment``: their reports, π_θ over every response after each
    run, the enumerated world they share, and notes on the data."""

    config: TransformerConfig
    enumerated: EnumeratedWorld
    parameters: int
    device: str
    reports: list[RunReport]
    policies: list[torch.Tensor] = field(repr=False)
    notes: list[str] = field(default_factory=list)
    data: Path | None = None  # the preference file trained on, if any
    warnings: list[str] = field(default_factory=list)  # also among the notes
    reference: torch.nn.Module | None = field(default=None, repr=False)  # π_ref, the warmed-up LM
    trained: list[torch.nn.Module] = field(default_factory=list, repr=False)  # π_θ of each run


def transformer_experiment(
    config: TransformerConfig = TransformerConfig(),
    population: bool = True,
    sample_sizes: tuple[int, ...] = (),
    seeds: tuple[int, ...] = (0,),
    data: Path | None = None,
    progress: bool | None = None,
    world: TokenWorld | None = None,
    log: Log = None,
) -> TransformerExperiment:
    """The population run (if ``population``), one run per N and seed, or — with ``data`` — one run
    on that preference file. π_ref is warmed up once (seed ``config.seed``) and shared. ``log``
    gets a line per phase (and a few per run)."""
    world = world or TokenWorld()
    device = pick_device(config.device)
    tokenizer = build_tokenizer(world)
    if data is not None:  # read before any training: a bad file fails at once
        jobs, notes, warnings = _file_jobs(data, world, tokenizer, config)
    say(log, f"warming up π_ref: {config.warmup_steps} supervised steps …")
    reference = reference_policy(
        world, tokenizer, config.seed, config.warmup_steps, config.model, device
    )
    say(log, "scoring every response with π_ref; π* in closed form …")
    enumerated = enumerate_world(world, tokenizer, reference, config.beta)
    if data is None:
        jobs = _world_jobs(enumerated, config, population, sample_sizes, seeds)
        notes, warnings = [], []
    reports, policies, trained = [], [], []
    for number, (mode, n_pairs, seed, batch, compare, weights) in enumerate(jobs, start=1):
        which = {"population": "population run", "samples": "run", "file": "run"}[mode]
        what = {"population": "", "samples": f": N={n_pairs} seed={seed}"}.get(
            mode, f": the {n_pairs} rows of {data}"
        )
        say(log, f"training {which} {number}/{len(jobs)}{what} (DPO, {config.steps} Adam steps) …")
        report, policy, probs = run_transformer_pairs(
            config, reference, batch, enumerated, mode, n_pairs, seed, compare, weights, progress,
            log,
        )  # fmt: skip
        reports.append(report)
        policies.append(probs)
        trained.append(policy)
    parameters = sum(p.numel() for p in reference.parameters())
    return TransformerExperiment(
        config, enumerated, parameters, str(device), reports, policies, notes, data, warnings,
        reference, trained,
    )  # fmt: skip


# (mode, N, seed, batch, compare with π*, pair-weight table)
Job = tuple[str, int | None, int, PreferenceBatch, bool, torch.Tensor | None]


def _world_jobs(enumerated, config, population, sample_sizes, seeds) -> list[Job]:
    """The population and N pairs per seed, from the enumerated world."""
    plan = ([(None, config.seed)] if population else []) + [
        (n, seed) for n in sample_sizes for seed in seeds
    ]
    jobs: list[Job] = []
    for n_pairs, seed in plan:
        weights = world_pair_weights(enumerated, config.pairs_from, n_pairs, seed)
        batch = enumerated_preference_batch(enumerated.space, weights)
        mode = "population" if n_pairs is None else "samples"
        jobs.append((mode, n_pairs, seed, batch, True, weights))
    return jobs


def _file_jobs(data: Path, world, tokenizer, config) -> tuple[list[Job], list[str], list[str]]:
    """One run on the rows of a preference file; the notes and warnings about the file."""
    records = load_preferences(data, world, tokenizer, config.model.n_positions)
    known = set(records.prompts) <= set(world.prompts)
    notes = [
        f"{data}: its prompts are the world's, so π_θ is compared with the world's π* — "
        "which assumes its preferences came from the world's reward (true of "
        "data/example_preferences.jsonl)."
        if known
        else f"{data}: prompts outside the world: no known reward, no π* to compare with."
    ]
    warnings = []
    if records.skipped:
        lines = ", ".join(map(str, records.skipped[:10])) + (
            ", …" if len(records.skipped) > 10 else ""
        )
        warnings.append(
            f"{data}: skipped {len(records.skipped)} row(s) whose chosen and rejected are the "
            f"same response (lines {lines}): a tie states no preference, and its DPO gradient is 0"
        )
    job = ("file", len(records.batch), config.seed, records.batch, known, None)
    return [job], notes + warnings, warnings

"""Training runs compared with the closed-form π*: one report per run, for either policy, and the
tabular experiments (the population and N sampled pairs per seed, each beside the reward-model +
KL-RL pipeline trained on the same data).

Population mode trains on the exact pair distribution (the expected loss); samples mode on N pairs
drawn with a seed; file mode (transformer only) on the rows of a preference file.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field, replace

import torch

from lab.core.dpo import (
    kl_divergence,
    kl_divergence_to_log,
    log_optimal_policy,
    optimal_policy,
    total_variation,
)
from lab.data.pairs import mle_exists, population_pair_weights, sample_pairs
from lab.training.devices import Log, pick_device, progress_bar, say
from lab.training.solvers import rlhf_policy
from lab.training.tabular import TabularConfig, TrainedTable, train_tabular, weighted_pair_loss
from lab.worlds.tabular import World


@dataclass
class RunReport:
    """One training run. Distances to π* are None when the world's reward is unknown (a preference
    file with other prompts); the pipeline's figures only exist for tabular runs."""

    policy: str  # "tabular" or "transformer"
    mode: str  # "population", "samples" or "file"
    n_pairs: int | None  # N sampled or read; None for the population
    seed: int | None  # the seed of the sampled pairs (and of minibatch draws)
    beta: float
    steps: int
    distinct_pairs: int  # distinct labelled (x, y_w, y_l) the loss sums over
    final_loss: float
    max_abs_error: float | None  # max over (x, y) of |π_θ − π*|
    tv: float | None  # max over prompts of TV(π_θ, π*)
    kl: float | None  # max over prompts of KL(π_θ ‖ π*)
    reference_tv: float | None  # max over prompts of TV(π_ref, π*): the distance DPO must close
    mle_exists: bool | None  # is the Bradley–Terry MLE of these pairs finite (lab.data.pairs)?
    step0: dict[str, float]  # TRL metrics at π_θ = π_ref: loss log 2, rewards 0
    metrics: dict[str, float]  # TRL metrics of the trained policy
    device: str
    seconds: float
    rlhf_max_abs_difference: float | None = None  # max |π_θ(DPO) − π(reward model + KL-RL)|
    rlhf_max_abs_error: float | None = None  # max |π(reward model + KL-RL) − π*|
    figure: str | None = None
    # (updates done, max over prompts of TV(π_θ, π*)) as training went: transformer runs against π*
    tv_history: list[tuple[int, float]] | None = None

    def as_dict(self) -> dict:
        return asdict(self)


# max |π_θ − π*| a tabular population run should end within: its loss is the expected loss, whose
# minimiser is π* exactly (float64; the default world's run ends at 2e-16).
POPULATION_TARGET = 1e-6


def compare_to_optimum(
    policy: torch.Tensor, star: torch.Tensor, log_star: torch.Tensor | None = None
) -> dict[str, float]:
    """max |π − π*|, and the worst prompt's TV(π, π*) and KL(π ‖ π*). With ``log_star`` (log π*)
    the KL stays finite where π* underflows to 0 (a small β)."""
    kl = kl_divergence(policy, star) if log_star is None else kl_divergence_to_log(policy, log_star)
    return {
        "max_abs_error": (policy - star).abs().max().item(),
        "tv": total_variation(policy, star).max().item(),
        "kl": kl.clamp_min(0).max().item(),
    }


def population_misses(reports: list[RunReport]) -> list[str]:
    """A sentence for each population run that fell short: a tabular one that ended above
    POPULATION_TARGET, any one that ended farther from π* than π_ref started. Empty if none."""
    misses = []
    for r in reports:
        if r.mode != "population" or r.max_abs_error is None:
            continue
        if r.policy == "tabular" and not r.max_abs_error <= POPULATION_TARGET:
            misses.append(
                f"the population run missed the {POPULATION_TARGET:g} target: max |π_θ − π*| = "
                f"{r.max_abs_error:.3g} after {r.steps} steps at β = {r.beta:g}; more steps, "
                "another learning rate, or a β nearer the reward's scale may reach it"
            )
        if r.reference_tv is not None and not r.tv <= r.reference_tv:
            misses.append(
                f"the population run ended farther from π* than π_ref started: TV(π_θ, π*) = "
                f"{r.tv:.3g} > TV(π_ref, π*) = {r.reference_tv:.3g} (β = {r.beta:g})"
            )
    return misses


def summarise(reports: list[RunReport]) -> dict:
    """The population run's distance to π*; per N, the spread of the distance over seeds and how
    fast it falls with N; the largest DPO-vs-pipeline difference; runs without a finite MLE."""
    summary: dict = {}
    population = [r for r in reports if r.mode == "population"]
    if population:
        summary["population_max_abs_error"] = population[0].max_abs_error
        summary["population_tv"] = population[0].tv
        if population[0].policy == "tabular":
            summary["population_target"] = POPULATION_TARGET
            summary["population_target_met"] = population[0].max_abs_error <= POPULATION_TARGET
    by_n: dict[int, list[RunReport]] = {}
    for report in reports:
        if report.mode == "samples" and report.max_abs_error is not None:
            by_n.setdefault(report.n_pairs, []).append(report)
    summary["samples"] = {str(n): _spread(runs) for n, runs in sorted(by_n.items())}
    sizes = sorted(by_n)
    if len(sizes) >= 2:
        first = statistics.fmean(r.max_abs_error for r in by_n[sizes[0]])
        last = statistics.fmean(r.max_abs_error for r in by_n[sizes[-1]])
        summary["error_slope_log_log"] = math.log(last / first) / math.log(sizes[-1] / sizes[0])
    differences = [
        r.rlhf_max_abs_difference for r in reports if r.rlhf_max_abs_difference is not None
    ]
    if differences:
        summary["max_dpo_rlhf_difference"] = max(differences)
    summary["runs_without_finite_mle"] = sum(r.mle_exists is False for r in reports)
    return summary


def _spread(runs: list[RunReport]) -> dict:
    errors, tvs = [r.max_abs_error for r in runs], [r.tv for r in runs]
    return {
        "seeds": len(runs),
        "mean_max_abs_error": statistics.fmean(errors),
        "min_max_abs_error": min(errors),
        "max_max_abs_error": max(errors),
        "mean_tv": statistics.fmean(tvs),
        "min_tv": min(tvs),
        "max_tv": max(tvs),
    }


# ---- the tabular experiments -------------------------------------------------------------------


def run_tabular(
    world: World,
    config: TabularConfig = TabularConfig(),
    n_pairs: int | None = None,
    seed: int | None = None,
    progress: bool | None = False,
    log: Log = None,
) -> tuple[RunReport, TrainedTable]:
    """Train DPO and the RLHF pipeline on the same data — the population (``n_pairs`` None) or
    ``n_pairs`` pairs drawn from π_ref with ``seed`` — and compare both with π*."""
    start = time.perf_counter()
    beta = world.beta if config.beta is None else config.beta
    device = pick_device(config.device)
    config = replace(config, device=str(device))
    if n_pairs is None:
        mode, weights = "population", population_pair_weights(world.pi_ref, world.reward)
    else:
        seed = 0 if seed is None else seed
        pairs = sample_pairs(world.pi_ref, world.reward, n_pairs, seed)
        mode, weights = "samples", pairs.weights(world.n_prompts, world.n_responses)
    log_star = log_optimal_policy(world.pi_ref, world.reward, beta)
    star = log_star.exp()
    label = "population" if n_pairs is None else f"N={n_pairs} seed={seed}"
    trained = train_tabular(
        world.pi_ref, weights, beta, config, target=star, progress=progress, description=label
    )
    say(log, "  reward model + KL-RL …")
    rlhf, _ = rlhf_policy(world.pi_ref, weights, beta, config)
    log_ref = world.pi_ref.log()
    _, step0 = weighted_pair_loss(log_ref, log_ref, weights, beta)
    report = RunReport(
        policy="tabular",
        mode=mode,
        n_pairs=n_pairs,
        seed=seed if n_pairs is not None else None,
        beta=beta,
        steps=config.steps,
        distinct_pairs=int((weights > 0).sum()),
        final_loss=trained.final_loss,
        **compare_to_optimum(trained.policy, star, log_star),
        reference_tv=total_variation(world.pi_ref, star).max().item(),
        mle_exists=bool(mle_exists(weights).all()),
        step0=step0,
        metrics=trained.metrics,
        device=str(device),
        seconds=time.perf_counter() - start,  # DPO and the RLHF pipeline together
        rlhf_max_abs_difference=(trained.policy - rlhf).abs().max().item(),
        rlhf_max_abs_error=(rlhf - star).abs().max().item(),
    )
    return report, trained


@dataclass
class TabularExperiment:
    """Every run of ``tabular_experiment``, and what the figures need from them."""

    world: World
    beta: float
    reports: list[RunReport]
    trained: list[TrainedTable] = field(repr=False)

    @property
    def star(self) -> torch.Tensor:
        return optimal_policy(self.world.pi_ref, self.world.reward, self.beta)

    def population(self) -> tuple[RunReport, TrainedTable] | None:
        for report, trained in zip(self.reports, self.trained, strict=True):
            if report.mode == "population":
                return report, trained
        return None


def tabular_experiment(
    world: World,
    config: TabularConfig = TabularConfig(),
    sample_sizes: tuple[int, ...] = (500, 5000, 50000),
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    population: bool = True,
    progress: bool | None = None,
    log: Log = None,
) -> TabularExperiment:
    """The population run (if asked) and one run per (N, seed). ``progress`` None: bars when
    stderr is a terminal; ``log`` gets a line per run and phase."""
    plan: list[tuple[int | None, int | None]] = [(None, None)] if population else []
    plan += [(n, seed) for n in sample_sizes for seed in seeds]
    reports, trained = [], []
    for number, (n_pairs, seed) in enumerate(progress_bar(plan, "runs", progress), start=1):
        which = "population run" if n_pairs is None else "run"
        data = "" if n_pairs is None else f": N={n_pairs} seed={seed}"
        say(log, f"training {which} {number}/{len(plan)}{data} (DPO, {config.steps} Adam steps) …")
        report, result = run_tabular(world, config, n_pairs, seed, progress=progress, log=log)
        reports.append(report)
        trained.append(result)
    beta = world.beta if config.beta is None else config.beta
    return TabularExperiment(world, beta, reports, trained)

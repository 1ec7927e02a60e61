"""The lab's figures, PNG and SVG, in the lecture's colours (``lab.palette``; no manim here).

policies        π_ref, π* and the population-trained π_θ, per prompt, as bars
error_vs_steps  max |π_θ − π*| against training steps, population and one seed per N
error_vs_n      max |π_θ − π*| against the number of pairs N, log-log, every seed
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure  # no pyplot: no global figure state, no display needed

from lab.files import written_atomically
from lab.palette import PALETTE
from lab.train import Experiment

FORMATS = ("png", "svg")
STYLE = {
    "figure.facecolor": PALETTE.background,
    "axes.facecolor": PALETTE.background,
    "savefig.facecolor": PALETTE.background,
    "axes.edgecolor": PALETTE.muted,
    "axes.labelcolor": PALETTE.text,
    "text.color": PALETTE.text,
    "xtick.color": PALETTE.text,
    "ytick.color": PALETTE.text,
    "grid.color": PALETTE.muted,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "font.size": 10,
    "svg.hashsalt": "dpo-lab",  # the same figure gives the same SVG bytes
}


def _save(figure: Figure, directory: Path, name: str) -> list[Path]:
    """Write name.png and name.svg, each atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for extension in FORMATS:
        final = directory / f"{name}.{extension}"
        metadata = {"Date": None} if extension == "svg" else {"Software": None}
        with written_atomically(final) as partial:
            figure.savefig(
                partial, format=extension, dpi=150, bbox_inches="tight", metadata=metadata
            )
        written.append(final)
    return written


def plot_policies(experiment: Experiment, directory: Path) -> list[Path]:
    """Bars of π_ref, π* and π_θ (population run) for every response of every prompt."""
    population = experiment.population()
    if population is None:
        raise ValueError("the policies figure needs the population run")
    world, star, trained = experiment.world, experiment.star, population[1].policy
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(4.8 * world.n_prompts, 4.0))
        axes = figure.subplots(1, world.n_prompts, sharey=True, squeeze=False)
        width = 0.27
        series = [
            (world.pi_ref, r"$\pi_{\mathrm{ref}}$", PALETTE.reference),
            (star, r"$\pi^*$ (closed form)", PALETTE.optimal),
            (trained, r"$\pi_\theta$ (DPO)", PALETTE.policy),
        ]
        for x, axis in enumerate(axes[0]):
            positions = range(world.n_responses)
            for offset, (table, label, colour) in zip((-1, 0, 1), series, strict=True):
                axis.bar(
                    [p + offset * width for p in positions],
                    table[x].tolist(),
                    width,
                    label=label,
                    color=colour,
                )
            axis.set_xticks(list(positions))
            axis.set_xticklabels(
                [textwrap.fill(name, 10) for name in world.responses[x]], fontsize=8
            )
            axis.set_title(world.prompts[x], fontsize=10)
            axis.grid(axis="y")
        axes[0][0].set_ylabel(r"probability of the response, $\pi(y \mid x)$")
        axes[0][0].legend(loc="upper right")
        figure.suptitle(
            rf"DPO on the exact pair distribution lands on $\pi^*$ ($\beta$ = {experiment.beta:g})"
        )
        return _save(figure, directory, "policies")


def plot_error_vs_steps(experiment: Experiment, directory: Path) -> list[Path]:
    """max |π_θ − π*| against steps: the population run, and the first seed of every N."""
    colours = [PALETTE.policy, PALETTE.chosen, PALETTE.beta, PALETTE.partition, PALETTE.rejected]
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(6.4, 4.2))
        axis = figure.subplots()
        shown_n: set[int | None] = set()
        for report, trained in zip(experiment.reports, experiment.trained, strict=True):
            if report.n_pairs in shown_n or not trained.history:
                continue
            shown_n.add(report.n_pairs)
            steps, errors = zip(*trained.history, strict=True)
            label = "population" if report.n_pairs is None else f"N = {report.n_pairs:,}"
            axis.plot(
                steps,
                [max(e, 1e-17) for e in errors],  # exact zeros would vanish on a log axis
                label=label,
                color=colours[(len(shown_n) - 1) % len(colours)],
            )
        axis.axhline(1e-6, color=PALETTE.muted, linestyle=":", label="1e-6")
        axis.set_yscale("log")
        axis.set_xlabel("Adam steps")
        axis.set_ylabel(r"max $|\pi_\theta - \pi^*|$")
        axis.set_title("Population DPO converges to π*; finite samples stop at their own optimum")
        axis.grid(True, which="major")
        axis.legend()
        return _save(figure, directory, "error_vs_steps")


def plot_error_vs_n(experiment: Experiment, directory: Path) -> list[Path]:
    """max |π_θ − π*| against N on log-log axes: every seed, the mean, and a N^(−1/2) guide."""
    by_n: dict[int, list[float]] = {}
    for report in experiment.reports:
        if report.n_pairs is not None:
            by_n.setdefault(report.n_pairs, []).append(report.max_abs_error)
    if not by_n:
        raise ValueError("the error-vs-N figure needs runs on sampled pairs")
    sizes = sorted(by_n)
    means = [sum(by_n[n]) / len(by_n[n]) for n in sizes]
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(6.4, 4.2))
        axis = figure.subplots()
        for n in sizes:
            axis.scatter([n] * len(by_n[n]), by_n[n], color=PALETTE.policy, alpha=0.6, s=18)
        slope = (
            math.log(means[-1] / means[0]) / math.log(sizes[-1] / sizes[0])
            if len(sizes) > 1
            else math.nan
        )
        axis.plot(
            sizes,
            means,
            color=PALETTE.policy,
            marker="o",
            label=f"DPO, mean over seeds (slope {slope:.2f})",
        )
        guide = [means[0] * math.sqrt(sizes[0] / n) for n in sizes]
        axis.plot(sizes, guide, color=PALETTE.muted, linestyle="--", label=r"$\propto N^{-1/2}$")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("preference pairs N")
        axis.set_ylabel(r"max $|\pi_\theta - \pi^*|$")
        axis.set_title("Finite samples: the error falls with the number of pairs")
        axis.grid(True, which="major")
        axis.legend()
        return _save(figure, directory, "error_vs_n")


def write_figures(experiment: Experiment, directory: Path) -> list[Path]:
    """Every figure the experiment has runs for, into ``directory``; returns the files written."""
    written = []
    if experiment.population() is not None:
        written += plot_policies(experiment, directory)
    written += plot_error_vs_steps(experiment, directory)
    if any(r.n_pairs is not None for r in experiment.reports):
        written += plot_error_vs_n(experiment, directory)
    return written

"""The lab's figures, PNG and SVG, in the lecture's colours (``lab.palette``; no manim here).

policies        π_ref, π* and a trained π_θ as bars, one panel per prompt (tabular: every
                response; transformer: the likeliest responses, the rest pooled in one bar)
error_vs_steps  max |π_θ − π*| against training steps, population and one seed per N (tabular)
error_vs_n      max |π_θ − π*| against the number of pairs N, log-log, every seed (tabular)
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl
import torch
from matplotlib.figure import Figure  # no pyplot: no global figure state, no display needed

from lab.files import write_text_atomically, written_atomically
from lab.palette import PALETTE
from lab.training.runs import POPULATION_TARGET, TabularExperiment

if TYPE_CHECKING:  # only a type here: importing it at run time would load transformers
    from lab.training.transformer_runs import TransformerExperiment

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
TOP_RESPONSES = 8  # transformer panels: the likeliest responses shown, the rest pooled


def save_figure(figure: Figure, directory: Path, name: str) -> list[Path]:
    """Write name.png and name.svg, each atomically."""
    written = []
    for extension in FORMATS:
        final = Path(directory) / f"{name}.{extension}"
        metadata = {"Date": None} if extension == "svg" else {"Software": None}
        with written_atomically(final) as partial:
            figure.savefig(
                partial, format=extension, dpi=150, bbox_inches="tight", metadata=metadata
            )
        written.append(final)
    return written


@dataclass(frozen=True)
class PolicyPanel:
    """One prompt's bars: a label per response and π_ref, π*, π_θ over them."""

    prompt: str
    names: list[str]
    pi_ref: list[float]
    pi_star: list[float]
    pi_theta: list[float]


def write_record(directory: Path, name: str, command: str, result) -> Path:
    """An experiment's record, ``directory/name.json``: the command that made it, then
    ``result.as_dict()``; written atomically (a reader never sees half a file)."""
    path = directory / f"{name}.json"
    record = {"command": command, **result.as_dict()}
    write_text_atomically(path, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return path


def likeliest_panel(
    prompt: str, names: list[str], rows: tuple[torch.Tensor, ...], top: int = TOP_RESPONSES
) -> PolicyPanel:
    """A panel of the ``top`` responses that any of (π_ref, π*, π_θ) likes best, the rest pooled
    into one last bar "the other N"."""
    table = torch.stack(rows)
    shown = table.max(dim=0).values.argsort(descending=True)[:top]
    rest = table.sum(dim=1) - table[:, shown].sum(dim=1)
    values = torch.cat([table[:, shown], rest[:, None]], dim=1).tolist()
    labels = [names[i] for i in shown.tolist()] + [f"the other {table.shape[1] - len(shown)}"]
    return PolicyPanel(prompt, labels, *values)


def plot_policies(panels: list[PolicyPanel], title: str, directory: Path, name: str) -> list[Path]:
    """Bars of π_ref, π* and π_θ, one panel per prompt, sharing the probability axis."""
    series = (
        ("pi_ref", r"$\pi_{\mathrm{ref}}$", PALETTE.reference),
        ("pi_star", r"$\pi^*$ (closed form)", PALETTE.optimal),
        ("pi_theta", r"$\pi_\theta$ (DPO)", PALETTE.policy),
    )
    width = 0.27
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(sum(1.2 + 0.75 * len(p.names) for p in panels), 4.2))
        axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for panel, axis in zip(panels, axes, strict=True):
            positions = range(len(panel.names))
            for offset, (field, label, colour) in zip((-1, 0, 1), series, strict=True):
                bars = [p + offset * width for p in positions]
                axis.bar(bars, getattr(panel, field), width, label=label, color=colour)
            axis.set_xticks(list(positions))
            axis.set_xticklabels([textwrap.fill(n, 10) for n in panel.names], fontsize=8)
            axis.set_title(panel.prompt, fontsize=10)
            axis.grid(axis="y")
        axes[0].set_ylabel(r"probability of the response, $\pi(y \mid x)$")
        axes[0].legend(loc="upper right")
        figure.suptitle(title)
        return save_figure(figure, directory, name)


def plot_error_vs_steps(experiment: TabularExperiment, directory: Path) -> list[Path]:
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
        axis.axhline(
            POPULATION_TARGET,
            color=PALETTE.muted,
            linestyle=":",
            label=f"target, {POPULATION_TARGET:g}",
        )
        axis.set_yscale("log")
        axis.set_xlabel("Adam steps")
        axis.set_ylabel(r"max $|\pi_\theta - \pi^*|$")
        axis.set_title("Population DPO converges to π*; finite samples stop at their own optimum")
        axis.grid(True, which="major")
        axis.legend()
        return save_figure(figure, directory, "error_vs_steps")


def plot_error_vs_n(experiment: TabularExperiment, directory: Path) -> list[Path]:
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
        return save_figure(figure, directory, "error_vs_n")


def write_tabular_figures(experiment: TabularExperiment, directory: Path) -> list[Path]:
    """Every figure the tabular runs allow, into ``directory``; returns the files written."""
    written = []
    population = experiment.population()
    if population is not None:
        world, star, trained = experiment.world, experiment.star, population[1].policy
        panels = [
            PolicyPanel(
                world.prompts[x],
                list(world.responses[x]),
                world.pi_ref[x].tolist(),
                star[x].tolist(),
                trained[x].tolist(),
            )
            for x in range(world.n_prompts)
        ]
        title = (
            rf"DPO on the exact pair distribution lands on $\pi^*$ ($\beta$ = {experiment.beta:g})"
        )
        written += plot_policies(panels, title, directory, "policies")
    written += plot_error_vs_steps(experiment, directory)
    if any(r.n_pairs is not None for r in experiment.reports):
        written += plot_error_vs_n(experiment, directory)
    return written


def write_transformer_figures(experiment: TransformerExperiment, directory: Path) -> list[Path]:
    """One figure per run: π_ref, π* and π_θ over the first prompt's likeliest responses. Each
    run's report records its PNG."""
    enumerated = experiment.enumerated
    names = [name if name == "∅" else f"“{name}”" for name in enumerated.response_names()]
    prompt = enumerated.world.prompts[0]
    written = []
    for report, pi_theta in zip(experiment.reports, experiment.policies, strict=True):
        rows = (enumerated.pi_ref[0], enumerated.pi_star[0], pi_theta[0])
        title = f"DPO on a tiny transformer, {report.mode}"
        if report.tv is not None:
            title += rf" — TV($\pi_\theta$, $\pi^*$) = {report.tv:.3g}"
        suffix = (
            "" if report.n_pairs is None else f"_{report.mode}_{report.n_pairs}_seed{report.seed}"
        )
        paths = plot_policies(
            [likeliest_panel(prompt, names, rows)],
            title,
            directory,
            f"transformer_policies{suffix}",
        )
        report.figure = str(paths[0])
        written += paths
    population = [r for r in experiment.reports if r.n_pairs is None and r.tv_history]
    if population:
        written += plot_tv_vs_steps(population[0], directory)
    return written


def plot_tv_vs_steps(report, directory: Path) -> list[Path]:
    """TV(π_θ, π*) as the population run trained: transformer_tv.{png,svg}."""
    steps, tvs = zip(*report.tv_history, strict=True)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(6.4, 4.0))
        axis = figure.subplots()
        axis.plot(steps, tvs, color=PALETTE.policy, marker="o", markersize=3)
        axis.set_yscale("log")
        axis.set_xlabel("DPO steps (Adam)")
        axis.set_ylabel(r"TV($\pi_\theta$, $\pi^*$), worst prompt")
        axis.set_title(f"The tiny transformer closing on π* ({report.device})")
        axis.grid(True, which="major")
        return save_figure(figure, directory, "transformer_tv")

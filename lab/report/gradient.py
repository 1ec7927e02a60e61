"""The gradient experiment as files: gradient.json and figures/gradient_weights.{png,svg}.

The figure has three panels: the weight σ(−m) as a curve over the margin m = r̂_w − r̂_l, with
each pair where training left it; each pair's weight over the steps, in the chosen response's
colour while the model ranks it as labelled and the rejected response's colour where it ranks it
the other way; the largest margin, DPO against the unweighted ablation.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from lab.experiments.gradient import GradientRun
from lab.palette import PALETTE
from lab.report.figures import STYLE, save_figure, write_record


def _pair_colour(ranked_right: bool) -> str:
    return PALETTE.chosen if ranked_right else PALETTE.rejected


def _weight_curve(axis, run: GradientRun) -> None:
    limit = max(4.0, 1.2 * max(abs(m) for m in run.margins[-1]))
    grid = [limit * (2 * i / 200 - 1) for i in range(201)]
    axis.plot(grid, [1 / (1 + math.exp(m)) for m in grid], color=PALETTE.text, linewidth=1.5)
    for margin, weight, right in zip(
        run.margins[-1], run.weights[-1], run.ranked_right, strict=True
    ):
        axis.plot([margin], [weight], "o", color=_pair_colour(right), markersize=5)
    axis.axhline(0.5, color=PALETTE.muted, linestyle=":")
    axis.set_xlabel(r"margin $\hat r_w - \hat r_l$")
    axis.set_ylabel(r"weight $\sigma(\hat r_l - \hat r_w)$")
    axis.set_title("the weight; each pair after training", fontsize=10)


def _weights_over_steps(axis, run: GradientRun) -> None:
    steps = range(len(run.weights))
    for k, right in enumerate(run.ranked_right):
        axis.plot(steps, [row[k] for row in run.weights], color=_pair_colour(right), linewidth=1)
    axis.axhline(0.5, color=PALETTE.muted, linestyle=":")
    axis.set_xlabel("gradient steps")
    axis.set_ylabel("weight of each pair")
    axis.set_title("ranked right: falls; ranked wrong: stays high", fontsize=10)


def _margin_growth(axis, run: GradientRun) -> None:
    steps = range(len(run.margins))
    axis.plot(steps, [max(map(abs, r)) for r in run.margins], color=PALETTE.policy, label="DPO")
    axis.plot(
        steps,
        [max(map(abs, r)) for r in run.unweighted_margins],
        color=PALETTE.text,
        linestyle="--",
        label="without the weight",
    )
    axis.set_xlabel("gradient steps")
    axis.set_ylabel(r"largest $|\hat r_w - \hat r_l|$")
    axis.set_title("without the weight, margins run away", fontsize=10)
    axis.legend()


def write_gradient_files(run: GradientRun, directory: Path, command: str) -> list[Path]:
    """gradient.json and figures/gradient_weights.{png,svg} under ``directory``."""
    directory = Path(directory)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(13.5, 4.2), layout="constrained")
        axes = figure.subplots(1, 3)
        _weight_curve(axes[0], run)
        _weights_over_steps(axes[1], run)
        _margin_growth(axes[2], run)
        for axis in axes:
            axis.grid(True)
        figure.suptitle(f"DPO's gradient weight on {run.config.n_pairs} pairs for “{run.prompt}”")
        figures = save_figure(figure, directory / "figures", "gradient_weights")
    return [*figures, write_record(directory, "gradient", command, run)]

"""The no-exploration experiment as files: no_exploration.json and
figures/no_exploration.{png,svg}.

Left: bars per response of π_ref, DPO's π_θ (pairs without y⁺), the online method's π and π*,
the best response y⁺ marked "in no pair". Right: the online method's π(y⁺) over its steps, with
π_ref(y⁺), DPO's π_θ(y⁺) and π*(y⁺) as levels.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from lab.experiments.no_exploration import NoExploration
from lab.palette import PALETTE
from lab.report.figures import STYLE, save_figure, write_record


def _series(run: NoExploration) -> tuple[tuple[list[float], str, str], ...]:
    return (
        (run.pi_ref, r"$\pi_{\mathrm{ref}}$", PALETTE.reference),
        (run.dpo, r"$\pi_\theta$ (DPO, pairs without $y^+$)", PALETTE.policy),
        (run.online, "online (samples its own π, scored by r)", PALETTE.chosen),
        (run.optimal, r"$\pi^*$ (closed form)", PALETTE.optimal),
    )


def _bars(axis, run: NoExploration) -> None:
    width = 0.2
    positions = range(len(run.responses))
    for k, (values, label, colour) in enumerate(_series(run)):
        offset = (k - 1.5) * width
        axis.bar([p + offset for p in positions], values, width, label=label, color=colour)
    axis.set_xticks(list(positions))
    labels = [textwrap.fill(name, 10) for name in run.responses]
    labels[run.best] += "\nbest, $y^+$:\nin no pair"
    axis.set_xticklabels(labels)
    axis.get_xticklabels()[run.best].set_color(PALETTE.reward)
    top = max(max(values) for values, _, _ in _series(run))
    axis.set_ylim(0, 1.08 * top)
    axis.set_ylabel(r"$\pi(y \mid x)$")
    axis.set_title(f"“{run.prompt}”: every response", fontsize=10)
    axis.legend(loc="upper right", fontsize=8)
    axis.grid(axis="y")


def _history(axis, run: NoExploration) -> None:
    b = run.best
    axis.plot(range(len(run.online_history)), run.online_history, color=PALETTE.chosen)
    for value, label, colour in (
        (run.optimal[b], r"$\pi^*(y^+)$", PALETTE.optimal),
        (run.pi_ref[b], r"$\pi_{\mathrm{ref}}(y^+)$", PALETTE.reference),
        (run.dpo[b], r"DPO's $\pi_\theta(y^+)$", PALETTE.policy),
    ):
        axis.axhline(value, color=colour, linestyle="--", linewidth=1.2)
        axis.annotate(
            label,
            (len(run.online_history) - 1, value),
            xytext=(0, 4),
            textcoords="offset points",
            ha="right",
            color=colour,
        )
    axis.set_ylim(0, 1.05)
    axis.set_xlabel("online steps (each samples a group from its own π)")
    axis.set_ylabel(r"online $\pi(y^+ \mid x)$")
    axis.set_title("the online method finds $y^+$", fontsize=10)
    axis.grid(True)


def write_no_exploration_files(run: NoExploration, directory: Path, command: str) -> list[Path]:
    """no_exploration.json and figures/no_exploration.{png,svg} under ``directory``."""
    directory = Path(directory)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(13, 4.6), layout="constrained")
        left, right = figure.subplots(1, 2, width_ratios=(1.6, 1))
        _bars(left, run)
        _history(right, run)
        figure.suptitle(
            f"No exploration: {run.config.n_pairs} pairs without the best response; DPO cannot "
            f"raise it, an online method with the reward can (β = {run.config.beta:g})"
        )
        figures = save_figure(figure, directory / "figures", "no_exploration")
    return [*figures, write_record(directory, "no_exploration", command, run)]

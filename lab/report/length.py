"""The length experiment as files: length.json and figures/length.{png,svg}.

Three panels against the labels' length bias b: the mean length E_π[|y|], the accuracy (mass on
answers that state the right number and no other) and the true reward E_π[r]. One colour per β;
DPO solid, R-DPO (α = b) dashed; π_ref as a grey horizontal line.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from lab.experiments.length import LengthRun
from lab.palette import PALETTE
from lab.report.figures import STYLE, save_figure, write_record

# One colour per β, in order; the first is π_θ's own blue.
BETA_COLOURS = (PALETTE.policy, PALETTE.beta, PALETTE.partition, PALETTE.chosen, PALETTE.text)
PANELS = (
    ("mean_length", "mean length E_π[|y|] (tokens)", "answers grow with the bias"),
    ("accuracy", "accuracy (mass on right answers)", "the answers stay right"),
    ("reward", "true reward E_π[r]", "the true reward falls"),
)


def _panel(axis, run: LengthRun, figure: str, label: str, title: str, legend: bool) -> None:
    biases = list(run.config.biases)
    for i, beta in enumerate(run.config.betas):
        colour = BETA_COLOURS[i % len(BETA_COLOURS)]
        dpo = [cell[figure] for cell in run.dpo[i]]
        rdpo = [cell[figure] for cell in run.rdpo[i]]
        axis.plot(biases, dpo, "-o", color=colour, markersize=4, label=f"DPO, β = {beta:g}")
        axis.plot(
            biases, rdpo, "--s", color=colour, markersize=4, label=f"R-DPO (α = b), β = {beta:g}"
        )
    reference = run.reference[figure]
    axis.axhline(
        reference, color=PALETTE.reference, linestyle=":", linewidth=1.5,
        label=r"$\pi_{\mathrm{ref}}$",
    )  # fmt: skip
    axis.annotate(
        r"$\pi_{\mathrm{ref}}$", (biases[0], reference), xytext=(2, 4),
        textcoords="offset points", ha="left", va="bottom", color=PALETTE.reference,
    )  # fmt: skip
    axis.set_xlabel("length bias of the labels b (per token)")
    axis.set_ylabel(label)
    axis.set_title(title, fontsize=10)
    axis.grid(True)
    if legend:
        axis.legend(fontsize=8)


def write_length_files(run: LengthRun, directory: Path, command: str) -> list[Path]:
    """length.json and figures/length.{png,svg} under ``directory``."""
    directory = Path(directory)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(13.5, 4.4), layout="constrained")
        axes = figure.subplots(1, len(PANELS))
        for index, (axis, (name, label, title)) in enumerate(zip(axes, PANELS, strict=True)):
            _panel(axis, run, name, label, title, legend=index == 0)
        figure.suptitle(
            "DPO on length-biased labels, σ(r₁ − r₂ + b(|y₁| − |y₂|)): the exploit, and R-DPO's fix"
        )
        figures = save_figure(figure, directory / "figures", "length")
    return [*figures, write_record(directory, "length", command, run)]

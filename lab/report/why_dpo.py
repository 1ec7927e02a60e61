"""The why-DPO experiment as files: why_dpo.json and figures/why_dpo_memory.{png,svg}.

The figure has one panel per model size (the tiny transformer, GPT-2 small), each with two bars:
the parameters RLHF holds in memory during PPO, its four models stacked, and DPO's two. Each model
has its concept's colour: π_θ blue, π_ref grey, the reward model r_φ green, the value model (a
critic, no concept of the lecture) hollow, hatched in the muted grey.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from lab.experiments.why_dpo import Backbone, WhyDpoCounts
from lab.palette import PALETTE
from lab.report.figures import STYLE, save_figure, write_record

ROLE_COLOURS = {
    "policy": PALETTE.policy,
    "reference": PALETTE.reference,
    "reward model": PALETTE.reward,
}
HOLLOW = {"color": PALETTE.background, "edgecolor": PALETTE.muted, "hatch": "//"}  # the critic
SCALES = ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands"), (1.0, ""))


def _scale(parameters: int) -> tuple[float, str]:
    """The largest unit that keeps ``parameters`` at 1 or more: (1e6, "millions")."""
    return next((unit, name) for unit, name in SCALES if parameters >= unit)


def _memory_panel(axis, backbone: Backbone, legend: bool) -> None:
    unit, unit_name = _scale(backbone.rlhf.parameters)
    for x, pipeline in enumerate((backbone.rlhf, backbone.dpo)):
        bottom = 0.0
        for model in pipeline.models:
            height = model.parameters / unit
            axis.bar(
                x,
                height,
                bottom=bottom,
                width=0.6,
                **(
                    {"color": ROLE_COLOURS[model.role], "edgecolor": PALETTE.background}
                    if model.role in ROLE_COLOURS
                    else HOLLOW
                ),
                label=f"{model.role} ({model.symbol})" if legend and x == 0 else None,
            )
            bottom += height
        axis.text(x, bottom, f"{pipeline.parameters:,}", ha="center", va="bottom")
    axis.set_xticks([0, 1], [backbone.rlhf.name, backbone.dpo.name])
    axis.set_ylabel(f"parameters in memory ({unit_name})" if unit_name else "parameters")
    axis.set_title(f"{backbone.name}: RLHF holds {backbone.ratio:.2f}× DPO's", fontsize=10)
    axis.set_ylim(0, 1.15 * backbone.rlhf.parameters / unit)
    axis.grid(True, axis="y")


def write_why_dpo_files(result: WhyDpoCounts, directory: Path, command: str) -> list[Path]:
    """why_dpo.json and figures/why_dpo_memory.{png,svg} under ``directory``."""
    directory = Path(directory)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(9.0, 4.4), layout="constrained")
        axes = figure.subplots(1, len(result.backbones))
        for index, (axis, backbone) in enumerate(zip(axes, result.backbones, strict=True)):
            _memory_panel(axis, backbone, legend=index == 0)
        figure.legend(loc="outside right center")
        figure.suptitle("Models in memory while training: RLHF (PPO) against DPO")
        figures = save_figure(figure, directory / "figures", "why_dpo_memory")
    return [*figures, write_record(directory, "why_dpo", command, result)]

"""The unseen-mass experiment as files: unseen_mass.json, figures/unseen_mass.{png,svg} and
figures/chosen_falls.{png,svg}.

Left: the first prompt's comparison graph in the run on N pairs from π_ref — each compared
response a node on a circle, each distinct labelled pair an arrow from winner to loser, as wide
as its count; the unseen response π_θ gained most on drawn apart, dashed, "in no pair". Right:
the mass on the responses in no pair under π_ref, π* and each trained π_θ, with TV(π_θ, π*).
The second figure: the chosen responses' log-prob and both implicit rewards before and after
DPO, for the transformer's runs and the tabular population run (the record's ``chosen_falls``).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch

from lab.experiments.unseen_mass import UnseenMassRun
from lab.palette import PALETTE
from lab.report.figures import STYLE, save_figure, write_record

RADIUS = 1.0  # of the circle the compared responses sit on
NODE = 0.075  # a node's radius
LABELS = {
    "reference": "N pairs\nfrom π_ref",
    "uniform": "N pairs\nuniform",
    "more": "{more}N pairs\nfrom π_ref",
    "population": "population\n(uniform)",
}


def _positions(run: UnseenMassRun) -> dict[str, tuple[float, float]]:
    """The compared responses on a circle, the likeliest (under π_ref) spread apart: the k-th
    takes slot k·stride mod n, so the heavy edges between them cross the circle."""
    count = len(run.nodes)
    stride = next(
        s for s in range(max(1, round(0.38 * count)), count + 1) if math.gcd(s, count) == 1
    )
    where = {}
    for k, node in enumerate(run.nodes):
        angle = math.pi / 2 - 2 * math.pi * (k * stride % count) / count
        where[node["response"]] = (RADIUS * math.cos(angle), RADIUS * math.sin(angle))
    return where


def _graph(axis, run: UnseenMassRun) -> None:
    where = _positions(run)
    most = max(edge["count"] for edge in run.edges)
    for edge in run.edges:
        axis.add_patch(
            FancyArrowPatch(
                where[edge["chosen"]],
                where[edge["rejected"]],
                arrowstyle="-|>",
                mutation_scale=11,
                shrinkA=7,
                shrinkB=7,
                linewidth=0.4 + 3.6 * edge["count"] / most,
                color=PALETTE.chosen,
                alpha=0.7,
                connectionstyle="arc3,rad=0.08",
            )
        )
    for node in run.nodes:
        x, y = where[node["response"]]
        axis.add_patch(Circle((x, y), NODE, color=PALETTE.reference, zorder=3))
        axis.text(1.22 * x, 1.14 * y, node["response"] or "∅", ha="center", va="center")
    top = run.top_unseen
    axis.add_patch(
        Circle((1.85, -0.95), NODE * 2.4, fill=False, linestyle="--", color=PALETTE.policy)
    )
    axis.text(1.85, -0.95, top["response"] or "∅", ha="center", va="center")
    axis.text(
        1.85,
        -0.55,
        f"in no pair\nπ_ref {top['pi_ref']:.4f} → π_θ {top['pi_theta']:.3f}",
        ha="center",
        color=PALETTE.policy,
    )
    axis.set_xlim(-1.45, 2.55)
    axis.set_ylim(-1.35, 1.35)
    axis.set_aspect("equal")
    axis.axis("off")
    axis.set_title(
        f"“{run.prompt}”: {len(run.nodes)} responses in {sum(e['count'] for e in run.edges)} "
        f"pairs from π_ref ({len(run.edges)} distinct)\narrow: winner → loser, width ∝ count; "
        f"{len(run.unseen)} responses in no pair",
        fontsize=10,
    )


def _bars(axis, run: UnseenMassRun) -> None:
    labels = ["π_ref", "π*"] + [
        LABELS[r.name].format(more=run.config.more) + f"\nTV {r.tv[0]:.2f}" for r in run.runs
    ]
    values = [run.reference_unseen_mass, run.optimal_unseen_mass] + [
        r.unseen_mass for r in run.runs
    ]
    colours = [PALETTE.reference, PALETTE.optimal] + [PALETTE.policy] * len(run.runs)
    positions = range(len(values))
    axis.bar(positions, values, color=colours, width=0.65)
    for position, value in zip(positions, values, strict=True):
        axis.text(position, value + 0.01, f"{value:.3f}", ha="center", va="bottom")
    axis.set_xticks(list(positions), labels, fontsize=8)
    axis.set_ylim(0, max(values) * 1.15 + 0.02)
    axis.set_ylabel(r"$\sum_{y \notin \mathcal{D}} \pi(y \mid x)$")
    axis.grid(True, axis="y")
    axis.set_title(
        f"mass on the {len(run.unseen)} responses in no pair (π_θ: after DPO)", fontsize=10
    )


CHOSEN_RUNS = (  # (where in chosen_falls, the run's name on the figure)
    (("transformer", "population"), "transformer,\npopulation"),
    (("transformer", "reference"), "transformer,\nN pairs from π_ref"),
    (("tabular",), "table,\npopulation"),
)


def _chosen_runs(run: UnseenMassRun) -> list[tuple[str, dict, dict]]:
    """(label, TRL's metrics at step 0, after) of each run in ``CHOSEN_RUNS``."""
    found = []
    for path, label in CHOSEN_RUNS:
        entry = run.chosen_falls
        for key in path:
            entry = entry[key]
        found.append((label, entry["step0"], entry["metrics"]))
    return found


def plot_chosen_falls(run: UnseenMassRun, directory: Path) -> list[Path]:
    """Left: log π_θ(y_w) on average, before and after. Right: r̂_w, r̂_l and their margin after
    (all 0 before): both fall, the margin opens."""
    runs = _chosen_runs(run)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(13, 4.6), layout="constrained")
        left, right = figure.subplots(1, 2)
        positions = range(len(runs))
        for offset, (moment, colour, name) in enumerate(
            ((1, PALETTE.reference, "before (π_θ = π_ref)"), (2, PALETTE.policy, "after DPO"))
        ):
            values = [entry[moment]["logps/chosen"] for entry in runs]
            left.bar([p + 0.2 * (2 * offset - 1) for p in positions], values, 0.4,
                     color=colour, label=name)  # fmt: skip
        left.set_ylabel("logps/chosen: mean log π(y_w | x)")
        left.set_title("the chosen responses' own log-prob falls", fontsize=10)
        for offset, (key, colour, name) in enumerate(
            (
                ("rewards/chosen", PALETTE.chosen, "r̂(y_w) after"),
                ("rewards/rejected", PALETTE.rejected, "r̂(y_l) after"),
            )
        ):
            values = [entry[2][key] for entry in runs]
            right.bar([p + 0.2 * (2 * offset - 1) for p in positions], values, 0.4,
                      color=colour, label=name)  # fmt: skip
        lowest = min(min(e[2]["rewards/chosen"], e[2]["rewards/rejected"]) for e in runs)
        for position, entry in zip(positions, runs, strict=True):
            below = min(entry[2]["rewards/chosen"], entry[2]["rewards/rejected"]) - 0.05
            margin = f"margin {entry[2]['rewards/margins']:+.2f}"
            right.text(position, below, margin, ha="center", va="top", color=PALETTE.text)
        right.set_ylim(lowest * 1.15 - 0.1, 0.1)
        right.axhline(0, color=PALETTE.muted, linewidth=1)
        right.set_ylabel("implicit reward β log π_θ/π_ref (0 before)")
        right.set_title("while the margin r̂(y_w) − r̂(y_l) opens", fontsize=10)
        for axis, corner in ((left, "lower center"), (right, "lower right")):
            axis.set_xticks(list(positions), [label for label, _, _ in runs], fontsize=8)
            axis.grid(True, axis="y")
            axis.legend(loc=corner)
        figure.suptitle("DPO's loss sees only the difference of the two log-ratios")
        return save_figure(figure, directory / "figures", "chosen_falls")


def write_unseen_mass_files(run: UnseenMassRun, directory: Path, command: str) -> list[Path]:
    """unseen_mass.json, figures/unseen_mass.{png,svg} and figures/chosen_falls.{png,svg} under
    ``directory``."""
    directory = Path(directory)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(15, 5.6), layout="constrained")
        axes = figure.subplots(1, 2, width_ratios=(1.35, 1))
        _graph(axes[0], run)
        _bars(axes[1], run)
        figure.suptitle(
            f"DPO on N = {run.config.n_pairs} pairs from π_ref (seed {run.config.seed}, "
            f"β = {run.beta:g}): the Bradley–Terry MLE does not exist, and the tiny GPT-2 moves "
            "mass onto responses no pair compared"
        )
        figures = save_figure(figure, directory / "figures", "unseen_mass")
    figures += plot_chosen_falls(run, directory)
    return [*figures, write_record(directory, "unseen_mass", command, run)]

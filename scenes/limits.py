"""Beyond the five steps — β in practice, and where DPO breaks.

Five parts, each a lab experiment with its claim (``scenes.limits_data``):
1. β swept over trained policies: reward and KL(π_θ ‖ π_ref) against β, beside the closed-form
   frontier, the common default β = 0.1 marked (``lab.experiments.beta_sweep``);
2. the length exploit: labels that favour longer answers make DPO verbose; R-DPO's length term
   undoes it (``lab.experiments.length``);
3. mass on responses no pair compared: the comparison graph, and the mass a transformer moves onto
   what it never saw (``lab.experiments.unseen_mass``);
4. the chosen response's log-prob falls while the margin grows: the loss sees only differences;
5. no exploration: a better answer in no pair stays put, where an online method finds it
   (``lab.experiments.no_exploration``).
Parts 3 to 5 are drawn in ``scenes.limits_failures``.

Render with:  manim render scenes/limits.py Limits
"""

from __future__ import annotations

import math

from manim import DOWN, LEFT, RIGHT, UP, Axes, Create, DashedLine, Dot, FadeIn, FadeOut, VGroup

from scenes import limits_data, quantities, style
from scenes.base import ClaimScene
from scenes.catalog import find_clip
from scenes.limits_failures import chosen_falls, no_exploration, unseen_mass
from scenes.widgets import heading, remark

CLIP = find_clip("limits")
MOMENTS = ("beta_swept", "length_fixed", "unseen_graph", "chosen_fell", "no_exploration")
DEFAULT_BETA = 0.1  # the value trainers default to (TRL's DPOConfig.beta)
PLOT_FONT_SIZE = 26


class LogBetaAxes(Axes):
    """Axes with log10 β across — from a quarter decade below the smallest β of the sweep to a
    quarter above the largest, the vertical axis at the left edge — and a value up."""

    def __init__(self, betas: list[float], low: float, high: float) -> None:
        self.left = math.log10(min(betas)) - 0.25
        self.right = math.log10(max(betas)) + 0.25
        super().__init__(
            x_range=[0, self.right - self.left, 1],
            y_range=[low, high, (high - low) / 2],
            x_length=5.2,
            y_length=2.9,
            axis_config={"color": style.MUTED, "include_ticks": False},
            tips=False,
        )

    def at(self, beta: float, value: float):
        return self.c2p(math.log10(beta) - self.left, value)


def axes_labels(scene: ClaimScene, axes: LogBetaAxes, low: float, high: float, name: str):
    """β at each power of ten of the range, the value's two ends, and the panel's name."""
    labels = VGroup()
    for power in range(math.ceil(axes.left), math.floor(axes.right) + 1):
        tick = scene.label(quantities.BETA.tex(10.0**power), font_size=PLOT_FONT_SIZE)
        labels.add(tick.next_to(axes.at(10.0**power, low), DOWN, buff=0.2))
    for value in (low, high):
        tick = scene.label(f"{value:.1f}", font_size=PLOT_FONT_SIZE)
        labels.add(tick.next_to(axes.c2p(0, value), LEFT, buff=0.15))
    labels.add(scene.label(r"\beta", font_size=30).next_to(axes.x_axis, RIGHT, buff=0.2))
    labels.add(remark(scene, name, font_size=PLOT_FONT_SIZE).next_to(axes, UP, buff=0.2))
    return labels


def _range(*series: list[float]) -> tuple[float, float]:
    values = [v for s in series for v in s]
    return math.floor(min(values) * 10) / 10, math.ceil(max(values) * 10) / 10


def sweep_panel(scene: ClaimScene, record: dict, key: str, name: str) -> tuple[Axes, VGroup]:
    """One panel of the sweep: the closed-form curve, the trained policies' dots, β = 0.1."""
    betas, curve = record["betas"], record["curve"]
    trained = record["trained"]["mean"][key]
    low, high = _range(curve[key], trained)
    axes = LogBetaAxes(betas, low, high)
    labels = axes_labels(scene, axes, low, high, name)
    points = [axes.at(b, v) for b, v in zip(curve["betas"], curve[key], strict=True)]
    line = VGroup().set_points_smoothly(points).set_stroke(style.OPTIMAL, width=4)
    dots = VGroup(
        *(
            Dot(axes.at(b, v), radius=0.08, color=style.POLICY)
            for b, v in zip(betas, trained, strict=True)
        )
    )
    default = DashedLine(
        axes.at(DEFAULT_BETA, low), axes.at(DEFAULT_BETA, high), color=style.BETA, stroke_width=3
    )
    return axes, VGroup(labels, line, dots, default)


def beta_sweep(scene: ClaimScene) -> None:
    """Trained policies across β, against the closed-form frontier."""
    record = limits_data.beta_sweep()
    summary = record["summary"]
    scene.narrate(
        "First, β. The objective trades reward against distance from π_ref, and a trainer "
        "must pick β. We trained DPO at {count} values of β, on the same {pairs} pairs.",
        count=quantities.COUNT(len(record["betas"])),
        pairs=quantities.COUNT(record["n_pairs"]),
    )
    frontier = scene.claim("limits.beta_frontier", font_size=30).to_edge(UP, buff=1.35)
    reward_axes, reward_parts = sweep_panel(scene, record, "reward", "expected reward")
    kl_axes, kl_parts = sweep_panel(
        scene, record, "kl", r"$\mathrm{KL}(\pi_\theta \,\|\, \pi_{\mathrm{ref}})$"
    )
    panels = VGroup(VGroup(reward_axes, reward_parts), VGroup(kl_axes, kl_parts))
    panels.arrange(RIGHT, buff=1.3).to_edge(DOWN, buff=0.7)
    scene.play(Create(reward_axes), Create(kl_axes), FadeIn(reward_parts[0], kl_parts[0]))
    scene.play(Create(reward_parts[1]), Create(kl_parts[1]), run_time=1.5)
    scene.narrate("The gold curves are the closed-form optimum π* at every β.")
    scene.play(FadeIn(reward_parts[2], kl_parts[2], lag_ratio=0.1), run_time=1.5)
    low, high = min(record["betas"]), max(record["betas"])
    scene.narrate(
        "At β = {low}, DPO's policy reaches an expected reward of {reward_low}, but moves "
        "{kl_low} nats from π_ref. At β = {high}, it keeps close: {kl_high} nats, reward "
        "{reward_high}.",
        low=quantities.BETA(low),
        reward_low=quantities.REWARD(summary[f"reward_at_{low:g}"]),
        kl_low=quantities.KL(summary[f"kl_at_{low:g}"]),
        high=quantities.BETA(high),
        kl_high=quantities.KL(summary[f"kl_at_{high:g}"]),
        reward_high=quantities.REWARD(summary[f"reward_at_{high:g}"]),
    )
    default = VGroup(reward_parts[3], kl_parts[3])
    note = remark(scene, r"common default $\beta = 0.1$", font_size=PLOT_FONT_SIZE)
    note.set_color(style.BETA).next_to(reward_parts[3], RIGHT, buff=0.15, aligned_edge=UP)
    scene.narrate(
        "Small β: aggressive updates, far from the reference. Large β: conservative ones. "
        "Trainers commonly default to β = {default}.",
        default=quantities.BETA(DEFAULT_BETA),
    )
    scene.play(Create(default), FadeIn(note))
    scene.narrate_claim("limits.beta_frontier")
    scene.play(FadeIn(frontier, shift=DOWN * 0.2))
    scene.moment("beta_swept")
    gaps = [max(row) for row in record["objective_gap"]]
    scene.narrate(
        "No trained dot beats the curve. With {pairs} pairs, DPO comes within {gap} of it; "
        "the largest gap is at β = {at}.",
        pairs=quantities.COUNT(record["n_pairs"]),
        gap=quantities.REWARD(max(gaps)),
        at=quantities.BETA(record["betas"][gaps.index(max(gaps))]),
    )
    scene.narrate(None)
    scene.play(FadeOut(frontier, panels, note), run_time=0.8)


def present(scene: ClaimScene) -> None:
    """β in practice and where DPO breaks, as a clip or as a chapter of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    beta_sweep(scene)
    length_exploit(scene)
    unseen_mass(scene)
    chosen_falls(scene)
    no_exploration(scene)


def length_exploit(scene: ClaimScene) -> None:
    """Length-biased labels lengthen DPO's answers; R-DPO's length term undoes it."""


class Limits(ClaimScene):
    def construct(self) -> None:
        present(self)

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

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Axes,
    Create,
    DashedLine,
    DashedVMobject,
    Dot,
    FadeIn,
    FadeOut,
    VGroup,
    Write,
)

from scenes import limits_data, quantities, style
from scenes.base import ClaimScene
from scenes.catalog import find_clip
from scenes.limits_failures import chosen_falls, no_exploration, unseen_mass
from scenes.widgets import heading, model_text, remark

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
    record = limits_data.record("beta_sweep")
    summary = record["summary"]
    scene.narrate(
        "Start with β. The objective trades reward against distance from π_ref, and a trainer "
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
    lessons(scene)


LESSONS = (
    (r"$\beta$ sets how far $\pi_\theta$ moves from $\pi_{\mathrm{ref}}$", style.BETA),
    ("DPO learns what the labels reward: their taste for length too", style.POLICY),
    ("a response in no pair is held down by nothing", style.REJECTED),
    ("the chosen answer may fall: the loss sees only the margin", style.CHOSEN),
    ("no exploration: the pairs set the horizon", style.REWARD),
)


def lessons(scene: ClaimScene) -> None:
    """The chapter's five lessons, one line each, held to the end."""
    rows = VGroup()
    for text, colour in LESSONS:
        bullet = Dot(radius=0.09, color=colour)
        rows.add(VGroup(bullet, remark(scene, text, font_size=32)).arrange(RIGHT, buff=0.3))
    rows.arrange(DOWN, aligned_edge=LEFT, buff=0.45).move_to(DOWN * 0.4)
    scene.narrate(
        "So: β sets how far the policy moves. DPO learns whatever the labels reward, their "
        "taste for length included. A response no pair compares is held down by nothing. The "
        "chosen answer may fall, since only the margin counts. And the pairs set the horizon."
    )
    scene.play(FadeIn(rows, shift=UP * 0.2, lag_ratio=0.4), run_time=3)
    scene.narrate(None)
    scene.wait(1)


def length_axes(scene: ClaimScene, biases: list[float], top: float) -> tuple[Axes, VGroup]:
    """The labels' length bias across, the mean length (tokens) up, from 0 to ``top``."""
    axes = Axes(
        x_range=[0, max(biases), max(biases) / 2],
        y_range=[0, top, top / 2],
        x_length=5.6,
        y_length=2.5,
        axis_config={"color": style.MUTED, "include_ticks": False},
        tips=False,
    )
    labels = VGroup()
    for value in (0, max(biases) / 2, max(biases)):
        tick = scene.label(f"{value:g}", font_size=PLOT_FONT_SIZE)
        labels.add(tick.next_to(axes.c2p(value, 0), DOWN, buff=0.2))
    for value in (0, top):
        tick = scene.label(f"{value:g}", font_size=PLOT_FONT_SIZE)
        labels.add(tick.next_to(axes.c2p(0, value), LEFT, buff=0.15))
    labels.add(remark(scene, "length bias of the labels", font_size=PLOT_FONT_SIZE))
    labels[-1].next_to(labels[:3], DOWN, buff=0.15)
    labels.add(remark(scene, "mean length (tokens)", font_size=PLOT_FONT_SIZE))
    labels[-1].next_to(axes, UP, buff=0.2)
    return axes, labels


def length_line(axes: Axes, biases: list[float], lengths: list[float], colour: str, dashed=False):
    line = VGroup().set_points_as_corners(
        [axes.c2p(b, v) for b, v in zip(biases, lengths, strict=True)]
    )
    line.set_stroke(colour, width=4)
    dots = VGroup(
        *(
            Dot(axes.c2p(b, v), radius=0.07, color=colour)
            for b, v in zip(biases, lengths, strict=True)
        )
    )
    return VGroup(DashedVMobject(line, num_dashes=30) if dashed else line, dots)


def favourite_answers(scene: ClaimScene, record: dict) -> VGroup:
    """π_ref's likeliest answer to the first prompt, and DPO's at the largest bias."""
    rows = VGroup()
    for tex, colour, answer in (
        (r"\pi_{\mathrm{ref}}", style.REFERENCE, record["reference_likeliest"][0]),
        (r"\pi_\theta", style.POLICY, record["likeliest"][0]["responses"][0]),
    ):
        rows.add(
            VGroup(
                scene.label(tex, font_size=30),
                model_text(f"“{answer['response']}”").set_color(colour),
                quantities.PROBABILITY.number(answer["probability"], font_size=28).set_color(
                    colour
                ),
            ).arrange(RIGHT, buff=0.3)
        )
    rows.arrange(DOWN, aligned_edge=LEFT, buff=0.3)
    title = remark(scene, "likeliest answer", font_size=PLOT_FONT_SIZE)
    return VGroup(title, rows).arrange(DOWN, aligned_edge=LEFT, buff=0.3)


def length_exploit(scene: ClaimScene) -> None:
    """Length-biased labels lengthen DPO's answers; R-DPO's length term undoes it."""
    record = limits_data.record("length")
    biases, beta = record["biases"], record["betas"][0]
    dpo = [figures["mean_length"] for figures in record["dpo"][0]]
    rdpo = [figures["mean_length"] for figures in record["rdpo"][0]]
    reference = record["reference"]["mean_length"]
    scene.narrate(
        "Next, length. In public preference data the chosen answer tends to be the longer one. "
        "Here the labellers add up to {most} of reward per token to the true reward.",
        most=quantities.REWARD(biases[-1]),
    )
    axes, labels = length_axes(scene, biases, math.ceil(max(*dpo, reference) + 0.5))
    VGroup(axes, labels).to_edge(LEFT, buff=1.2).to_edge(DOWN, buff=0.45)
    base = DashedLine(
        axes.c2p(0, reference), axes.c2p(biases[-1], reference), color=style.REFERENCE
    )
    base_name = scene.label(r"\pi_{\mathrm{ref}}", font_size=28).next_to(base, RIGHT, buff=0.15)
    scene.play(Create(axes), FadeIn(labels, base, base_name))
    dpo_line = length_line(axes, biases, dpo, style.POLICY)
    dpo_name = scene.label(r"\pi_\theta", font_size=28).next_to(dpo_line[1][-1], RIGHT, buff=0.15)
    scene.narrate(
        "DPO at β = {beta}: unbiased labels shorten the answers to {short} tokens, below π_ref's "
        "{reference}; at the largest bias they grow to {long}.",
        beta=quantities.BETA(beta),
        short=quantities.LENGTH(dpo[0]),
        reference=quantities.LENGTH(reference),
        long=quantities.LENGTH(dpo[-1]),
    )
    scene.play(Create(dpo_line), FadeIn(dpo_name), run_time=2)
    exploit = scene.claim("limits.length_exploit", font_size=32).to_edge(UP, buff=1.3)
    scene.narrate_claim("limits.length_exploit")
    scene.play(FadeIn(exploit, shift=DOWN * 0.2))
    favourites = favourite_answers(scene, record).to_edge(RIGHT, buff=1.0).shift(DOWN * 1.2)
    likeliest = record["likeliest"][0]["responses"][0]
    scene.narrate(
        "Its favourite answer is now “{answer}”, with probability {probability}: still right, "
        "padded.",
        answer=quantities.RESPONSE(likeliest["response"]),
        probability=quantities.PROBABILITY(likeliest["probability"]),
    )
    scene.play(FadeIn(favourites, shift=UP * 0.2))
    fix = scene.claim("limits.length_fix", font_size=28).next_to(exploit, DOWN, buff=0.35)
    rdpo_line = length_line(axes, biases, rdpo, style.CHOSEN, dashed=True)
    rdpo_name = remark(scene, "R-DPO", font_size=26, color=style.CHOSEN)
    rdpo_name.next_to(rdpo_line[1][-1], RIGHT, buff=0.15)
    scene.narrate("The fix, R-DPO, puts the length difference inside the loss, with weight α.")
    scene.play(Write(fix), run_time=2)
    scene.narrate_claim("limits.length_fix")
    scene.play(Create(rdpo_line), FadeIn(rdpo_name), run_time=2)
    scene.narrate(
        "With α equal to the bias, the answers keep their unbiased length: {fixed} tokens at the "
        "largest bias.",
        fixed=quantities.LENGTH(rdpo[-1]),
    )
    scene.moment("length_fixed")
    scene.narrate(None)
    scene.play(
        FadeOut(axes, labels, base, base_name, dpo_line, dpo_name, rdpo_line, rdpo_name),
        FadeOut(exploit, fix, favourites),
        run_time=0.8,
    )


class Limits(ClaimScene):
    def construct(self) -> None:
        present(self)

"""Beyond the five steps — the gradient: what one DPO update does, and why its weight matters.

    ∇L = −β E[σ(r̂_l − r̂_w) (∇log π_θ(y_w) − ∇log π_θ(y_l))]

The implicit reward r̂ and the sign it carries; the gradient, each factor named; the weight as a
curve over the margin; a real run of the lab (``lab.experiments.gradient``) with each pair's dot
sliding along that curve as training goes; the same run without the weight, whose margins run
away; and where no finite reward fits, even DPO's margin has no limit. It ends with the loss in
plain words.

Render with:  manim render scenes/gradient.py Gradient
"""

from __future__ import annotations

import math
from functools import cache

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Axes,
    Create,
    DashedVMobject,
    Dot,
    FadeIn,
    FadeOut,
    GrowFromCenter,
    VGroup,
    Write,
)

from lab.experiments.gradient import GradientRun, gradient_experiment
from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import brace_note, heading, model_text, remark

CLIP = find_clip("gradient")
MOMENTS = ("gradient_named", "weights_settled", "runaway")

WEIGHT_TERM = r"\sigma\big(\hat r_\theta(x, y_l) - \hat r_\theta(x, y_w)\big)"
PUSH_TERM = (
    r"\big(\nabla_\theta \log \pi_\theta(y_w \mid x) - "
    r"\nabla_\theta \log \pi_\theta(y_l \mid x)\big)"
)
MARGIN_RANGE = 4.0  # the weight curve's margins, ±


@cache
def experiment() -> GradientRun:
    """The lab's gradient run (about a second of CPU): the numbers every part of the clip shows."""
    with labdata.backed_by("step6.weight_stops_runaway"):
        return gradient_experiment()


def sigmoid_of_minus(margin: float) -> float:
    """σ(−margin): a pair's gradient weight at that margin."""
    return 1 / (1 + math.exp(margin))


def implicit_reward(scene: ClaimScene, title: VGroup) -> None:
    """r̂ = β log π_θ/π_ref, and what its sign means."""
    definition = scene.claim("step6.implicit_reward").move_to(UP * 1.4)
    scene.narrate(
        "Step {step} named the policy's implicit reward. Before we train, look at what it means.",
        step=quantities.derivation_step(5),
    )
    scene.play(FadeIn(definition, shift=UP * 0.3))
    scene.narrate_claim("step6.implicit_reward")
    above = remark(
        scene,
        r"$\hat r_\theta > 0$: $\pi_\theta$ likes $y$ more than $\pi_{\mathrm{ref}}$",
        font_size=style.SMALL_FONT_SIZE,
    )
    below = remark(
        scene,
        r"$\hat r_\theta < 0$: $\pi_\theta$ likes $y$ less than $\pi_{\mathrm{ref}}$",
        font_size=style.SMALL_FONT_SIZE,
    )
    signs = VGroup(above, below).arrange(DOWN, buff=0.35, aligned_edge=LEFT)
    signs.next_to(definition, DOWN, buff=0.8)
    scene.play(FadeIn(above, shift=UP * 0.2))
    scene.narrate("Positive: the policy likes the response more than the reference does.")
    scene.wait(0.5)
    scene.play(FadeIn(below, shift=UP * 0.2))
    scene.narrate("Negative: it likes it less. Zero, at the start: the policy is the reference.")
    scene.play(FadeOut(signs), FadeOut(definition, shift=UP * 0.3))


def the_gradient(scene: ClaimScene, title: VGroup):
    """The gradient, with the weight and the push named under their factors."""
    gradient = scene.claim(
        "step6.dpo_gradient", parts=[WEIGHT_TERM, PUSH_TERM], font_size=style.SMALL_FONT_SIZE
    )
    gradient.next_to(title, DOWN, buff=0.9).set_x(0)
    scene.narrate_claim("step6.dpo_gradient")
    scene.play(Write(gradient), run_time=2.5)
    weight_note = brace_note(
        scene, parts_of(gradient, WEIGHT_TERM), "weight: how wrong the ranking is"
    )
    push_note = brace_note(
        scene, parts_of(gradient, PUSH_TERM), r"push $y_w$ up, $y_l$ down", color=style.TEXT
    )
    scene.narrate("The second factor pushes the chosen response up and the rejected one down.")
    scene.play(GrowFromCenter(push_note[0]), FadeIn(push_note[1], shift=DOWN * 0.2))
    scene.narrate("The first weighs that push: large while the model ranks the pair wrong.")
    scene.play(GrowFromCenter(weight_note[0]), FadeIn(weight_note[1], shift=DOWN * 0.2))
    scene.moment("gradient_named")
    scene.wait(1)
    scene.play(FadeOut(weight_note, push_note), gradient.animate.scale(0.8).to_edge(UP, buff=1.1))
    return gradient


def weight_axes(scene: ClaimScene) -> tuple[Axes, VGroup]:
    """Margin r̂_w − r̂_l across, the weight σ(r̂_l − r̂_w) up, with ticks at 0, ½ and 1."""
    axes = (
        Axes(
            x_range=[-MARGIN_RANGE, MARGIN_RANGE, 2],
            y_range=[0, 1, 0.5],
            x_length=6.4,
            y_length=3.2,
            axis_config={"include_numbers": True, "font_size": 28, "color": style.MUTED},
            y_axis_config={
                "numbers_to_include": [0, 0.5, 1],
                "decimal_number_config": {"num_decimal_places": 1},
            },
        )
        .to_edge(LEFT, buff=0.9)
        .shift(DOWN * 0.9)
    )
    x_label = scene.label(r"\hat{r}_w - \hat{r}_l", font_size=30).next_to(
        axes.x_axis, DOWN, buff=0.45
    )
    y_label = remark(scene, "weight", font_size=30).next_to(axes.y_axis, UP, buff=0.15)
    curve = axes.plot(sigmoid_of_minus, color=style.TEXT)
    return axes, VGroup(x_label, y_label, curve)


def pair_dots(axes: Axes, run: GradientRun, step: int) -> VGroup:
    """One dot per distinct pair at (margin, weight) after ``step`` steps, in the colour of the
    response the model ranks higher then (y_w's teal, y_l's red)."""
    dots = VGroup()
    for margin in run.margins[step]:
        clipped = max(-MARGIN_RANGE, min(MARGIN_RANGE, margin))
        colour = style.CHOSEN if margin > 0 else style.REJECTED if margin < 0 else style.TEXT
        dots.add(Dot(axes.c2p(clipped, sigmoid_of_minus(clipped)), radius=0.08, color=colour))
    return dots


def training_run(scene: ClaimScene) -> VGroup:
    """Every pair starts at weight ½; the dots slide as the lab's run trains."""
    run = experiment()
    summary = run.summary()
    axes, decorations = weight_axes(scene)
    scene.narrate(
        "Here is that weight against the margin, the reward gap the model puts between them."
    )
    scene.play(Create(axes), FadeIn(decorations[:2]), run_time=1.5)
    scene.play(Create(decorations[2]), run_time=1.5)
    dots = pair_dots(axes, run, 0)
    scene.narrate(
        "Now a real run: {pairs} preference pairs on one prompt. "
        "At the start, every weight is one half.",
        pairs=quantities.COUNT(run.config.n_pairs),
    )
    scene.play(FadeIn(dots), run_time=1)
    counter = step_counter(scene, 0).next_to(axes, RIGHT, buff=0.6).shift(UP * 1.2)
    scene.play(FadeIn(counter))
    for step in (10, 40, 150, run.config.steps):
        moved = pair_dots(axes, run, step)
        new_counter = step_counter(scene, step).move_to(counter, aligned_edge=LEFT)
        scene.play(dots.animate.become(moved), counter.animate.become(new_counter), run_time=1.6)
    scene.narrate(
        "{right} pairs it learns to rank right slide down: their weight falls to {low} or less.",
        right=quantities.COUNT(summary["right_pairs"]),
        low=quantities.WEIGHT(summary["right_weight_max"]),
    )
    legend = ranking_legend(scene).next_to(counter, DOWN, buff=0.5, aligned_edge=LEFT)
    scene.play(FadeIn(legend, shift=UP * 0.2))
    scene.narrate(
        "{wrong} pairs whose labels the others outvote stay above {high}: they keep pushing.",
        wrong=quantities.COUNT(summary["wrong_pairs"]),
        high=quantities.WEIGHT(summary["wrong_weight_min"]),
    )
    scene.moment("weights_settled")
    scene.mark_poster()  # the pairs spread along the weight curve
    scene.wait(1)
    return VGroup(axes, decorations, dots, counter, legend)


def step_counter(scene: ClaimScene, step: int) -> VGroup:
    words = remark(scene, "gradient steps:", color=style.MUTED)
    number = quantities.COUNT.number(step, font_size=style.NOTE_FONT_SIZE, color=style.TEXT)
    return VGroup(words, number).arrange(RIGHT, buff=0.2)


def ranking_legend(scene: ClaimScene) -> VGroup:
    right = VGroup(Dot(color=style.CHOSEN), remark(scene, r"ranks $y_w$ higher")).arrange(RIGHT)
    wrong = VGroup(Dot(color=style.REJECTED), remark(scene, r"ranks $y_l$ higher")).arrange(RIGHT)
    return VGroup(right, wrong).arrange(DOWN, aligned_edge=LEFT, buff=0.25)


def largest_margin_line(axes: Axes, margins: list[list[float]], colour: str):
    """The largest |r̂_w − r̂_l| over the pairs, every tenth step, as a line on ``axes``."""
    steps = range(0, len(margins), 10)
    largest = [max(map(abs, margins[step])) for step in steps]
    graph = axes.plot_line_graph(steps, largest, add_vertex_dots=False, line_color=colour)
    return graph["line_graph"]


def runaway(scene: ClaimScene, shown: VGroup) -> None:
    """The same run without the weight: the largest margin grows without end."""
    run = experiment()
    summary = run.summary()
    scene.narrate("Take the weight away, and every pair pushes just as hard, forever.")
    scene.play(FadeOut(shown))
    axes = Axes(
        x_range=[0, run.config.steps, run.config.steps // 2],
        y_range=[0, summary["unweighted_margin_max"] * 1.1, 100],
        x_length=6.4,
        y_length=3.2,
        axis_config={"include_numbers": True, "font_size": 28, "color": style.MUTED},
    ).shift(LEFT * 2.3 + DOWN * 1.0)
    x_label = remark(scene, "gradient steps", font_size=30).next_to(axes.x_axis, DOWN, buff=0.45)
    y_label = remark(scene, "largest margin", font_size=30).next_to(axes.y_axis, UP, buff=0.15)
    without = DashedVMobject(largest_margin_line(axes, run.unweighted_margins, style.TEXT))
    with_weight = largest_margin_line(axes, run.margins, style.POLICY)
    scene.play(Create(axes), FadeIn(x_label, y_label), run_time=1.2)
    scene.play(Create(without), Create(with_weight), run_time=2.5)
    labels = VGroup(
        remark(scene, "DPO", color=style.POLICY),
        remark(scene, "without the weight"),
    )
    labels[0].next_to(axes.c2p(run.config.steps, summary["dpo_margin_max"]), UP + LEFT, buff=0.15)
    labels[1].next_to(
        axes.c2p(run.config.steps * 0.55, summary["unweighted_margin_max"] * 0.6), LEFT
    )
    scene.play(FadeIn(labels))
    scene.narrate(
        "After {steps} steps DPO's largest margin is {dpo}; without the weight it is {without}, "
        "and still climbing.",
        steps=quantities.COUNT(run.config.steps),
        dpo=quantities.LOG_RATIO(summary["dpo_margin_max"]),
        without=quantities.LOG_RATIO(summary["unweighted_margin_max"]),
    )
    scene.narrate(None)
    scene.play(FadeOut(VGroup(axes, x_label, y_label, without, with_weight, labels)))
    stops = scene.claim("step6.weight_stops_runaway", font_size=style.SMALL_FONT_SIZE)
    no_limit = scene.claim("step6.no_mle_no_limit", font_size=style.SMALL_FONT_SIZE)
    VGroup(stops, no_limit).arrange(DOWN, buff=1.0).move_to(DOWN * 0.6)
    scene.narrate_claim("step6.weight_stops_runaway")
    scene.play(Write(stops), run_time=2)
    scene.moment("runaway")
    scene.narrate_claim("step6.no_mle_no_limit")
    scene.play(Write(no_limit), run_time=2)
    scene.narrate(None)  # both stay on screen while the sentence is heard
    scene.play(FadeOut(stops, no_limit))


def trained_pair(scene: ClaimScene, run: GradientRun) -> VGroup:
    """The run's commonest pair, each response with its implicit reward after training."""
    chosen, rejected, _ = run.pairs[0]
    rows = VGroup()
    for symbol, index in ((r"$y_w$", chosen), (r"$y_l$", rejected)):
        reward = run.implicit_rewards[index]
        feeling = "more" if reward > 0 else "less"
        rows.add(
            VGroup(
                remark(scene, symbol + ":"),
                model_text(run.responses[index], font_size=32),
                scene.label(r"\hat r_\theta =", font_size=34),
                quantities.LOG_RATIO.number(reward, font_size=34),
                remark(scene, rf"$\pi_\theta$ likes it {feeling} than $\pi_{{\mathrm{{ref}}}}$"),
            ).arrange(RIGHT, buff=0.3)
        )
    rows.arrange(DOWN, buff=0.35, aligned_edge=LEFT)
    return VGroup(model_text(run.prompt, font_size=32), rows).arrange(DOWN, buff=0.5)


def in_plain_words(scene: ClaimScene) -> None:
    """The implicit rewards of the pair trained most, and the loss in one sentence."""
    run = experiment()
    chosen, rejected, count = run.pairs[0]
    pair = trained_pair(scene, run).move_to(UP * 0.4)
    scene.narrate(
        "The pair drawn most often, {count} times: after training, the chosen answer's implicit "
        "reward is {chosen}, the rejected one's {rejected}.",
        count=quantities.COUNT(count),
        chosen=quantities.LOG_RATIO(run.implicit_rewards[chosen]),
        rejected=quantities.LOG_RATIO(run.implicit_rewards[rejected]),
    )
    scene.play(FadeIn(pair, shift=UP * 0.2))
    words = remark(
        scene,
        r"push $y_w$ up and $y_l$ down, relative to $\pi_{\mathrm{ref}}$,\\"
        r"hardest where the model ranks the pair wrong",
    ).next_to(pair, DOWN, buff=0.7)
    scene.narrate(
        "So DPO, in plain words: push the chosen response up and the rejected one down, "
        "relative to the reference, hardest where the model still ranks the pair wrong."
    )
    scene.play(Write(words), run_time=2.5)


def present(scene: ClaimScene) -> None:
    """The gradient chapter, as a clip or as a section of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    implicit_reward(scene, title)
    the_gradient(scene, title)
    shown = training_run(scene)
    runaway(scene, shown)
    in_plain_words(scene)


class Gradient(ClaimScene):
    def construct(self) -> None:
        present(self)

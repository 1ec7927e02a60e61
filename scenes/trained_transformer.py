"""Beyond the five steps — the trained transformer against π*.

The five steps ran on a table of probabilities. Here the policy is a tiny GPT-2 built from a
config: its responses to "2 + 2 =" are sequences of tokens, every one of them enumerated, so π*
can be computed in closed form over all of them and compared with what DPO trains. The bars show
π_ref, π* and the trained π_θ over the likeliest responses (the rest pooled); beside them, the
lab's run (``scenes.transformer_data``): TV(π_θ, π*) falling as it trains, and the device it
trained on.

Render with:  manim render scenes/trained_transformer.py TrainedTransformer
"""

from __future__ import annotations

import math

from manim import DOWN, LEFT, RIGHT, UP, Axes, Create, FadeIn, FadeOut, VGroup, Write

from scenes import quantities, style
from scenes.base import ClaimScene
from scenes.catalog import find_clip
from scenes.transformer_data import TransformerRun, transformer_run
from scenes.widgets import (
    BarColumn,
    column_header,
    heading,
    lay_out_columns,
    model_text,
    remark,
    row_names,
    scientific,
)

CLIP = find_clip("trained_transformer")
MOMENTS = ("policies", "trained")


def the_model(scene: ClaimScene, title: VGroup, run: TransformerRun) -> None:
    """The prompt, the model's size, how many responses, and that they sum to one."""
    prompt = model_text(run.prompt, font_size=32).next_to(title, DOWN, buff=0.6).set_x(0)
    scene.narrate(
        "The five steps ran on a table. Now the policy is a tiny transformer language model "
        "of {parameters} parameters, built from a config.",
        parameters=quantities.COUNT(run.parameters),
    )
    scene.play(FadeIn(prompt, shift=DOWN * 0.2))
    count = remark(scene, "every response of up to three tokens, enumerated")
    count.next_to(prompt, DOWN, buff=0.35)
    scene.narrate(
        "Its answers are token sequences. Every one of the {responses} possible responses is "
        "enumerated, so π* can be computed in closed form over all of them.",
        responses=quantities.COUNT(run.responses),
    )
    scene.play(FadeIn(count, shift=UP * 0.2))
    total = scene.claim("step7.sequences_sum_to_one", font_size=style.SMALL_FONT_SIZE)
    total.next_to(count, DOWN, buff=0.4)
    scene.narrate_claim("step7.sequences_sum_to_one")
    scene.play(Write(total), run_time=2)
    scene.narrate(None)
    scene.play(FadeOut(count, total), prompt.animate.next_to(title, RIGHT, buff=0.6))


def policy_table(scene: ClaimScene, run: TransformerRun) -> tuple[VGroup, BarColumn, VGroup]:
    """π_ref's bars, and π*'s outlines over them, with π_θ's bars to come."""
    names = row_names(run.names)
    reference = BarColumn(run.pi_ref, color=style.REFERENCE, width=1.2)
    theta = BarColumn(run.pi_ref, color=style.POLICY, width=1.5, numbers_after_full=True)
    star = BarColumn(run.pi_star, color=style.OPTIMAL, width=1.5, outline=True, quantity=None)
    table = lay_out_columns(names, [reference, theta])
    star.shift(RIGHT * (theta.left - star.left))
    table.add(star)
    table.to_edge(LEFT, buff=0.4).set_y(-0.75)
    headers = VGroup(
        column_header(scene, r"\pi_{\mathrm{ref}}", reference),
        column_header(scene, r"\pi_\theta", theta),
    )
    outlined = remark(scene, r"$\pi^*$ outlined", color=style.OPTIMAL)
    outlined.next_to(headers[1], RIGHT, buff=0.3)
    headers.add(outlined)
    return table, theta, headers


def tv_plot(scene: ClaimScene, run: TransformerRun) -> tuple[Axes, VGroup, object]:
    """TV(π_θ, π*) against the DPO steps on a log scale: the axes, their labels, the curve."""
    lowest = math.floor(math.log10(min(tv for _, tv in run.tv_history)))
    axes = Axes(
        x_range=[0, run.steps, run.steps // 2],
        y_range=[0, -lowest, 1],  # decades above 10^lowest
        x_length=4.0,
        y_length=2.4,
        axis_config={"include_numbers": False, "color": style.MUTED},
    ).move_to(RIGHT * 4.0 + DOWN * 1.5)
    y_ticks = VGroup(
        *(
            scene.label(rf"10^{{{lowest + decade}}}", font_size=28).next_to(
                axes.c2p(0, decade), LEFT, buff=0.15
            )
            for decade in range(-lowest + 1)
        )
    )
    x_label = remark(scene, "DPO steps", font_size=28).next_to(axes.x_axis, DOWN, buff=0.2)
    y_label = scene.label(r"\mathrm{TV}(\pi_\theta, \pi^*)", font_size=30)
    y_label.next_to(axes, UP, buff=0.2)
    curve = axes.plot_line_graph(
        [step for step, _ in run.tv_history],
        [math.log10(tv) - lowest for _, tv in run.tv_history],
        add_vertex_dots=False,
        line_color=style.POLICY,
    )["line_graph"]
    return axes, VGroup(y_ticks, x_label, y_label), curve


def training(scene: ClaimScene, run: TransformerRun) -> None:
    """π_θ glides from π_ref onto π* while TV falls, as the lab's run measured it."""
    table, theta, headers = policy_table(scene, run)
    scene.narrate(
        "The bars: π_ref in grey, the target π* outlined in yellow, and π_θ, which starts as a "
        "copy of π_ref."
    )
    scene.play(FadeIn(table, headers), run_time=1.5)
    start = scene.claim("step7.reference_start", font_size=28).to_edge(RIGHT, buff=0.35).set_y(1.3)
    scene.narrate_claim("step7.reference_start")
    scene.play(Write(start), run_time=2)
    scene.moment("policies")
    scene.narrate(None)
    axes, labels, curve = tv_plot(scene, run)
    scene.play(Create(axes), FadeIn(labels))
    progress, update = theta.glide(run.pi_ref, run.pi_theta)
    scene.narrate(
        "DPO trains π_θ for {steps} steps on every pair at once, and its distance to π* falls.",
        steps=quantities.COUNT(run.steps),
    )
    scene.play(progress.animate.set_value(1.0), Create(curve), run_time=4)
    theta.remove_updater(update)
    theta.set_values(run.pi_theta)
    scene.mark_poster()
    final = VGroup(
        scene.label(r"\mathrm{TV} =", font_size=30),
        scientific(scene, run.tv, color=style.POLICY, font_size=30),
    ).arrange(RIGHT, buff=0.15)
    final.move_to(axes.c2p(run.steps * 0.7, -math.floor(math.log10(run.tv)) * 0.8))
    scene.play(FadeIn(final))
    scene.moment("trained")
    device = remark(scene, f"trained on {run.device}").next_to(labels[1], DOWN, buff=0.2)
    scene.play(FadeIn(device))
    device_name = run.device.split(":")[0]  # "cuda:0" → "cuda": a sentence states no index
    scene.narrate(
        "It ends {tv} from π* in total variation, trained on the "
        + device_name
        + " in {seconds} seconds: the transformer reaches the closed-form optimum too.",
        tv=quantities.ERROR(run.tv),
        seconds=quantities.COUNT(round(run.seconds)),
    )


def present(scene: ClaimScene) -> None:
    """The trained transformer, as a clip or as a chapter of the lecture."""
    run = transformer_run()
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    the_model(scene, title, run)
    training(scene, run)


class TrainedTransformer(ClaimScene):
    def construct(self) -> None:
        present(self)

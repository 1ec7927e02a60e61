"""Step 3 — the reparameterisation: solve the closed form for the reward.

    r(x, y) = β log π*(y | x)/π_ref(y | x) + β log Z(x)

Taking logs turns the product into a sum; solving for r leaves a term, β log Z(x), that depends
on the prompt only. The lab's numbers show it: within a prompt that column is one constant.

Render with:  manim render scenes/step3_reparameterisation.py Step3Reparameterisation
"""

from __future__ import annotations

import numpy as np
from manim import (
    DOWN,
    RIGHT,
    UP,
    Circumscribe,
    Create,
    FadeIn,
    FadeOut,
    MathTex,
    SurroundingRectangle,
    Text,
    VGroup,
    Write,
)

from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import (
    ROW_HEIGHT,
    NumberColumn,
    heading,
    lay_out_columns,
    model_text,
    remark,
)

CLIP = find_clip("step3_reparameterisation")
# Key moments (scene.moment): mid-clip snapshots compare the frame there.
MOMENTS = ("solved", "constant_column")

PI_STAR = r"\pi^*(y \mid x)"
PI_REF = r"\pi_{\mathrm{ref}}(y \mid x)"
REWARD = r"r(x, y)"
LOG_Z_TERM = r"\beta \log Z(x)"
LOG_RATIO_TERM = r"\beta \log \frac{\pi^*(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)}"


def derivation_line(scene: ClaimScene, claim_id: str, y: float) -> MathTex:
    """One line of the derivation, its "=" a part of its own so the lines can align on it."""
    return scene.claim(claim_id, parts=["="]).set_y(y)


def align_equals(line: MathTex, on: MathTex) -> MathTex:
    """Shift ``line`` sideways so that its "=" sits under the "=" of ``on``."""
    return line.shift(RIGHT * (parts_of(on, "=").get_x() - parts_of(line, "=").get_x()))


def solve_for_reward(scene: ClaimScene, title: VGroup):
    """Closed form → its logarithm → r on its own, written line under line like a blackboard
    derivation: each new line is written below the one it comes from, nothing morphs."""
    closed_form = derivation_line(scene, "step2.closed_form", 1.7)
    logged = derivation_line(scene, "step3.log_closed_form", 0.2).set_x(0)  # the widest line
    solved = derivation_line(scene, "step3.reparameterisation", -1.35)
    align_equals(closed_form, logged)
    align_equals(solved, logged)
    scene.narrate(
        "Step {step} gave the optimal policy in terms of the reward.",
        step=quantities.derivation_step(2),
    )
    scene.play(FadeIn(closed_form, shift=DOWN * 0.3))
    scene.wait(style.HOLD)
    scene.narrate("Read it backwards: if we knew π*, we could recover r. First, take logs.")
    scene.wait(1.5)
    scene.narrate_claim("step3.log_closed_form")
    scene.play(Write(logged), run_time=2)
    scene.wait(style.HOLD + 1)
    scene.narrate("Then move everything but the reward to the other side, and multiply by β.")
    scene.wait(1.5)
    scene.narrate_claim("step3.reparameterisation")
    scene.play(Write(solved), run_time=2)
    scene.moment("solved")
    scene.wait(style.HOLD + 1.5)
    # The lines it came from leave first, so the solved line never slides over them.
    scene.play(FadeOut(closed_form, logged, shift=UP * 0.2), run_time=0.8)
    # Cut the same equation into its two terms for what follows.
    terms = scene.regroup(solved, "step3.reparameterisation", [LOG_RATIO_TERM, LOG_Z_TERM])
    scene.play(terms.animate.next_to(title, DOWN, buff=0.5).set_x(0))

    log_z = parts_of(terms, LOG_Z_TERM)
    frame = SurroundingRectangle(log_z, color=style.PARTITION, buff=0.07)
    only_x = remark(scene, "depends on the prompt $x$ only,", color=style.PARTITION)
    not_y = remark(scene, "not on the response $y$", color=style.PARTITION)
    aside = VGroup(only_x, not_y).arrange(DOWN, buff=0.1).next_to(frame, DOWN, buff=0.25)
    aside.shift(RIGHT * min(0.0, 6.6 - aside.get_right()[0]))
    scene.narrate(
        "Look at the last term: the partition function Z(x) sums over all responses, "
        "so no y is left."
    )
    scene.play(Create(frame), FadeIn(aside, shift=DOWN * 0.2))
    scene.wait(style.HOLD + 1)
    return terms, VGroup(frame, aside)


def answer_names(responses) -> VGroup:
    """The answers of a prompt, one per row of the table, right-aligned at x = 0 (as
    ``row_names``, at the caption size)."""
    names = VGroup()
    for row, name in enumerate(responses):
        label = model_text(name, font_size=style.CAPTION_FONT_SIZE)
        names.add(label.move_to(np.array([0.0, -row * ROW_HEIGHT, 0.0]), aligned_edge=RIGHT))
    return names


def split_reward(p: labdata.Prompt, beta: float) -> list[list[float]]:
    """The lab's two terms of each answer's reward, and their sum: three columns."""
    ratio = labdata.log_ratio_reward(p, beta)
    constant = [beta * labdata.log_z(p, beta)] * len(p.responses)
    return [ratio, constant, [a + b for a, b in zip(ratio, constant, strict=True)]]


def split_table(scene: ClaimScene, first: labdata.Prompt, second: labdata.Prompt):
    """The first prompt's answers, the lab's three columns and their headers, laid out with room
    on the left for the longer of the two prompts' answers."""
    names = answer_names(first.responses)
    columns = [
        NumberColumn(values, quantity=quantity, color=color)
        for values, quantity, color in zip(
            split_reward(first, first.beta),
            (quantities.LOG_RATIO, quantities.LOG_RATIO, quantities.REWARD),
            (style.TEXT, style.PARTITION, style.REWARD),
            strict=True,
        )
    ]
    table = lay_out_columns(names, columns, gap=1.3)
    names.shift(RIGHT * 0.8)  # the answers close to their first column; headers need the gap
    # Room on the left for the longer of the two prompts' answers.
    widest = max(answer_names(p.responses).width for p in (first, second))
    table.shift(DOWN * 0.5 + RIGHT * (-6.6 + widest - names.get_right()[0]))
    headers = VGroup(
        scene.label(r"\beta \log \pi^* / \pi_{\mathrm{ref}}", font_size=30),
        scene.label(r"+\; \beta \log Z(x)", font_size=30),
        scene.label(r"=\; r(x, y)", font_size=30),
    )
    for header, column in zip(headers, columns, strict=True):
        header.next_to(column, UP, buff=0.35).set_x(column.get_center()[0])
    headers.align_to(headers[0], UP)
    return names, columns, headers


def show_the_constant(scene: ClaimScene, terms, marks: VGroup) -> VGroup:
    """Each response's reward, split into its two terms by the lab: the second is one number."""
    first, second = labdata.prompt(0), labdata.prompt(1)
    beta = first.beta
    names, columns, headers = split_table(scene, first, second)

    def prompt_line(p: labdata.Prompt) -> Text:
        return (
            model_text(p.text, font_size=style.CAPTION_FONT_SIZE)
            .next_to(headers, UP, buff=0.35)
            .align_to(names, RIGHT)
        )

    prompt_text = prompt_line(first)
    scene.narrate(
        "In numbers, at β = {beta}: the lab splits each answer's reward into the two terms.",
        beta=quantities.BETA(beta),
    )
    scene.play(FadeOut(marks[1]), FadeIn(prompt_text), FadeIn(names))
    scene.play(FadeIn(headers[0]), FadeIn(columns[0], shift=RIGHT * 0.2))
    scene.play(FadeIn(headers[1]), FadeIn(columns[1], shift=RIGHT * 0.2))
    scene.play(FadeIn(headers[2]), FadeIn(columns[2], shift=RIGHT * 0.2))
    scene.narrate("The β log Z(x) column is one number, the same for every answer to this prompt.")
    scene.play(Circumscribe(columns[1], color=style.PARTITION, fade_out=True), run_time=2)
    scene.moment("constant_column")
    scene.mark_poster()  # the reward split in two, the second column one constant
    scene.wait(1.5)

    # The next prompt replaces this one: out, then in — no digit morphs into another.
    next_names = answer_names(second.responses)
    next_names.shift(RIGHT * names.get_right()[0] + UP * names[0].get_y())
    next_prompt = prompt_line(second)
    scene.narrate("Another prompt has another constant: it depends on x, and on x only.")
    scene.play(FadeOut(names, prompt_text, *columns, shift=UP * 0.15), run_time=0.7)
    for column, values in zip(columns, split_reward(second, beta), strict=True):
        column.set_values(values)
    scene.play(FadeIn(next_names, next_prompt, *columns, shift=UP * 0.15), run_time=0.8)
    scene.play(Circumscribe(columns[1], color=style.PARTITION, fade_out=True), run_time=2)
    scene.wait(style.HOLD)
    return VGroup(next_prompt, next_names, *columns, headers)


def present(scene: ClaimScene) -> None:
    """Step 3, as a clip or as a section of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    terms, marks = solve_for_reward(scene, title)
    table = show_the_constant(scene, terms, marks)

    scene.play(FadeOut(table, shift=DOWN * 0.3))
    equivalence = scene.claim("step3.equivalence_class")
    equivalence.next_to(terms, DOWN, buff=1.6)
    scene.narrate_claim("step3.equivalence_class")
    scene.play(Write(equivalence), run_time=2)
    scene.wait(style.HOLD)
    scene.narrate(
        "Rewards are only ever pinned down up to such an f(x): keep that in mind for step {step}.",
        step=quantities.derivation_step(4),
    )
    scene.narrate(None)


class Step3Reparameterisation(ClaimScene):
    def construct(self) -> None:
        present(self)

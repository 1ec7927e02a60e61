"""Step 3 — the reparameterisation: solve the closed form for the reward.

    r(x, y) = β log π*(y | x)/π_ref(y | x) + β log Z(x)

Taking logs turns the product into a sum; solving for r leaves a term, β log Z(x), that depends
on the prompt only. The lab's numbers show it: within a prompt that column is one constant.

Render with:  manim render scenes/step3_reparameterisation.py Step3Reparameterisation
"""

from __future__ import annotations

from manim import (
    DOWN,
    RIGHT,
    UP,
    Circumscribe,
    Create,
    FadeIn,
    FadeOut,
    SurroundingRectangle,
    Transform,
    VGroup,
    Write,
)

from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import (
    NumberColumn,
    heading,
    lay_out_columns,
    model_text,
    remark,
    row_names,
)

CLIP = find_clip("step3_reparameterisation")

PI_STAR = r"\pi^*(y \mid x)"
PI_REF = r"\pi_{\mathrm{ref}}(y \mid x)"
REWARD = r"r(x, y)"
LOG_Z_TERM = r"\beta \log Z(x)"
LOG_RATIO_TERM = r"\beta \log \frac{\pi^*(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)}"


def solve_for_reward(scene: ClaimScene, title: VGroup):
    """Closed form → its logarithm → r on its own."""
    closed_form = scene.claim(
        "step2.closed_form", parts=[PI_STAR, PI_REF, REWARD, "Z(x)", r"\frac{1}{\beta}"]
    )
    scene.narrate(
        "Step {step} gave the optimal policy in terms of the reward.",
        step=quantities.derivation_step(2),
    )
    scene.play(FadeIn(closed_form, shift=UP * 0.3))
    scene.wait(style.HOLD)
    scene.narrate("Read it backwards: if we knew π*, we could recover r. First, take logs.")
    scene.wait(1.5)
    logged = scene.transform_claim(
        closed_form,
        "step3.log_closed_form",
        parts=[PI_STAR, PI_REF, REWARD, "Z(x)", r"\frac{1}{\beta}"],
        hold=style.HOLD + 1,
    )
    scene.narrate("Then move everything but the reward to the other side, and multiply by β.")
    scene.wait(1.5)
    solved = scene.transform_claim(
        logged,
        "step3.reparameterisation",
        parts=[PI_STAR, PI_REF, REWARD, "Z(x)"],
        hold=style.HOLD + 1.5,
    )
    # Cut the same equation into its two terms for what follows.
    terms = scene.regroup(solved, "step3.reparameterisation", [LOG_RATIO_TERM, LOG_Z_TERM])
    scene.play(terms.animate.next_to(title, DOWN, buff=0.5).set_x(0))

    log_z = parts_of(terms, LOG_Z_TERM)
    frame = SurroundingRectangle(log_z, color=style.PARTITION, buff=0.1)
    only_x = remark(scene, "depends on the prompt $x$ only,", color=style.PARTITION)
    not_y = remark(scene, "not on the response $y$", color=style.PARTITION)
    aside = VGroup(only_x, not_y).arrange(DOWN, buff=0.1).next_to(frame, DOWN, buff=0.25)
    aside.shift(RIGHT * min(0.0, 6.6 - aside.get_right()[0]))
    scene.narrate("Look at the last term: β log Z(x) sums over all responses, so no y is left.")
    scene.play(Create(frame), FadeIn(aside, shift=DOWN * 0.2))
    scene.wait(style.HOLD + 1)
    return terms, VGroup(frame, aside)


def show_the_constant(scene: ClaimScene, terms, marks: VGroup) -> VGroup:
    """Each response's reward, split into its two terms by the lab: the second is one number."""
    first = labdata.prompt(0)
    beta = first.beta

    def columns_for(p: labdata.Prompt) -> list[list[float]]:
        ratio = labdata.log_ratio_reward(p, beta)
        constant = [beta * labdata.log_z(p, beta)] * len(p.responses)
        return [ratio, constant, [a + b for a, b in zip(ratio, constant, strict=True)]]

    second = labdata.prompt(1)
    ratio, constant, total = columns_for(first)
    names = row_names(first.responses)
    # Room on the left for the longer of the two prompts' answers.
    widest = max(row_names(p.responses).width for p in (first, second))
    columns = [
        NumberColumn(ratio, quantity=quantities.LOG_RATIO, color=style.TEXT),
        NumberColumn(constant, quantity=quantities.LOG_RATIO, color=style.PARTITION),
        NumberColumn(total, quantity=quantities.REWARD, color=style.REWARD),
    ]
    table = lay_out_columns(names, columns, gap=1.3)
    table.shift(DOWN * 0.5 + RIGHT * (-6.6 + widest - names.get_right()[0]))
    headers = VGroup(
        scene.label(r"\beta \log \pi^* / \pi_{\mathrm{ref}}", font_size=30),
        scene.label(r"+\; \beta \log Z(x)", font_size=30),
        scene.label(r"=\; r(x, y)", font_size=30),
    )
    for header, column in zip(headers, columns, strict=True):
        header.next_to(column, UP, buff=0.35).set_x(column.get_center()[0])
    headers.align_to(headers[0], UP)
    prompt_text = model_text(first.text).align_to(names, RIGHT).align_to(headers, DOWN)

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
    scene.mark_poster()  # the reward split in two, the second column one constant
    scene.wait(1.5)

    ratio, constant, total = columns_for(second)
    next_names = row_names(second.responses).move_to(names, aligned_edge=RIGHT)
    next_prompt = model_text(second.text).move_to(prompt_text, aligned_edge=RIGHT)
    scene.narrate("Another prompt has another constant: it depends on x, and on x only.")
    scene.play(
        Transform(names, next_names),
        Transform(prompt_text, next_prompt),
        *(
            column.animate.set_values(values)
            for column, values in zip(columns, (ratio, constant, total), strict=True)
        ),
        run_time=1.5,
    )
    scene.play(Circumscribe(columns[1], color=style.PARTITION, fade_out=True), run_time=2)
    scene.wait(style.HOLD)
    return VGroup(prompt_text, table, headers)


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

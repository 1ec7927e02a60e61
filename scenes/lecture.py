"""The whole lecture: a title card, the five steps — one Manim section each — and a recap.

Each step is the same ``present`` function its own clip plays, so the lecture and the clips can
never drift apart (and the lecture's render reuses the clips' cached video segments).

Render with:  manim render scenes/lecture.py Lecture
"""

from __future__ import annotations

from manim import DOWN, LEFT, RIGHT, UP, FadeIn, VGroup, Write

from scenes import (
    step1_objective,
    step2_optimal_policy,
    step3_reparameterisation,
    step4_bradley_terry,
    step5_dpo_loss,
    style,
)
from scenes.base import ClaimScene
from scenes.widgets import remark

STEPS = (
    step1_objective,
    step2_optimal_policy,
    step3_reparameterisation,
    step4_bradley_terry,
    step5_dpo_loss,
)

# One equation per step: the derivation on one page.
RECAP = (
    "step1.objective",
    "step2.closed_form",
    "step3.reparameterisation",
    "step4.z_cancels",
    "step5.dpo_loss",
)


def title_card(scene: ClaimScene) -> None:
    title = scene.title(r"Direct Preference Optimization", font_size=60)
    subtitle = remark(
        scene, "derived in five steps, every equation checked by the lab", color=style.MUTED
    )
    steps = VGroup(
        *(
            remark(scene, rf"{module.CLIP.step}.\enspace {module.CLIP.title}", font_size=32)
            for module in STEPS
        )
    ).arrange(DOWN, aligned_edge=LEFT)
    for row, line in enumerate(steps):  # evenly spaced baselines, whatever the line's height
        line.shift(UP * (-0.62 * row - line[0][0].get_bottom()[1]))
    VGroup(title, subtitle, steps).arrange(DOWN, buff=0.45)
    scene.narrate(
        "Direct Preference Optimization, derived in five steps: from the RLHF objective "
        "to the DPO loss."
    )
    scene.play(Write(title), run_time=1.5)
    scene.play(FadeIn(subtitle, shift=UP * 0.2))
    scene.play(FadeIn(steps, lag_ratio=0.2), run_time=2)
    scene.mark_poster()
    scene.wait(style.HOLD)
    scene.narrate(None)


def recap(scene: ClaimScene) -> None:
    """The five steps' equations, one under the other."""
    lines = VGroup()
    for number, claim_id in enumerate(RECAP, start=1):
        tag = remark(scene, f"{number}.", color=style.MUTED, font_size=30)
        equation = scene.claim(claim_id, font_size=28)
        lines.add(VGroup(tag, equation).arrange(RIGHT, buff=0.3))
    lines.arrange(DOWN, aligned_edge=LEFT, buff=0.42).move_to(RIGHT * 0.2)
    scene.narrate("The whole derivation: the objective, its optimum, the reward solved for it,")
    scene.play(FadeIn(lines[0]), FadeIn(lines[1]), FadeIn(lines[2]), run_time=2)
    scene.narrate("Z(x) cancelling in the preferences, and the loss that fits them.")
    scene.play(FadeIn(lines[3]), FadeIn(lines[4]), run_time=2)
    scene.wait(style.HOLD + 2)
    scene.narrate(None)


class Lecture(ClaimScene):
    def construct(self) -> None:
        self.next_section("Title")
        title_card(self)
        self.clear_screen()
        for module in STEPS:
            self.next_section(f"Step {module.CLIP.step}: {module.CLIP.plain_title}")
            module.present(self)
            self.clear_screen()
        self.next_section("Recap")
        recap(self)

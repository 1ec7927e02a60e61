"""The whole lecture: a title card, the catalog's lecture clips in order — one chapter and one
Manim section each — and a recap.

Each chapter is the same ``present`` function its own clip plays, so the lecture and the clips
can never drift apart (and the lecture's render reuses the clips' cached video segments).

Render with:  manim render scenes/lecture.py Lecture
"""

from __future__ import annotations

import importlib

from manim import DOWN, LEFT, ORIGIN, RIGHT, UP, FadeIn, VGroup, Write, config

from scenes import style
from scenes.base import ClaimScene
from scenes.catalog import Clip, lecture_clips
from scenes.widgets import remark

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
    chapters = VGroup(
        *(
            remark(scene, rf"{clip.chapter}.\enspace {clip.title}", font_size=32)
            for clip in lecture_clips()
        )
    ).arrange(DOWN, aligned_edge=LEFT)
    for row, line in enumerate(chapters):  # evenly spaced baselines, whatever the line's height
        line.shift(UP * (-0.62 * row - line[0][0].get_bottom()[1]))
    card = VGroup(title, subtitle, chapters).arrange(DOWN, buff=0.45)
    if card.height > config.frame_height - 0.8:  # a long chapter list still fits on the card
        card.scale_to_fit_height(config.frame_height - 0.8).move_to(ORIGIN)
    scene.narrate(
        "Direct Preference Optimization, derived in five steps: from the RLHF objective "
        "to the DPO loss."
    )
    scene.play(Write(title), run_time=1.5)
    scene.play(FadeIn(subtitle, shift=UP * 0.2))
    scene.play(FadeIn(chapters, lag_ratio=0.2), run_time=2)
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


def section_name(clip: Clip) -> str:
    """ "Step N: title" for a derivation step, the title alone for a topic beyond the steps."""
    return clip.plain_title if clip.step is None else f"Step {clip.step}: {clip.plain_title}"


class Lecture(ClaimScene):
    def construct(self) -> None:
        self.next_section("Title")
        title_card(self)
        self.clear_screen()
        for clip in lecture_clips():
            self.next_section(section_name(clip))
            importlib.import_module(clip.module).present(self)
            self.clear_screen()
        self.next_section("Recap")
        recap(self)

"""The whole lecture: a title card, the catalog's lecture clips in order — one chapter and one
Manim section each — and a recap.

Each chapter is the same ``present`` function its own clip plays, so the lecture and the clips
can never drift apart (and the lecture's render reuses the clips' cached video segments).

Render with:  manim render scenes/lecture.py Lecture
"""

from __future__ import annotations

import importlib

import numpy as np
from manim import DOWN, LEFT, ORIGIN, RIGHT, UL, UP, FadeIn, Line, VGroup, Write, config

from scenes import quantities, style
from scenes.base import ClaimScene
from scenes.catalog import Clip, lecture_clips
from scenes.widgets import remark

# One equation per step, the move that makes it (in two short lines), and the sentence that says it.
RECAP = (
    (
        "step1.objective",
        ("the objective:", r"reward minus $\beta \cdot \mathrm{KL}$"),
        "One, the objective: expected reward, minus β times the KL divergence from π_ref.",
    ),
    (
        "step2.closed_form",
        ("solve it:", r"$\pi^*$ in closed form"),
        "Two, solve it: the optimal policy π* in closed form, normalised by Z(x).",
    ),
    (
        "step3.reparameterisation",
        ("invert:", r"the reward from $\pi^*$"),
        "Three, invert it: the reward written with π* and π_ref.",
    ),
    (
        "step4.z_cancels",
        ("Bradley--Terry:", r"$Z(x)$ cancels"),
        "Four, Bradley–Terry: preferences see only reward differences, so Z(x) cancels.",
    ),
    (
        "step5.dpo_loss",
        (r"$\pi_\theta$ in $\pi^*$'s place:", "the DPO loss"),
        "Five, π_θ in π*'s place: the preferences' likelihood becomes the DPO loss.",
    ),
)
# The lecture in one sentence: on screen in these two lines, and spoken whole.
TAKEAWAY_LINES = (
    "DPO fits the RLHF objective's optimal policy directly from preference pairs",
    "with one classification loss: no reward model, no sampling.",
)
TAKEAWAY = " ".join(TAKEAWAY_LINES)
RECAP_FONT_SIZE = 28  # equations and words alike: the five lines fit one frame


def title_card(scene: ClaimScene) -> None:
    title = scene.title(r"Direct Preference Optimization", font_size=60)
    subtitle = remark(
        scene,
        "why it exists, five steps, then at work; every equation checked by the lab",
        color=style.MUTED,
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
        "Direct Preference Optimization: why it exists, its derivation in five steps from the "
        "RLHF objective to the DPO loss, and what it does when it trains a model."
    )
    scene.play(Write(title), run_time=1.5)
    scene.play(FadeIn(subtitle, shift=UP * 0.2))
    scene.play(FadeIn(chapters, lag_ratio=0.2), run_time=2)
    scene.mark_poster()
    scene.wait(style.HOLD)
    scene.narrate(None)


def recap_heading(scene: ClaimScene) -> VGroup:
    """The recap's heading in the top-left corner, ruled like a clip's."""
    text = scene.title(
        r"Recap \textperiodcentered{} the derivation in five moves",
        font_size=style.HEADING_FONT_SIZE,
    )
    text.to_corner(UL, buff=0.45)
    half = (text.width + 0.2) / 2
    rule = Line(LEFT * half, RIGHT * half, stroke_width=2, color=style.MUTED)
    rule.next_to(text, DOWN, buff=0.12).align_to(text, LEFT)
    return VGroup(text, rule)


def recap_lines(scene: ClaimScene) -> VGroup:
    """One row per move: its number and name in words (two lines) beside its equation."""
    rows = VGroup()
    for number, (claim_id, (name, detail), _) in enumerate(RECAP, start=1):
        words = VGroup(
            remark(scene, rf"{number} \textperiodcentered{{}} {name}", font_size=RECAP_FONT_SIZE),
            remark(scene, detail, font_size=RECAP_FONT_SIZE),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.14)
        rows.add(VGroup(words, scene.claim(claim_id, font_size=RECAP_FONT_SIZE)))
    words_width = max(row[0].width for row in rows)
    for words, equation in rows:  # the words in one column, the equations in the next
        words.move_to(ORIGIN, aligned_edge=LEFT)
        equation.move_to(np.array([words_width + 0.45, 0.0, 0.0]), aligned_edge=LEFT)
    rows.arrange(DOWN, aligned_edge=LEFT, buff=0.38)
    return rows


def recap(scene: ClaimScene) -> None:
    """The five steps' equations, one under the other, each with its move named beside it and
    said as it appears; then the lecture's takeaway, on screen and spoken."""
    heading = recap_heading(scene)
    rows = recap_lines(scene)
    takeaway = VGroup(*(remark(scene, line) for line in TAKEAWAY_LINES)).arrange(DOWN, buff=0.15)
    rows.next_to(heading, DOWN, buff=0.45).to_edge(LEFT, buff=0.5)
    takeaway.next_to(rows, DOWN, buff=0.55).set_x(0)
    scene.narrate("The whole derivation, in five moves.")
    scene.play(FadeIn(heading, shift=DOWN * 0.2))
    for row, (_, _, sentence) in zip(rows, RECAP, strict=True):
        with scene.voiceover(sentence) as tracker:
            scene.play(FadeIn(row[0], shift=RIGHT * 0.2), run_time=0.8)
            scene.play(FadeIn(row[1]), run_time=min(1.5, max(tracker.duration - 0.8, 0.5)))
    with scene.voiceover(TAKEAWAY) as tracker:
        scene.play(FadeIn(takeaway, shift=UP * 0.2), run_time=min(2.0, tracker.duration))
    scene.wait(1.5)
    scene.narrate(None)


def section_name(clip: Clip) -> str:
    """ "Step N: title" for a derivation step, the title alone for a topic beyond the steps."""
    return clip.plain_title if clip.step is None else f"Step {clip.step}: {clip.plain_title}"


def announce(scene: ClaimScene, clip: Clip) -> None:
    """Say which chapter begins, as its heading fades in: no silent gap between chapters."""
    if clip.step is None:
        title = clip.plain_title
        scene.narrate(f"{'First' if clip.chapter == 1 else 'Next'}, {title[0].lower()}{title[1:]}.")
    else:
        step = quantities.derivation_step(clip.step)
        scene.narrate(f"Step {{step}}: {clip.plain_title}.", step=step)


class Lecture(ClaimScene):
    def construct(self) -> None:
        self.next_section("Title")
        title_card(self)
        for clip in lecture_clips():
            # The sentence before is heard out, then the screen clears fast and the next
            # chapter is announced, so that no stretch between chapters is still and silent.
            self.narrate(None)
            self.clear_screen(run_time=0.5)
            self.next_section(section_name(clip))
            announce(self, clip)
            importlib.import_module(clip.module).present(self)
        self.narrate(None)
        self.clear_screen(run_time=0.5)
        self.next_section("Recap")
        recap(self)

"""Step 4 — Bradley–Terry: a preference probability is a sigmoid of a reward difference.

Render with:  manim render scenes/step4_bradley_terry.py Step4BradleyTerry
"""

from __future__ import annotations

import torch
from manim import (
    DOWN,
    UP,
    Axes,
    Create,
    DecimalNumber,
    Dot,
    FadeIn,
    FadeOut,
    ValueTracker,
    VGroup,
    always_redraw,
)

from lab import preference_prob
from lab.palette import PALETTE
from scenes import style
from scenes.base import ClaimScene


def win_probability(difference: float) -> float:
    """σ(A − B) from the lab, for a reward difference A − B."""
    return float(preference_prob(torch.tensor(difference, dtype=torch.float64), torch.tensor(0.0)))


class Step4BradleyTerry(ClaimScene):
    def construct(self) -> None:
        heading = self.title(r"Step 4 \textbullet{} Bradley--Terry").to_edge(UP)
        self.narrate("Bradley–Terry turns two rewards into the probability of a preference.", 2)
        self.play(FadeIn(heading), run_time=1)
        self.wait(1)

        identity = self.show_claim("step4.sigmoid_identity", hold=1.5)
        self.play(identity.animate.scale(0.8).next_to(heading, DOWN, buff=0.4))

        axes = Axes(
            x_range=[-6, 6, 2],
            y_range=[0, 1, 0.5],
            x_length=8,
            y_length=3.2,
            axis_config={"include_numbers": True, "font_size": 24},
        ).to_edge(DOWN, buff=0.6)
        x_label = self.label("A - B", font_size=30).next_to(axes.x_axis, DOWN, buff=0.45)
        curve = axes.plot(win_probability, color=PALETTE.chosen)
        self.narrate(
            "Only the difference A − B matters: shift both rewards and nothing changes.", 4
        )
        self.play(Create(axes), FadeIn(x_label), run_time=1.5)
        self.play(Create(curve), run_time=1.5)

        difference = ValueTracker(-4.0)
        dot = always_redraw(
            lambda: Dot(
                axes.c2p(difference.get_value(), win_probability(difference.get_value())),
                color=PALETTE.optimal,
            )
        )
        readout = always_redraw(
            lambda: DecimalNumber(
                win_probability(difference.get_value()),
                num_decimal_places=3,
                font_size=style.CAPTION_FONT_SIZE,
                color=PALETTE.optimal,
            ).next_to(dot, UP, buff=0.15)
        )
        self.add(dot, readout)
        self.play(difference.animate.set_value(4.0), run_time=3)
        self.wait(1)
        self.play(FadeOut(VGroup(axes, x_label, curve, dot, readout, identity, heading)))

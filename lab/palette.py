"""One colour per concept, shared by the scenes (Manim) and the lab's figures (matplotlib).

Plain hex strings, so that the lab can read them without importing manim. The same symbol has the
same colour in every scene and every plot of the lecture. Colours that appear side by side stay
apart for red–green colour-blind viewers (``lab.colour_vision``; tests/test_palette.py measures it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    policy: str = "#58C4DD"  # π_θ, the policy being trained
    reference: str = "#A0A0A0"  # π_ref, the reference (SFT) policy
    optimal: str = "#F4D345"  # π*, the closed-form optimal policy
    reward: str = "#99FFAF"  # r(x, y); mint, apart from rejected-red under deuteranopia
    beta: str = "#FF862F"  # β, the KL strength
    partition: str = "#C77DDE"  # Z(x) and β log Z(x)
    chosen: str = "#5CD0B3"  # y_w, the preferred response
    rejected: str = "#FC6255"  # y_l, the dispreferred response
    text: str = "#FFFFFF"
    muted: str = "#888888"
    background: str = "#0E1117"


PALETTE = Palette()

"""Typography and colour for every scene, built from the shared palette (``lab.palette``)."""

from __future__ import annotations

from lab.palette import PALETTE

# TeX fragment → colour: the same symbol keeps the same colour across the whole lecture.
# Longer fragments first, so that "\pi_{\mathrm{ref}}" is matched before "\pi".
TEX_COLORS: dict[str, str] = {
    r"\pi_{\mathrm{ref}}": PALETTE.reference,
    r"\pi_\theta": PALETTE.policy,
    r"\pi^*": PALETTE.optimal,
    r"\beta": PALETTE.beta,
    r"Z(x)": PALETTE.partition,
    r"y_w": PALETTE.chosen,
    r"y_l": PALETTE.rejected,
    r"r_w": PALETTE.chosen,
    r"r_l": PALETTE.rejected,
    "A": PALETTE.chosen,
    "B": PALETTE.rejected,
}

TITLE_FONT_SIZE = 44
BODY_FONT_SIZE = 40
CAPTION_FONT_SIZE = 28
BACKGROUND = PALETTE.background

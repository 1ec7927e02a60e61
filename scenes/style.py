"""Typography and colour for every scene, built from the shared palette (``lab.palette``).

``TEX_COLORS`` is the lecture's ``t2c`` map (3b1b's convention): the same symbol has the same
colour in every equation of every scene. ``colors_for(tex)`` picks the entries that apply to one
equation; an entry that would match inside a control word (the ``B`` of ``\\Big``) is left out,
because Manim isolates substrings textually and would cut the command in two.
"""

from __future__ import annotations

import re

from lab.palette import PALETTE

# TeX fragment → colour. Longer fragments win over shorter ones at the same position, so
# "r(x, y_w)" is matched before "y_w" and "\pi_{\mathrm{ref}}" before anything inside it.
TEX_COLORS: dict[str, str] = {
    r"\pi_{\mathrm{ref}}": PALETTE.reference,
    r"\pi_\theta": PALETTE.policy,
    r"\pi^*": PALETTE.optimal,
    r"r(x, y)": PALETTE.reward,
    r"r(x, y_w)": PALETTE.reward,  # a reward is green whatever it rewards
    r"r(x, y_l)": PALETTE.reward,
    r"\beta": PALETTE.beta,
    r"Z(x)": PALETTE.partition,
    r"y_w": PALETTE.chosen,
    r"y_l": PALETTE.rejected,
    r"r_w": PALETTE.reward,
    r"r_l": PALETTE.reward,
    "A": PALETTE.chosen,
    "B": PALETTE.rejected,
}

# What a colour means, for legends and for the non-TeX parts of a scene (bars, arrows, boxes).
POLICY = PALETTE.policy
REFERENCE = PALETTE.reference
OPTIMAL = PALETTE.optimal
REWARD = PALETTE.reward
BETA = PALETTE.beta
PARTITION = PALETTE.partition
CHOSEN = PALETTE.chosen
REJECTED = PALETTE.rejected
TEXT = PALETTE.text
MUTED = PALETTE.muted
BACKGROUND = PALETTE.background

# Code on screen (``scenes.code``): a name matching a pattern takes its colour, the first match
# winning; other names are plain text.
CODE_COLORS: dict[str, str] = {
    r"pi_\w*": POLICY,
    r"ref_\w*": REFERENCE,
    r"yw_\w*": CHOSEN,
    r"yl_\w*": REJECTED,
    r"beta": BETA,
    r"rewards": REWARD,
    r"def|return": MUTED,
}

TITLE_FONT_SIZE = 44
HEADING_FONT_SIZE = 34
BODY_FONT_SIZE = 44
SMALL_FONT_SIZE = 36
CAPTION_FONT_SIZE = 28
NOTE_FONT_SIZE = 30
MODEL_TEXT_FONT = "DejaVu Sans Mono"  # what a model writes (prompts, responses): Debian's mono
MODEL_TEXT_FONT_SIZE = 24

# Seconds: how long an equation stays still after it is written, so a student can read it.
HOLD = 2.0
# Captions: a comfortable reading speed for subtitles (broadcast guidelines use 15–17).
READING_CHARS_PER_SECOND = 15.0
MIN_CAPTION_SECONDS = 1.5


def _inside_control_word(tex: str, start: int) -> bool:
    """Whether position ``start`` of ``tex`` continues a control word such as ``\\Big``."""
    if not tex[start].isalpha():
        return False
    return re.search(r"\\[A-Za-z]*$", tex[:start]) is not None


def colors_for(tex: str, *, prose: bool = False) -> dict[str, str]:
    """The entries of ``TEX_COLORS`` that occur in ``tex`` and can be isolated safely.
    ``prose``: ``tex`` is text-mode TeX, where a capital A or B is a letter, not a reward."""
    chosen: dict[str, str] = {}
    for fragment, color in TEX_COLORS.items():
        if prose and fragment.isalpha():
            continue
        starts = [m.start() for m in re.finditer(re.escape(fragment), tex)]
        if starts and not any(_inside_control_word(tex, s) for s in starts):
            chosen[fragment] = color
    return chosen

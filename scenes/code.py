"""Code on screen: a code claim's source, typeset line by line in the typewriter face.

``CodeBlock`` keeps the source it shows (``source``), so that a ClaimScene can tell which code
claim reached the screen, as it tells an equation claim by its TeX. Names are coloured by what
they stand for (``style.CODE_COLORS``: the policy's, the reference's, β, chosen and rejected);
the layout is Pango's, so indentation and spacing are the source's own.
"""

from __future__ import annotations

import html
import re

from manim import MarkupText, VGroup

from scenes import style


class CodeBlock(VGroup):
    """``source`` typeset; ``lines[i]`` is the glyphs of line i (empty for a blank line)."""

    def __init__(self, source: str, *, font_size: float = style.MODEL_TEXT_FONT_SIZE) -> None:
        super().__init__()
        self.source = source
        markup = "\n".join(_coloured(line) for line in source.split("\n"))
        text = MarkupText(markup, font=style.MODEL_TEXT_FONT, font_size=font_size, color=style.TEXT)
        glyphs = iter(text.submobjects)
        self.lines = [
            VGroup(*(next(glyphs) for _ in range(len(re.sub(r"\s", "", line)))))
            for line in source.split("\n")
        ]
        self.add(*self.lines)


def _coloured(line: str) -> str:
    """The line as Pango markup, each name coloured by the first rule of CODE_COLORS it matches."""
    pieces, end = [], 0
    for match in re.finditer(r"[A-Za-z_]\w*", line):
        pieces.append(html.escape(line[end : match.start()]))
        name = html.escape(match.group())
        colour = next(
            (c for pattern, c in style.CODE_COLORS.items() if re.fullmatch(pattern, name)), None
        )
        pieces.append(f'<span foreground="{colour}">{name}</span>' if colour else name)
        end = match.end()
    pieces.append(html.escape(line[end:]))
    return "".join(pieces)


def code_blocks(mobject) -> list[CodeBlock]:
    """The CodeBlocks in ``mobject``'s family."""
    return [m for m in mobject.get_family() if isinstance(m, CodeBlock)]

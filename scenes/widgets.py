"""Small visual pieces the step scenes compose: headings, bar columns, notes, strike-throughs.

One concept per helper. None of them typesets an equation: equations come from claims
(``ClaimScene.claim``). Prose is text-mode TeX marked through the scene as a title/caption
(``remark``); what a model reads or writes is Pango ``Text`` in a typewriter face (``model_text``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UL,
    UP,
    Brace,
    Line,
    MathTex,
    Mobject,
    Rectangle,
    RoundedRectangle,
    Tex,
    Text,
    ValueTracker,
    VGroup,
    VMobject,
)

from scenes import style
from scenes.base import ClaimScene
from scenes.catalog import Clip
from scenes.quantities import ERROR, PROBABILITY, Quantity


def heading(scene: ClaimScene, clip: Clip) -> VGroup:
    """ "Step N · title" (a topic beyond the steps: its title) in the top-left corner, with a
    thin rule under it."""
    words = clip.title
    if clip.step is not None:
        words = rf"Step {clip.step} \textperiodcentered{{}} {clip.title}"
    text = scene.title(
        words,
        font_size=style.HEADING_FONT_SIZE,
        tex_to_color_map=style.colors_for(words, prose=True),
    )
    text.to_corner(UL, buff=0.45)
    half = (text.width + 0.2) / 2
    rule = Line(LEFT * half, RIGHT * half, stroke_width=2, color=style.MUTED)
    rule.next_to(text, DOWN, buff=0.12).align_to(text, LEFT)
    return VGroup(text, rule)


def remark(
    scene: ClaimScene,
    text: str,
    *,
    color: str = style.TEXT,
    font_size: float = style.NOTE_FONT_SIZE,
) -> Tex:
    """A short prose note in text-mode TeX (symbols in ``$…$`` keep their palette colours),
    marked on the scene as a caption: "expected reward", "depends on $x$ only"."""
    return scene.title(
        text, font_size=font_size, color=color, tex_to_color_map=style.colors_for(text, prose=True)
    )


def scientific(scene: ClaimScene, value: float, *, color: str, font_size: float = 36) -> MathTex:
    """An error in maths type, by ``ERROR``'s rule: 0.0123 as it is, 3.1e-07 as 3.1 × 10⁻⁷.
    It is a value, not an equation, so the scene marks it as a label."""
    return scene.label(ERROR.tex(value), font_size=font_size, color=color)


def model_text(text: str, *, font_size: float = style.MODEL_TEXT_FONT_SIZE) -> Text:
    """Something a model reads or writes (a prompt, a response), in a typewriter face: data,
    not maths, so it is plain Pango text and never passes through TeX."""
    return Text(text, font=style.MODEL_TEXT_FONT, font_size=font_size, color=style.TEXT)


def brace_note(
    scene: ClaimScene,
    mobject: Mobject,
    text: str,
    *,
    direction=DOWN,
    color: str = style.TEXT,
    font_size: float = style.NOTE_FONT_SIZE,
) -> VGroup:
    """A brace along one side of ``mobject`` with a remark beyond it."""
    brace = Brace(mobject, direction=direction, color=color, buff=0.12)
    label = remark(scene, text, color=color, font_size=font_size)
    label.next_to(brace, direction, buff=0.12)
    return VGroup(brace, label)


def strike(mobject: Mobject, *, color: str = style.PARTITION, stroke_width: float = 6) -> Line:
    """A single diagonal stroke through ``mobject`` (the lower left to the upper right corner)."""
    return Line(
        mobject.get_corner(DOWN + LEFT) + 0.06 * (DOWN + LEFT),
        mobject.get_corner(UP + RIGHT) + 0.06 * (UP + RIGHT),
        color=color,
        stroke_width=stroke_width,
    )


def box(mobject: Mobject, *, color: str = style.MUTED, buff: float = 0.25) -> RoundedRectangle:
    """A rounded frame around ``mobject`` (pipeline stages, highlighted results)."""
    frame = RoundedRectangle(
        corner_radius=0.15,
        width=mobject.width + 2 * buff,
        height=mobject.height + 2 * buff,
        color=color,
        stroke_width=2.5,
    )
    return frame.move_to(mobject)


ROW_HEIGHT = 0.62  # vertical distance between the rows of a bar table


class BarColumn(VGroup):
    """One column of horizontal bars, one per response (row ``i`` centred at y = −i·ROW_HEIGHT),
    growing rightwards from a common left edge, each with its value printed after it.
    ``set_values`` resizes the bars in place, so a ValueTracker can drive the column.

    ``quantity``: the rule its numbers follow (None: no numbers).
    ``full_scale``: the value drawn ``width`` long (1 for probabilities). ``outline=True`` draws
    hollow bars (a target to reach, e.g. π*) instead of filled ones. ``numbers_after_full=True``
    keeps the numbers in one still column after the longest possible bar, instead of following
    each bar's end (when another column's bars are drawn over this one).
    """

    def __init__(
        self,
        values: Sequence[float],
        *,
        color: str,
        width: float = 2.0,
        bar_height: float = 0.36,
        full_scale: float = 1.0,
        quantity: Quantity | None = PROBABILITY,
        outline: bool = False,
        numbers_after_full: bool = False,
        font_size: float = style.CAPTION_FONT_SIZE,
    ) -> None:
        super().__init__()
        self.full_scale = full_scale
        self.numbers_after_full = numbers_after_full
        self.max_width = width
        self.bars = VGroup()
        self.numbers = VGroup()
        for row, value in enumerate(values):
            bar = Rectangle(
                width=self._length(value),
                height=bar_height,
                stroke_width=2.5 if outline else 0,
                stroke_color=color,
                fill_color=color,
                fill_opacity=0.0 if outline else 0.85,
            )
            bar.move_to(np.array([bar.width / 2, -row * ROW_HEIGHT, 0.0]))
            self.bars.add(bar)
            if quantity is not None:
                self.numbers.add(quantity.number(value, font_size=font_size).set_color(color))
        self.add(self.bars, self.numbers)
        self._place_numbers()
        # The width a table reserves for this column: the longest bar and its number.
        self.span = width + (0.15 + max((n.width for n in self.numbers), default=0.0))

    def _length(self, value: float) -> float:
        # A zero-width rectangle cannot be stretched back: keep a hairline.
        return max(self.max_width * float(value) / self.full_scale, 1e-3)

    def _place_numbers(self) -> None:
        for bar, number in zip(self.bars, self.numbers, strict=False):
            number.next_to(bar, RIGHT, buff=0.12)
            if self.numbers_after_full:
                number.set_x(self.left + self.max_width + 0.12 + number.width / 2)

    @property
    def left(self) -> float:
        return float(self.bars[0].get_left()[0])

    def set_values(self, values: Sequence[float], *, numbers: bool = True) -> BarColumn:
        """Resize the bars to ``values``; ``numbers=False`` leaves the printed values as they
        are (while bars glide between two computed states, say)."""
        left = self.left
        for bar, value in zip(self.bars, values, strict=True):
            y = bar.get_center()[1]
            bar.stretch_to_fit_width(self._length(value))
            bar.move_to(np.array([left + bar.width / 2, y, 0.0]))
        if numbers:
            for number, value in zip(self.numbers, values, strict=False):
                number.set_value(float(value))
        self._place_numbers()
        return self

    def glide(self, old: Sequence[float], new: Sequence[float]) -> tuple[ValueTracker, object]:
        """A tracker to animate from 0 to 1 that moves the bars from ``old`` to ``new``; the
        printed numbers stay at ``old`` until the caller sets ``new`` (no invented values).
        Returns the tracker and the updater (remove it with ``column.remove_updater``)."""
        progress = ValueTracker(0.0)

        def update(column: BarColumn) -> None:
            t = progress.get_value()
            column.set_values(
                [a + (b - a) * t for a, b in zip(old, new, strict=True)], numbers=False
            )

        self.add_updater(update)
        return progress, update


class NumberColumn(VGroup):
    """A column of numbers of one ``quantity``, one per row of a bar table, right-aligned."""

    def __init__(
        self,
        values: Sequence[float],
        *,
        quantity: Quantity,
        color: str,
        font_size: float = style.CAPTION_FONT_SIZE,
    ) -> None:
        super().__init__()
        for row, value in enumerate(values):
            number = quantity.number(value, font_size=font_size).set_color(color)
            self.add(number.move_to(np.array([0.0, -row * ROW_HEIGHT, 0.0]), aligned_edge=RIGHT))
        self.span = max(number.width for number in self)

    @property
    def left(self) -> float:
        return float(self.get_left()[0])

    def set_values(self, values: Sequence[float]) -> NumberColumn:
        right = self.get_right()[0]
        for number, value in zip(self, values, strict=True):
            y = number.get_center()[1]
            number.set_value(float(value))
            number.move_to(np.array([right, y, 0.0]), aligned_edge=RIGHT)
        return self


def row_names(names: Sequence[str]) -> VGroup:
    """The response strings of a bar table, right-aligned at x = 0, one per row."""
    labels = VGroup()
    for row, name in enumerate(names):
        label = model_text(name)
        labels.add(label.move_to(np.array([0.0, -row * ROW_HEIGHT, 0.0]), aligned_edge=RIGHT))
    return labels


def lay_out_columns(names: VGroup, columns: Sequence[Mobject], gap: float = 0.6) -> VGroup:
    """Place ``columns`` left to right after the row names, each ``gap`` after the previous
    column's span, and return the whole table (names first) as one VGroup."""
    x = float(names.get_right()[0]) + gap
    for column in columns:
        column.shift(RIGHT * (x - column.left))
        x += column.span + gap
    return VGroup(names, *columns)


def column_header(scene: ClaimScene, tex: str, column: Mobject, *, buff: float = 0.3) -> VMobject:
    """A symbol heading a bar column (π_ref, π*, …), left-aligned with its column."""
    header = scene.label(tex, font_size=style.CAPTION_FONT_SIZE + 2)
    header.next_to(column, UP, buff=buff)
    header.set_x(column.left + header.width / 2)
    return header

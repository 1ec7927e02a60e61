"""ClaimScene: a Manim scene whose equations are registered claims.

Scenes typeset equations through ``self.claim("step4.sigmoid_identity")`` so that an equation
on screen IS a claim of the lab, with a check and a refutation behind it. Everything else in TeX
must be marked as what it is: ``self.label(...)`` for axis labels and symbols, ``self.title(...)``
for titles. The scene records every TeX string that reaches the screen — through ``add``, through
``play``, and as the target of a Transform, ReplacementTransform or TransformMatchingTex — and when
the scene ends it raises ``UnregisteredTexError`` for any TeX that is neither a claim nor marked.

``self.claim(id, parts=[...])`` cuts the claim's TeX into Manim's ``{{ }}`` groups around the
given sub-expressions, without changing the TeX itself: ``TransformMatchingTex`` then carries each
part that two equations share from one line to the next.

Captions: one caption track, one line at a time. ``show_claim`` captions the claim with its
``says`` sentence, ``narrate`` captions a line of narration; each line lasts until the next one
starts (or ``seconds``, when given). Manim writes them as an .srt file beside the video. A number
in a narration line is a ``{field}`` filled from a ``scenes.quantities.Stated`` (a lab value
formatted by its quantity's rule, or a number of the notation or of the lecture's structure); the
scene records every caption with the numbers it states (``captions``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from manim import (
    DecimalNumber,
    FadeOut,
    MathTex,
    Mobject,
    Scene,
    SingleStringMathTex,
    Tex,
    TransformMatchingTex,
    VGroup,
    Write,
    config,
)

from lab.claims import all_claims, get_claim, normalise_tex
from scenes import style
from scenes.quantities import Stated, fill, said_by


class UnregisteredTexError(RuntimeError):
    """The scene showed TeX that is neither a registered claim nor marked as a title or label."""


def tex_mobjects(mobject: Mobject) -> Iterator[SingleStringMathTex]:
    """The outermost TeX mobjects in ``mobject``'s family. Numbers (DecimalNumber) are skipped:
    their digits are computed values, not equations."""
    if isinstance(mobject, DecimalNumber):
        return
    if isinstance(mobject, SingleStringMathTex):
        yield mobject
        return
    for child in mobject.submobjects:
        yield from tex_mobjects(child)


def _animation_mobjects(animation: object) -> Iterator[Mobject]:
    """Every mobject an animation shows: its mobject and, for transforms, the target it becomes."""
    if isinstance(animation, Mobject):
        yield animation
        return
    for name in ("mobject", "target_mobject", "target_copy", "to_add"):
        candidate = getattr(animation, name, None)
        if isinstance(candidate, Mobject):
            yield candidate
    for child in getattr(animation, "animations", None) or ():
        yield from _animation_mobjects(child)


def group_parts(tex: str, parts: Sequence[str]) -> str:
    """``tex`` with every occurrence of each of ``parts`` wrapped in Manim's ``{{ }}`` group.

    Only braces and spaces are added, which ``normalise_tex`` removes: the result is still the
    same claim. Longer parts win where two overlap. Raises ValueError for a part not in ``tex``.
    """
    missing = [part for part in parts if part not in tex]
    if missing:
        raise ValueError(f"not in the claim's TeX {tex!r}: {missing}")
    if not parts:
        return tex
    pattern = "|".join(re.escape(part) for part in sorted(set(parts), key=len, reverse=True))
    grouped = re.sub(pattern, lambda match: " {{ " + match.group(0) + " }} ", tex)
    assert normalise_tex(grouped) == normalise_tex(tex)
    return grouped


def parts_of(equation: MathTex, tex: str) -> VGroup:
    """The ``{{ }}`` parts of ``equation`` whose TeX is ``tex`` (every occurrence), as a VGroup."""
    wanted = normalise_tex(tex)
    found = [part for part in equation.submobjects if normalise_tex(part.tex_string) == wanted]
    if not found:
        listing = [part.tex_string.strip() for part in equation.submobjects]
        raise ValueError(f"{tex!r} is not a part of this equation; its parts are {listing}")
    return VGroup(*found)


def reading_seconds(line: str) -> float:
    """How long a caption must stay up for a student to read it."""
    return max(style.MIN_CAPTION_SECONDS, len(line) / style.READING_CHARS_PER_SECOND)


@dataclass(frozen=True)
class Caption:
    """One caption: its time on screen (seconds), its text and the numbers the text states."""

    start: float
    end: float
    text: str
    numbers: tuple[Stated, ...]

    def record(self) -> dict:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "numbers": [number.record() for number in self.numbers],
        }


class ClaimScene(Scene):
    """A scene that typesets claims by id and refuses to show unregistered equations."""

    def setup(self) -> None:
        super().setup()
        self.camera.background_color = style.BACKGROUND
        self.shown_tex: dict[str, str] = {}  # normalised TeX → TeX as shown
        self.marked_tex: set[str] = set()  # normalised TeX of titles and labels
        self.sections_at: list[tuple[str, float]] = []  # (section name, start second)
        self.poster_at: float | None = None  # second of the poster frame; None: the last frame
        self.captions: list[Caption] = []  # every caption shown, in order
        # The caption on screen now: (text, numbers, start, seconds).
        self._caption: tuple[str, tuple[Stated, ...], float, float | None] | None = None

    # --- building mobjects -------------------------------------------------------------------
    def claim(self, claim_id: str, *, parts: Sequence[str] = (), **kwargs) -> MathTex:
        """The claim's equation as a MathTex, coloured by the lecture's palette.

        ``parts``: sub-expressions of the claim's TeX to make separate submobjects, so that
        ``TransformMatchingTex`` can carry them over to (or from) another claim.
        """
        claim = get_claim(claim_id)
        kwargs.setdefault("tex_to_color_map", style.colors_for(claim.tex))
        kwargs.setdefault("font_size", style.BODY_FONT_SIZE)
        return MathTex(group_parts(claim.tex, parts), **kwargs)

    def label(self, tex: str, **kwargs) -> MathTex:
        """A symbol or axis label in maths mode: allowed on screen without being a claim."""
        self.marked_tex.add(normalise_tex(tex))
        kwargs.setdefault("tex_to_color_map", style.colors_for(tex))
        return MathTex(tex, **kwargs)

    def title(self, text: str, **kwargs) -> Tex:
        """A title or caption in text mode: allowed on screen without being a claim."""
        self.marked_tex.add(normalise_tex(text))
        kwargs.setdefault("font_size", style.TITLE_FONT_SIZE)
        return Tex(text, **kwargs)

    # --- captions ----------------------------------------------------------------------------
    def narrate(self, line: str | None, seconds: float | None = None, **numbers: Stated) -> None:
        """Caption ``line`` from now until the next caption starts (at most ``seconds``).
        ``None`` ends the current caption. Each ``{name}`` in ``line`` states ``numbers[name]``:
        ``narrate("… at β = {beta}.", beta=BETA(p.beta))``.

        A caption stays up long enough to be read (``style.READING_CHARS_PER_SECOND``): if the
        previous line has not had its reading time yet, the scene waits for it first.
        """
        text, stated = fill(line, numbers) if line else (None, ())
        self._caption_next(text, stated, seconds)

    def narrate_claim(self, claim_id: str) -> None:
        """Caption the claim's ``says`` sentence from now on."""
        self._caption_next(get_claim(claim_id).says, said_by(claim_id), None)

    def _caption_next(
        self, text: str | None, numbers: tuple[Stated, ...], seconds: float | None
    ) -> None:
        """End the caption on screen, once it has had its reading time, and start ``text``."""
        if self._caption is not None:
            previous, _, start, _ = self._caption
            remaining = start + reading_seconds(previous) - self.time
            if remaining > 1e-6:
                # Whole frames, rounded up: Manim advances time one frame at a time.
                frames = math.ceil(remaining * config.frame_rate - 1e-6)
                self.wait(frames / config.frame_rate)
        self._end_caption()
        if text:
            self._caption = (text, numbers, self.time, seconds)

    def _end_caption(self) -> None:
        if self._caption is None:
            return
        text, numbers, start, seconds = self._caption
        self._caption = None
        end = self.time if seconds is None else min(self.time, start + seconds)
        if end > start:
            # Manim stamps a caption at the current time plus ``offset``: reach back to its start.
            self.add_subcaption(text, duration=end - start, offset=start - self.time)
            self.captions.append(Caption(start, end, text, numbers))

    def show_claim(
        self, claim_id: str, *, animation=Write, hold: float = style.HOLD, **kwargs
    ) -> MathTex:
        """Write a claim on screen, captioned by its ``says`` sentence, then hold it."""
        equation = self.claim(claim_id, **kwargs)
        self.narrate_claim(claim_id)
        self.play(animation(equation), run_time=2.0)
        self.wait(hold)
        return equation

    def transform_claim(
        self,
        source: MathTex,
        claim_id: str,
        *,
        parts: Sequence[str] = (),
        hold: float = style.HOLD,
        run_time: float = 2.0,
        key_map: dict[str, str] | None = None,
        **kwargs,
    ) -> MathTex:
        """Turn ``source`` into the claim ``claim_id``, in ``source``'s place, part by part:
        the ``{{ }}`` parts the two equations share move across; the rest fades out and in."""
        target = self.claim(claim_id, parts=parts, **kwargs).move_to(source)
        self.narrate_claim(claim_id)
        self.play(TransformMatchingTex(source, target, key_map=key_map), run_time=run_time)
        self.wait(hold)
        return target

    def regroup(self, equation: MathTex, claim_id: str, parts: Sequence[str]) -> MathTex:
        """Swap ``equation`` (showing ``claim_id``) for the same claim cut into other ``parts``:
        nothing changes on screen, but the next animation can address the new parts."""
        regrouped = self.claim(claim_id, parts=parts).match_height(equation).move_to(equation)
        self.remove(equation)
        self.add(regrouped)
        return regrouped

    # --- structure ---------------------------------------------------------------------------
    def next_section(self, name: str = "unnamed", *args, **kwargs) -> None:
        """A Manim section, remembered with its start time (the lecture's chapters)."""
        self.sections_at.append((name, self.time))
        super().next_section(name, *args, **kwargs)

    def mark_poster(self) -> None:
        """Take the clip's poster frame (renders/<clip>.png) at this moment."""
        if self.poster_at is None:  # the first mark wins: the lecture keeps its title card
            self.poster_at = self.time

    def clear_screen(self, run_time: float = 1.0) -> None:
        """Fade out everything on screen."""
        if self.mobjects:
            self.play(FadeOut(*self.mobjects), run_time=run_time)

    # --- recording what reaches the screen ---------------------------------------------------
    def _record(self, mobjects: Iterable[Mobject]) -> None:
        for mobject in mobjects:
            for tex in tex_mobjects(mobject):
                self.shown_tex.setdefault(normalise_tex(tex.tex_string), tex.tex_string)

    def add(self, *mobjects: Mobject) -> ClaimScene:
        self._record(mobjects)
        return super().add(*mobjects)

    def play(self, *animations, **kwargs) -> None:
        for animation in animations:
            self._record(_animation_mobjects(animation))
        super().play(*animations, **kwargs)
        self._record(self.mobjects)

    @property
    def shown_claims(self) -> list[str]:
        """Ids of the registered claims that reached the screen, in order of first appearance."""
        by_tex = {normalise_tex(c.tex): c.id for c in all_claims()}
        return [by_tex[key] for key in self.shown_tex if key in by_tex]

    def unregistered_tex(self) -> list[str]:
        """TeX this scene showed that is neither a registered claim nor a marked title/label."""
        registered = {normalise_tex(c.tex) for c in all_claims()}
        allowed = registered | self.marked_tex
        return [tex for key, tex in self.shown_tex.items() if key not in allowed]

    def tear_down(self) -> None:
        self._end_caption()
        super().tear_down()
        unregistered = self.unregistered_tex()
        if unregistered:
            listing = "\n  ".join(unregistered)
            raise UnregisteredTexError(
                f"{type(self).__name__} showed TeX that is not a registered claim:\n  {listing}\n"
                "Typeset equations with self.claim(<id>) (register the claim in lab/), "
                "or mark titles and labels with self.title(...) / self.label(...)."
            )

"""ClaimScene: a Manim scene whose equations are registered claims.

Scenes typeset equations through ``self.claim("step4.sigmoid_identity")`` so that an equation
on screen IS a claim of the lab, with a check and a refutation behind it. Everything else in TeX
must be marked as what it is: ``self.label(...)`` for axis labels and symbols, ``self.title(...)``
for titles. The scene records every TeX string that reaches the screen — through ``add``, through
``play``, and as the target of a Transform, ReplacementTransform or TransformMatchingTex — and when
the scene ends it raises ``UnregisteredTexError`` for any TeX that is neither a claim nor marked.

Subtitles: ``show_claim`` captions the claim with its ``says`` sentence, ``narrate`` adds a line of
narration; Manim writes them as an .srt file beside the video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from manim import (
    DecimalNumber,
    MathTex,
    Mobject,
    Scene,
    SingleStringMathTex,
    Tex,
    Write,
)

from lab.claims import all_claims, get_claim, normalise_tex
from scenes import style


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


class ClaimScene(Scene):
    """A scene that typesets claims by id and refuses to show unregistered equations."""

    def setup(self) -> None:
        super().setup()
        self.camera.background_color = style.BACKGROUND
        self.shown_tex: dict[str, str] = {}  # normalised TeX → TeX as shown
        self.marked_tex: set[str] = set()  # normalised TeX of titles and labels

    # --- building mobjects -------------------------------------------------------------------
    def claim(self, claim_id: str, **kwargs) -> MathTex:
        """The claim's equation as a MathTex, coloured by the lecture's palette."""
        claim = get_claim(claim_id)
        kwargs.setdefault("tex_to_color_map", self._colors_for(claim.tex))
        kwargs.setdefault("font_size", style.BODY_FONT_SIZE)
        return MathTex(claim.tex, **kwargs)

    def label(self, tex: str, **kwargs) -> MathTex:
        """A symbol or axis label in maths mode: allowed on screen without being a claim."""
        self.marked_tex.add(normalise_tex(tex))
        kwargs.setdefault("tex_to_color_map", self._colors_for(tex))
        return MathTex(tex, **kwargs)

    def title(self, text: str, **kwargs) -> Tex:
        """A title or caption in text mode: allowed on screen without being a claim."""
        self.marked_tex.add(normalise_tex(text))
        kwargs.setdefault("font_size", style.TITLE_FONT_SIZE)
        return Tex(text, **kwargs)

    @staticmethod
    def _colors_for(tex: str) -> dict[str, str]:
        return {fragment: color for fragment, color in style.TEX_COLORS.items() if fragment in tex}

    # --- captions ----------------------------------------------------------------------------
    def show_claim(self, claim_id: str, *, animation=Write, hold: float = 2.0, **kwargs) -> MathTex:
        """Write a claim on screen, captioned by its ``says`` sentence for the play and the hold."""
        equation = self.claim(claim_id, **kwargs)
        claim = get_claim(claim_id)
        run_time = 2.0
        self.play(
            animation(equation),
            run_time=run_time,
            subcaption=claim.says,
            subcaption_duration=run_time + hold,
        )
        self.wait(hold)
        return equation

    def narrate(self, line: str, seconds: float) -> None:
        """A subtitle line for the next ``seconds`` of the scene."""
        self.add_subcaption(line, duration=seconds)

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
        super().tear_down()
        unregistered = self.unregistered_tex()
        if unregistered:
            listing = "\n  ".join(unregistered)
            raise UnregisteredTexError(
                f"{type(self).__name__} showed TeX that is not a registered claim:\n  {listing}\n"
                "Typeset equations with self.claim(<id>) (register the claim in lab/), "
                "or mark titles and labels with self.title(...) / self.label(...)."
            )

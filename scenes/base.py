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

Narration: ``narrate(line, **numbers)`` speaks a sentence and captions it; ``narrate_claim(id)``
speaks the claim's ``says`` sentence (``show_claim`` and ``transform_claim`` do). The voice starts
when ``narrate`` is called (``scenes.narration.voices``: a lecturer's recording, else an offline
voice; ``NARRATION=none``: silent, each sentence lasting its reading time), and the next
``narrate`` — or ``narrate(None)``, or the end of the scene — first waits until the sentence has
been spoken, and a short gap. ``with self.voiceover(line) as tracker:`` does the same for a block
of animation timed to the sentence (``run_time=tracker.duration``), as manim-voiceover does. A
number in a sentence is a ``{field}`` filled from a ``scenes.quantities.Stated`` (a lab value
formatted by its quantity's rule, or a number of the notation or of the lecture's structure).
Each sentence is captioned while it is spoken, in cues of at most two lines of 42 characters
(``scenes.narration.cues``); the scene records every cue with the numbers it states
(``captions``) and every sentence with who speaks it (``sentences``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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
from scenes.code import CodeBlock, code_blocks
from scenes.narration.cues import Caption, sentence_cues
from scenes.narration.voices import (
    SENTENCE_GAP,
    Narrator,
    Speech,
    narration_mode,
)
from scenes.quantities import Stated, fill, said_by


class UnregisteredTexError(RuntimeError):
    """The scene showed TeX that is neither a registered claim nor marked as a title or label."""


class MomentReached(Exception):
    """Raised by ``ClaimScene.moment`` at the moment a snapshot test stops the scene."""


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


@dataclass(frozen=True)
class Sentence:
    """A sentence the scene spoke: when it started (seconds) and its speech."""

    start: float
    speech: Speech

    @property
    def end(self) -> float:
        return self.start + self.speech.duration

    def record(self) -> dict:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.speech.text,
            "key": self.speech.key,
            "voice": self.speech.voice,
        }


@dataclass(frozen=True)
class VoiceoverTracker:
    """The sentence of a ``voiceover`` block, as manim-voiceover's tracker has it: ``duration``
    (seconds), ``start_t`` and ``end_t`` (scene time), ``get_remaining_duration()``."""

    scene: Scene
    sentence: Sentence

    @property
    def duration(self) -> float:
        return self.sentence.speech.duration

    @property
    def start_t(self) -> float:
        return self.sentence.start

    @property
    def end_t(self) -> float:
        return self.sentence.end

    def get_remaining_duration(self, buff: float = 0.0) -> float:
        return max(self.end_t - self.scene.time + buff, 0.0)


class ClaimScene(Scene):
    """A scene that typesets claims by id and refuses to show unregistered equations."""

    def setup(self) -> None:
        super().setup()
        self.camera.background_color = style.BACKGROUND
        self.shown_tex: dict[str, str] = {}  # normalised TeX → TeX as shown
        self.marked_tex: set[str] = set()  # normalised TeX of titles and labels
        self.sections_at: list[tuple[str, float]] = []  # (section name, start second)
        self.poster_at: float | None = None  # second of the poster frame; None: the last frame
        self.captions: list[Caption] = []  # every caption cue shown, in order
        self.sentences: list[Sentence] = []  # every sentence spoken, in order
        # Fast mode (tests, a last-frame render): no audio is made; durations are estimated.
        fast = config.dry_run or self.renderer._original_skipping_status
        self.narrator = Narrator(narration_mode(), fast=fast)
        self._speaking: Sentence | None = None  # the sentence last spoken, until the gap after it
        self.moments_at: list[tuple[str, float]] = []  # (key moment, second)
        self.stop_at_moment: str | None = None  # a snapshot test stops the scene here

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

    def code_claim(self, claim_id: str, **kwargs) -> CodeBlock:
        """A code claim's source, typeset (``scenes.code``): the code its check runs."""
        claim = get_claim(claim_id)
        if claim.language != "python":
            raise ValueError(f"claim {claim_id!r} is an equation: show it with scene.claim")
        return CodeBlock(claim.tex, **kwargs)

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

    # --- narration ---------------------------------------------------------------------------
    def narrate(self, line: str | None, **numbers: Stated) -> None:
        """Speak ``line`` from now, captioned while it is spoken; ``None`` says nothing more.
        Each ``{name}`` in ``line`` states ``numbers[name]``:
        ``narrate("… at β = {beta}.", beta=BETA(p.beta))``.

        The sentence spoken before, if any, is first let finish, with a short gap after it.
        """
        text, stated = fill(line, numbers) if line else (None, ())
        self._say(text, stated)

    def narrate_claim(self, claim_id: str) -> None:
        """Speak the claim's ``says`` sentence from now on."""
        self._say(get_claim(claim_id).says, said_by(claim_id))

    @contextmanager
    def voiceover(self, line: str, **numbers: Stated) -> Iterator[VoiceoverTracker]:
        """Speak ``line`` (as ``narrate`` does) over the animations of the block, and wait at its
        end until the sentence has been spoken:

            with self.voiceover("Z(x) cancels.") as tracker:
                self.play(Create(cross), run_time=tracker.duration)
        """
        text, stated = fill(line, numbers)
        sentence = self._say(text, stated)
        yield VoiceoverTracker(self, sentence)
        self._wait_until(sentence.end)

    def _say(self, text: str | None, numbers: tuple[Stated, ...]) -> Sentence | None:
        """Let the sentence before finish (and the gap after it), then speak ``text``."""
        if self._speaking is not None:
            self._wait_until(self._speaking.end + SENTENCE_GAP)
            self._speaking = None
        if not text:
            return None
        speech = self.narrator.speak(text)
        if speech.audio is not None:
            # Manim leaves the renderer skipping after an animation it found in its cache, and
            # drops a sound added while it skips: a warm render would be silent.
            self.renderer.skip_animations = self.renderer._original_skipping_status
            self.add_sound(str(speech.audio))
        sentence = Sentence(self.time, speech)
        for cue in sentence_cues(text, numbers, sentence.start, speech.duration):
            # Manim stamps a caption at the current time plus ``offset``.
            offset = cue.start - self.time
            self.add_subcaption(cue.text, duration=cue.end - cue.start, offset=offset)
            self.captions.append(cue)
        self.sentences.append(sentence)
        self._speaking = sentence
        return sentence

    def _wait_until(self, moment: float) -> None:
        remaining = moment - self.time
        if remaining > 1e-6:
            # Whole frames, rounded up: Manim advances time one frame at a time.
            self.wait(math.ceil(remaining * config.frame_rate - 1e-6) / config.frame_rate)

    def _audio_as_long_as_the_video(self) -> None:
        """Manim's sound track ends with the last sound: pad it with silence, or cut it, to the
        video's length, so the two streams end together."""
        writer = self.renderer.file_writer
        if not getattr(writer, "includes_sound", False):
            return
        from manim.scene.scene_file_writer import AudioSegment

        writer.add_audio_segment(AudioSegment.silent(0), time=self.time)
        writer.audio_segment = writer.audio_segment[: round(self.time * 1000)]

    def show_claim(
        self, claim_id: str, *, animation=Write, hold: float = style.HOLD, **kwargs
    ) -> MathTex:
        """Write a claim on screen, speaking its ``says`` sentence, then hold it."""
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

    def moment(self, name: str) -> None:
        """A key moment of the clip: a mid-clip snapshot (tests/test_snapshots.py) compares the
        frame on screen here. Each clip module lists its moments in ``MOMENTS``."""
        self.moments_at.append((name, self.time))
        if name == self.stop_at_moment:
            raise MomentReached(name)

    def clear_screen(self, run_time: float = 1.0) -> None:
        """Fade out everything on screen."""
        if self.mobjects:
            self.play(FadeOut(*self.mobjects), run_time=run_time)

    # --- recording what reaches the screen ---------------------------------------------------
    def _record(self, mobjects: Iterable[Mobject]) -> None:
        for mobject in mobjects:
            for tex in tex_mobjects(mobject):
                self.shown_tex.setdefault(normalise_tex(tex.tex_string), tex.tex_string)
            for code in code_blocks(mobject):  # a code claim is known by its source
                self.shown_tex.setdefault(normalise_tex(code.source), code.source)

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
        self._say(None, ())  # the last sentence is heard to its end
        self._audio_as_long_as_the_video()
        super().tear_down()
        unregistered = self.unregistered_tex()
        if unregistered:
            listing = "\n  ".join(unregistered)
            raise UnregisteredTexError(
                f"{type(self).__name__} showed TeX that is not a registered claim:\n  {listing}\n"
                "Typeset equations with self.claim(<id>) (register the claim in lab/), "
                "or mark titles and labels with self.title(...) / self.label(...)."
            )

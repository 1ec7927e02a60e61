"""Every scene constructs, every equation it shows is a registered claim (or a marked label), and
every number its captions state is recorded with what it is; the pieces scenes are built from
(claim parts, colours, captions, the lab bridge) do their job."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from manim import (
    FadeIn,
    MathTex,
    ReplacementTransform,
    Transform,
    TransformMatchingTex,
    Write,
)

from lab.claims import UnknownClaimError, all_claims, get_claim, normalise_tex
from scenes import labdata, style
from scenes.base import ClaimScene, UnregisteredTexError, group_parts, parts_of
from scenes.catalog import (
    CLIPS,
    LECTURE,
    CatalogError,
    Clip,
    find_clip,
    lecture_clips,
    manim_quality,
)
from scenes.narration.cues import MAX_LINE_CHARS, MAX_LINES, Caption
from scenes.narration.voices import SENTENCE_GAP, reading_seconds
from scenes.quantities import BETA, QUANTITIES, Stated, derivation_step, unrecorded_numerals
from scenes.widgets import heading


@pytest.mark.parametrize("clip", CLIPS, ids=[c.name for c in CLIPS])
def test_scene_shows_only_registered_tex(clip, clip_scene) -> None:
    scene = clip_scene(clip)  # tear_down raises UnregisteredTexError otherwise
    assert scene.unregistered_tex() == []
    # The catalog lists what each clip shows: scenes.render verifies exactly these claims first.
    assert scene.shown_claims == list(clip.claims)
    if clip.step is not None:
        steps = {c.step for c in all_claims() if c.id in scene.shown_claims}
        assert clip.step in steps
        # Half a minute to two: each sentence is heard to its end, and a gap (the clips' timing
        # around their sentences is not yet tuned to the voice).
        assert 30 <= scene.time <= 120, f"{clip.name} lasts {scene.time:.0f} s"
    if clip == LECTURE:
        # One section per clip it plays, in catalog order: "Step N: title" or a topic's title.
        names = [name for name, _ in scene.sections_at]
        assert names[0] == "Title" and names[-1] == "Recap"
        assert names[1:-1] == [
            c.plain_title if c.step is None else f"Step {c.step}: {c.plain_title}"
            for c in lecture_clips()
        ]
        starts = [start for _, start in scene.sections_at]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


def number_problems(caption: Caption) -> list[str]:
    """What is wrong with the numbers a caption states: a number it states that is not recorded
    (or recorded and not stated), or a lab number whose text is not its quantity's rule applied to
    its value — read from the caption's record, as the manifest has it."""
    problems = [
        f"{caption.text!r} states {word}"
        for word in unrecorded_numerals(caption.text, caption.numbers)
    ]
    for number in caption.record()["numbers"]:
        if number["kind"] != "lab":
            continue
        rule = QUANTITIES[number["what"]].text(number["value"])
        if number["text"] != rule:
            problems.append(f"{caption.text!r}: {number['text']} is not {rule}, the rule's text")
    return problems


@pytest.mark.parametrize("clip", CLIPS, ids=[c.name for c in CLIPS])
def test_captions_state_only_their_recorded_numbers(clip, clip_scene) -> None:
    """Each cue states exactly the numbers recorded with it: a number belongs to the cue whose
    text states it."""
    scene = clip_scene(clip)
    problems = [problem for caption in scene.captions for problem in number_problems(caption)]
    assert problems == []
    # The record is the caption track Manim writes as .srt: the same cues at the same times.
    subtitles = scene.renderer.file_writer.subcaptions
    assert [caption.text for caption in scene.captions] == [s.content for s in subtitles]
    for caption, subtitle in zip(scene.captions, subtitles, strict=True):
        assert caption.start == pytest.approx(subtitle.start.total_seconds(), abs=1e-6)
        assert caption.end == pytest.approx(subtitle.end.total_seconds(), abs=1e-6)
        assert json.loads(json.dumps(caption.record())) == caption.record()


def cues_of(scene, sentence) -> list[Caption]:
    return [c for c in scene.captions if sentence.start - 1e-9 <= c.start < sentence.end - 1e-9]


@pytest.mark.parametrize("clip", CLIPS, ids=[c.name for c in CLIPS])
def test_each_sentence_is_captioned_while_it_is_spoken(clip, clip_scene) -> None:
    """A sentence's cues cover its spoken time, from its first word to its last, in order and
    without gaps; each is at most two lines of at most 42 characters; together they are the
    sentence; and the next sentence starts only after this one has been spoken, and a gap."""
    scene = clip_scene(clip)
    assert scene.sentences and sum(len(cues_of(scene, s)) for s in scene.sentences) == len(
        scene.captions
    )
    for sentence, following in zip(scene.sentences, [*scene.sentences[1:], None], strict=True):
        cues = cues_of(scene, sentence)
        assert cues[0].start == pytest.approx(sentence.start)
        assert cues[-1].end == pytest.approx(sentence.end)
        assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(cues))
        assert " ".join(c.text.replace("\n", " ") for c in cues) == sentence.speech.text
        for cue in cues:
            lines = cue.text.split("\n")
            assert len(lines) <= MAX_LINES and max(map(len, lines)) <= MAX_LINE_CHARS, cue.text
        if following is not None:
            assert following.start >= sentence.end + SENTENCE_GAP - 1e-9
    assert scene.time >= scene.sentences[-1].end + SENTENCE_GAP - 1e-9  # heard to the end


@pytest.mark.parametrize("name", ["step2_optimal_policy", "step3_reparameterisation"])
def test_the_tables_captions_state_the_worlds_beta(name, clip_scene) -> None:
    """Both tables are computed at the world's β; the caption that introduces each says that β."""
    beta = labdata.prompt(0).beta
    scene = clip_scene(find_clip(name))
    stated = [(c.text, n) for c in scene.captions for n in c.numbers if n.what == "beta"]
    assert len(stated) == 1
    text, number = stated[0]
    assert number == BETA(beta) and number.kind == "lab" and number.value == beta
    assert f"β = {BETA.text(beta)}" in " ".join(text.split())


class TypesInNumbers(ClaimScene):
    """Captions as a scene must not write them: a number typed in, a number in another format."""

    def construct(self) -> None:
        self.narrate("That is π*, here at β = 1.")
        self.narrate("That is π*, here at β = {beta}.", beta=Stated("0.50", "lab", "beta", 0.5))
        self.narrate(
            "That is π*, here at β = {beta}, from step {step}.",
            beta=BETA(0.5),
            step=derivation_step(2),
        )
        self.narrate(None)


def test_a_number_typed_into_a_caption_is_caught(construct_scene) -> None:
    typed, misformatted, right = construct_scene(TypesInNumbers).captions
    assert number_problems(typed) == ["'That is π*, here at β = 1.' states 1."]
    assert number_problems(misformatted) == [
        "'That is π*, here at β = 0.50.': 0.50 is not 0.5, the rule's text"
    ]
    assert number_problems(right) == []
    assert [n.record() for n in right.numbers] == [
        {"text": "0.5", "kind": "lab", "what": "beta", "value": 0.5},
        {"text": "2", "kind": "structure", "what": "step 2 of the derivation"},
    ]


def test_the_lecture_shows_every_claim_of_its_clips() -> None:
    assert set(LECTURE.claims) == {claim for clip in lecture_clips() for claim in clip.claims}
    assert {clip.step for clip in lecture_clips()} >= {1, 2, 3, 4, 5}


def test_a_heading_names_the_step_or_else_the_topic(construct_scene) -> None:
    topic = Clip("why_dpo", "WhyDpo", "Why DPO")

    class Headings(ClaimScene):
        def construct(self) -> None:
            self.step_words = heading(self, find_clip("step3_reparameterisation"))[0].tex_string
            self.topic_words = heading(self, topic)[0].tex_string

    scene = construct_scene(Headings)
    assert scene.step_words == r"Step 3 \textperiodcentered{} Solve for the reward"
    assert scene.topic_words == "Why DPO"


class ShowsAnUnregisteredFormula(ClaimScene):
    def construct(self) -> None:
        self.play(Write(self.claim("step4.sigmoid_identity")))
        self.play(FadeIn(MathTex(r"\sigma(B - A) = 1")))


def test_an_unregistered_formula_fails_the_scene(construct_scene) -> None:
    with pytest.raises(UnregisteredTexError, match=re.escape(r"\sigma(B - A) = 1")):
        construct_scene(ShowsAnUnregisteredFormula)


@pytest.mark.parametrize("transform", [Transform, ReplacementTransform, TransformMatchingTex])
def test_transform_targets_are_recorded(transform, construct_scene) -> None:
    class SneaksInATarget(ClaimScene):
        def construct(self) -> None:
            source = self.claim("step4.sigmoid_identity")
            self.add(source)
            self.play(transform(source, MathTex(r"\sigma(B - A)")))

    with pytest.raises(UnregisteredTexError, match=re.escape(r"\sigma(B - A)")):
        construct_scene(SneaksInATarget)


def test_titles_and_labels_are_allowed(construct_scene) -> None:
    class LabelsOnly(ClaimScene):
        def construct(self) -> None:
            self.play(FadeIn(self.title("A title")), FadeIn(self.label(r"A - B")))
            self.play(Write(self.claim("step4.sigmoid_identity")))

    scene = construct_scene(LabelsOnly)
    assert scene.shown_claims == ["step4.sigmoid_identity"]
    assert normalise_tex("A - B") in scene.shown_tex


def test_unknown_claim_id_in_a_scene_lists_known_ids(construct_scene) -> None:
    class TypoInClaimId(ClaimScene):
        def construct(self) -> None:
            self.play(Write(self.claim("step4.sigmoid_identiy")))

    with pytest.raises(UnknownClaimError, match=r"known claim ids: .*step4\.sigmoid_identity"):
        construct_scene(TypoInClaimId)


def test_catalog_errors_list_valid_values() -> None:
    with pytest.raises(CatalogError, match=rf"valid clips: {CLIPS[0].name}, .*, lecture"):
        find_clip("step9")
    with pytest.raises(CatalogError, match="valid qualities: low, medium, high"):
        manim_quality("ultra")


def test_claim_parts_change_only_the_grouping() -> None:
    tex = get_claim("step3.reparameterisation").tex
    grouped = group_parts(tex, [r"\beta \log Z(x)", r"r(x, y)"])
    assert grouped != tex and normalise_tex(grouped) == normalise_tex(tex)
    assert grouped.count("{{") == 2
    with pytest.raises(ValueError, match="not in the claim"):
        group_parts(tex, [r"\log Z(y)"])


def test_claim_parts_are_separate_submobjects(construct_scene) -> None:
    class Parts(ClaimScene):
        def construct(self) -> None:
            self.equation = self.claim("step3.reparameterisation", parts=[r"\beta \log Z(x)"])
            self.add(self.equation)

    scene = construct_scene(Parts)
    log_z = parts_of(scene.equation, r"\beta \log Z(x)")
    assert len(log_z) == 1 and 0 < len(log_z[0].submobjects) < len(
        scene.equation.family_members_with_points()
    )
    assert scene.shown_claims == ["step3.reparameterisation"]
    with pytest.raises(ValueError, match="not a part"):
        parts_of(scene.equation, "Z(x)")


def test_colours_never_cut_a_control_word() -> None:
    colors = style.colors_for(r"\sigma\Big(A - B\Big)")
    assert "B" not in colors  # its B would split \Big in two
    assert style.colors_for(r"\sigma(A - B)")["B"] == style.REJECTED
    assert "A" not in style.colors_for("A prose line", prose=True)
    assert style.colors_for(r"\pi_{\mathrm{ref}}(y \mid x)") == {
        r"\pi_{\mathrm{ref}}": style.REFERENCE
    }


def test_every_claim_typesets_with_the_palette(construct_scene) -> None:
    class AllClaims(ClaimScene):
        def construct(self) -> None:
            for clip in lecture_clips():
                for claim_id in clip.claims:
                    self.add(self.claim(claim_id))

    scene = construct_scene(AllClaims)
    assert set(scene.shown_claims) == set(LECTURE.claims)


def test_the_next_sentence_waits_for_the_one_before(construct_scene) -> None:
    """Silent (the tests' NARRATION=none), a sentence lasts its reading time; the next one, and
    the end of the scene, wait for it and the gap after it."""
    first = "A sentence long enough to need a few seconds of reading time on screen."

    class Hurried(ClaimScene):
        def construct(self) -> None:
            self.narrate(first)
            self.narrate("Too soon.")
            self.after_first = self.time

    scene = construct_scene(Hurried)
    assert scene.after_first >= reading_seconds(first) + SENTENCE_GAP - 1e-9
    assert scene.after_first < reading_seconds(first) + SENTENCE_GAP + 1 / 15
    assert scene.time >= scene.after_first + reading_seconds("Too soon.") + SENTENCE_GAP - 1e-9
    assert [s.speech.voice for s in scene.sentences] == ["none", "none"]


def test_a_failing_lab_computation_names_its_claim(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ValueError("beta must be positive")

    monkeypatch.setattr(labdata, "optimal_policy", broken)
    with pytest.raises(labdata.LabComputationError, match=r"claim step2\.closed_form failed"):
        labdata.optimal(labdata.prompt(0), 1.0)


def test_numbers_come_from_the_lab_world() -> None:
    p = labdata.prompt(0)
    assert p.text == "What is 2 + 2?"
    pi_star = labdata.optimal(p, p.beta)
    assert abs(sum(pi_star) - 1) < 1e-12
    # Large β: π* → π_ref; small β: π* → the best answer (step 1's limits, read off the bars).
    assert max(abs(a - b) for a, b in zip(labdata.optimal(p, 1e4), p.pi_ref, strict=True)) < 1e-3
    assert labdata.optimal(p, 1e-3)[p.best] > 0.999
    ratio = labdata.log_ratio_reward(p, p.beta)
    constant = p.beta * labdata.log_z(p, p.beta)
    assert max(abs(a + constant - r) for a, r in zip(ratio, p.reward, strict=True)) < 1e-12


def test_show_claim_writes_the_claim_captioned_by_its_sentence(construct_scene) -> None:
    class Shows(ClaimScene):
        def construct(self) -> None:
            self.show_claim("step4.sigmoid_identity", hold=1.0)
            self.narrate(None)

    scene = construct_scene(Shows)
    says = get_claim("step4.sigmoid_identity").says
    assert scene.shown_claims == ["step4.sigmoid_identity"]
    captions = [c.content for c in scene.renderer.file_writer.subcaptions]
    assert " ".join(" ".join(captions).split()) == says
    (sentence,) = scene.sentences
    assert sentence.record() == {
        "start": 0.0,
        "end": round(reading_seconds(says), 3),
        "text": says,
        "key": sentence.speech.key,
        "voice": "none",
    }
    assert scene.captions[0].record()["start"] == 0.0
    assert scene.captions[-1].record()["end"] == round(reading_seconds(says), 3)


def test_a_claims_sentence_is_recorded_with_its_numbers(construct_scene) -> None:
    class SaysLog2(ClaimScene):
        def construct(self) -> None:
            self.narrate_claim("step5.loss_at_reference")
            self.narrate(None)

    scene = construct_scene(SaysLog2)
    assert scene.sentences[0].speech.text == get_claim("step5.loss_at_reference").says
    stated = [(n.text, n.kind) for caption in scene.captions for n in caption.numbers]
    assert stated == [("2", "notation")]
    assert [number_problems(caption) for caption in scene.captions] == [[]] * len(scene.captions)

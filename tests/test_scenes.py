"""Every scene constructs, and every equation it shows is a registered claim (or a marked label)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from manim import (
    FadeIn,
    MathTex,
    ReplacementTransform,
    Transform,
    TransformMatchingTex,
    Write,
)

from lab.claims import UnknownClaimError, all_claims, normalise_tex
from scenes.base import ClaimScene, UnregisteredTexError
from scenes.catalog import CLIPS, CatalogError, find_clip, manim_quality

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("clip", CLIPS, ids=[c.name for c in CLIPS])
def test_scene_shows_only_registered_tex(clip, construct_scene) -> None:
    scene_class = getattr(importlib.import_module(clip.module), clip.scene)
    scene = construct_scene(scene_class)  # tear_down raises UnregisteredTexError otherwise
    assert scene.unregistered_tex() == []
    assert scene.shown_claims, f"{clip.name} shows no registered claim"
    if clip.step is not None:
        steps = {c.step for c in all_claims() if c.id in scene.shown_claims}
        assert clip.step in steps


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


def test_makefile_lists_the_catalog_clips() -> None:
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^CLIPS := (.*)$", makefile, re.MULTILINE).group(1).split()
    assert listed == [c.name for c in CLIPS]
    for clip in CLIPS:
        assert (ROOT / clip.source).exists()


def test_catalog_errors_list_valid_values() -> None:
    with pytest.raises(CatalogError, match="valid clips: step4_bradley_terry"):
        find_clip("step9")
    with pytest.raises(CatalogError, match="valid qualities: low, medium, high"):
        manim_quality("ultra")

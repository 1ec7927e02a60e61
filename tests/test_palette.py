"""The palette stays readable: colours that appear side by side stay apart for red–green
colour-blind viewers, and every colour stands out from the background."""

from __future__ import annotations

import pytest

from lab.colour_vision import VISIONS, contrast_ratio, difference, simulate
from lab.palette import PALETTE, Palette

APART = 20.0  # ΔE*ab: two colours read as different at a glance
# Concepts that sit side by side: a reward next to the responses it scores (steps 1, 4, 5), the
# two responses of a pair.
SIDE_BY_SIDE = [("reward", "rejected"), ("reward", "chosen"), ("chosen", "rejected")]


@pytest.mark.parametrize("vision", VISIONS)
@pytest.mark.parametrize(("a", "b"), SIDE_BY_SIDE)
def test_side_by_side_concepts_stay_apart(a: str, b: str, vision: str) -> None:
    colour_a, colour_b = getattr(PALETTE, a), getattr(PALETTE, b)
    assert difference(colour_a, colour_b, vision) >= APART, (a, b, vision)


def test_the_check_catches_the_old_red_green_pair() -> None:
    """Refutation: Manim's green reward against the red rejected response, which the issue saw
    merge under deuteranopia, fails the same check (and passes for normal vision)."""
    old_reward, old_rejected = "#83C167", "#FC6255"
    assert difference(old_reward, old_rejected, "normal") >= APART
    assert difference(old_reward, old_rejected, "deuteranopia") < APART / 2


def test_greys_look_the_same_to_every_viewer() -> None:
    for vision in VISIONS:
        assert simulate("#808080", vision) == pytest.approx(simulate("#808080", "normal"), abs=1e-3)
    assert difference("#000000", "#FFFFFF") == pytest.approx(100.0, abs=0.01)


@pytest.mark.parametrize("name", [n for n in Palette.__dataclass_fields__ if n != "background"])
def test_every_colour_is_legible_on_the_background(name: str) -> None:
    assert contrast_ratio(getattr(PALETTE, name), PALETTE.background) >= 4.5, name


def test_bad_colours_and_visions_are_refused() -> None:
    with pytest.raises(ValueError, match="#RRGGBB"):
        difference("red", "#000000")
    with pytest.raises(ValueError, match="vision must be one of"):
        simulate("#000000", "tritanopia")

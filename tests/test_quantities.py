"""One rounding rule per quantity: the same digits on screen and in captions; captions state
numbers only through recorded ``Stated`` numbers, and the claims' sentences are accounted for."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from lab.claims import get_claim
from lab.worlds.tabular import default_world
from scenes.quantities import (
    BETA,
    COUNT,
    ERROR,
    LOG_RATIO,
    LOSS,
    MINUS,
    PROBABILITY,
    QUANTITIES,
    RESPONSE,
    REWARD,
    SAID_BY_CLAIMS,
    Stated,
    derivation_step,
    fill,
    notation,
    number_spans,
    unrecorded_numerals,
)

ROOT = Path(__file__).resolve().parents[1]


def test_each_quantity_has_its_rule() -> None:
    assert BETA.text(0.5) == "0.5" and BETA.text(0.05) == "0.05" and BETA.text(20.0) == "20"
    assert BETA.text(0.7349) == "0.73" and BETA.text(2.5) == "2.5" and BETA.text(0.999) == "1"
    assert REWARD.text(1.0) == "+1.00" and REWARD.text(-1.25) == f"{MINUS}1.25"
    assert LOG_RATIO.text(-1.9383) == f"{MINUS}1.94" and LOG_RATIO.text(0.6883) == "+0.69"
    assert PROBABILITY.text(0.65282) == "0.65" and PROBABILITY.text(0.0025) == "0.00"
    assert LOSS.text(math.log(2)) == "0.6931"
    assert COUNT.text(1000) == "1,000" and COUNT.text(0) == "0"
    assert ERROR.text(0.30277) == "0.3028"
    assert ERROR.text(3.14e-7) == "3.1 × 10⁻⁷" and ERROR.tex(3.14e-7) == r"3.1 \times 10^{-7}"
    assert RESPONSE.text("2 + 2 = 4") == "2 + 2 = 4"
    # A value that rounds to zero has no minus sign, on screen or in a caption.
    assert REWARD.text(-0.001) == "+0.00" and PROBABILITY.text(-1e-9) == "0.00"
    assert set(QUANTITIES.values()) >= {BETA, REWARD, LOG_RATIO, PROBABILITY, LOSS, COUNT, ERROR}


def test_the_worlds_rewards_are_stated_exactly() -> None:
    rewards = default_world().reward.flatten().tolist()
    assert all(float(REWARD.text(r).replace(MINUS, "-")) == r for r in rewards)


@pytest.mark.parametrize("quantity", [q for q in QUANTITIES.values() if q.form == "fixed"])
def test_the_screen_shows_the_digits_a_caption_says(quantity, media_dir: Path) -> None:
    from manim import tempconfig

    with tempconfig({"media_dir": str(media_dir)}):
        for value in (0.0, 0.5, -1.25, 2 / 3, -0.004, 1234.5678, 20.0):
            number = quantity.number(value)
            shown = "".join(part.tex_string for part in number.submobjects)
            assert shown.replace("-", MINUS) == quantity.text(value), value
            number.set_value(-value)  # the rule holds through set_value, as scenes animate it
            shown = "".join(part.tex_string for part in number.submobjects)
            assert shown.replace("-", MINUS) == quantity.text(-value), -value


def test_a_scientific_or_quoted_quantity_is_not_a_decimal_number() -> None:
    with pytest.raises(ValueError, match="error is written scientific, not as a DecimalNumber"):
        ERROR.number(1e-7)
    with pytest.raises(ValueError, match="not as a DecimalNumber"):
        RESPONSE.number(4)


def test_only_the_rules_make_numbers_on_screen() -> None:
    """No scene module makes a DecimalNumber or picks its decimals itself: every number on screen
    goes through a quantity's rule (``Quantity.number``, or ``.tex`` for a label)."""
    offenders = []
    for path in sorted((ROOT / "scenes").glob("*.py")):
        if path.name == "quantities.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            keywords = {keyword.arg for keyword in node.keywords}
            if name == "DecimalNumber" or "num_decimal_places" in keywords:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_fill_states_numbers_in_order() -> None:
    two, beta = derivation_step(2), BETA(0.5)
    text, stated = fill(
        "From step {step}, at β = {beta}; step {step} again.", dict(step=two, beta=beta)
    )
    assert text == "From step 2, at β = 0.5; step 2 again."
    assert stated == (two, beta, two)
    assert fill("No numbers.", {}) == ("No numbers.", ())


@pytest.mark.parametrize(
    ("template", "numbers", "complaint"),
    [
        ("β = {beta}", {}, "no number given for {beta}"),
        ("β = 0.5", {"beta": BETA(0.5)}, "numbers not in"),
        ("β = {beta:.1f}", {"beta": BETA(0.5)}, "formatted by its quantity"),
    ],
)
def test_fill_refuses_what_it_cannot_state(template, numbers, complaint) -> None:
    with pytest.raises(ValueError, match=complaint):
        fill(template, numbers)


def test_unrecorded_numerals_finds_every_number_left() -> None:
    beta = BETA(0.5)
    assert unrecorded_numerals("at β = 0.5.", [beta]) == []
    assert unrecorded_numerals("at β = 1.", []) == ["1."]
    assert unrecorded_numerals("at β = 0.5, step 2.", [beta]) == ["2."]
    # Recorded numbers are whole numbers: a "2" does not hide inside "0.25" or "12".
    two = notation("2", "a two")
    assert unrecorded_numerals("0.25", [two]) == ["2 (recorded, not stated)", "0.25"]
    assert unrecorded_numerals("12 and 2", [two]) == ["12"]
    # In the order recorded; superscript digits are numbers too.
    assert unrecorded_numerals("3.1 × 10⁻⁷", [ERROR(3.14e-7)]) == []
    assert unrecorded_numerals("10⁻⁷", []) == ["10⁻⁷"]
    assert unrecorded_numerals("2 then 0.5", [beta, two]) == ["2 (recorded, not stated)", "2"]


def test_number_spans_find_where_each_number_is_stated() -> None:
    """Where a caption states each number: what cuts a sentence into cues uses it, so that each
    number goes with the cue whose text states it."""
    two, beta = notation("2", "a two"), BETA(0.5)
    text = "At β = 0.5, log 2; 0.25 and 12 are not a 2."
    assert number_spans(text, [beta, two, two]) == [
        (7, 10),
        (16, 17),
        (len(text) - 2, len(text) - 1),
    ]
    assert number_spans("only 0.25", [two]) == [None]


def test_a_derivation_step_is_one_the_catalog_has() -> None:
    assert derivation_step(3) == Stated("3", "structure", "step 3 of the derivation")
    with pytest.raises(ValueError, match="no clip shows step 9"):
        derivation_step(9)


@pytest.mark.parametrize("claim_id", sorted(SAID_BY_CLAIMS))
def test_the_claims_sentences_state_what_is_recorded(claim_id) -> None:
    says, numbers = get_claim(claim_id).says, SAID_BY_CLAIMS[claim_id]
    assert numbers, "list only the claims whose sentences state numbers"
    assert unrecorded_numerals(says, numbers) == []
    for number in numbers:
        if number.kind == "lab":
            assert number.text == QUANTITIES[number.what].text(number.value)

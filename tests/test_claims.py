"""Every registered claim holds: its check passes and its refutation fails."""

from __future__ import annotations

import dataclasses

import pytest

from lab.claims import (
    Claim,
    Evidence,
    UnknownClaimError,
    all_claims,
    get_claim,
    normalise_tex,
    verify,
)
from lab.claims.registry import collect, read_claim
from lab.claims.tex import Relation, read_tex

CLAIMS = all_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_check_passes(claim: Claim) -> None:
    evidence = claim.check(read_claim(claim))
    assert evidence.passed, f"{claim.id}: {evidence.measured} {evidence.note}"


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_refutation_fails(claim: Claim) -> None:
    evidence = claim.refute(read_claim(claim))
    assert not evidence.passed, f"{claim.id}: the wrong variant passed: {evidence.measured}"


def test_every_step_module_registers_at_least_one_claim() -> None:
    assert CLAIMS, "no claims registered"
    assert len({c.id for c in CLAIMS}) == len(CLAIMS)


def test_unknown_claim_id_lists_the_known_ids() -> None:
    with pytest.raises(UnknownClaimError) as error:
        get_claim("step4.no_such_claim")
    message = str(error.value)
    assert "step4.no_such_claim" in message
    assert "step4.sigmoid_identity" in message


def _holding(passed: bool):
    return lambda reading: Evidence({"x": 1.0}, 0.0, passed)


def test_registry_rejects_duplicates_and_malformed_claims() -> None:
    existing = get_claim("step4.sigmoid_identity")
    with pytest.raises(ValueError, match="twice"):
        collect([existing, existing])
    with pytest.raises(ValueError, match="malformed"):
        collect([Claim("Step 4!", 4, "x", "y", _holding(True), _holding(False))])
    with pytest.raises(ValueError, match="steps are"):
        collect([Claim("step9.x", 9, "x", "y", _holding(True), _holding(False))])
    with pytest.raises(ValueError, match="needs both tex and says"):
        collect([Claim("step4.x", 4, " ", "y", _holding(True), _holding(False))])


def test_verify_flags_a_check_that_cannot_fail() -> None:
    """A claim whose refutation also passes is reported as not holding."""
    toothless = Claim("test.toothless", 4, "x", "y", _holding(True), _holding(True))
    verdict = verify(toothless)
    assert verdict.passed and not verdict.refuted and not verdict.ok


def test_verify_turns_a_crashing_check_into_a_failure() -> None:
    def crash(reading) -> Evidence:
        raise ZeroDivisionError("boom")

    verdict = verify(Claim("test.crash", 4, "x", "y", crash, _holding(False)))
    assert not verdict.passed
    assert "ZeroDivisionError: boom" in verdict.check.note
    assert verdict.refutation is None and verdict.refuted is None and not verdict.ok


def test_verify_hands_the_check_the_reading_of_the_tex() -> None:
    """The check is given the tree of the claim's own TeX, not a string it could ignore."""
    seen = []

    def check(reading) -> Evidence:
        seen.append(reading)
        return Evidence({"x": 1.0}, 0.0, isinstance(reading, Relation))

    verdict = verify(Claim("test.reading", 4, r"a = b", "y", check, _holding(False)))
    assert verdict.ok
    assert seen == [read_tex("a = b")]


def test_tex_outside_the_notation_fails_verification_and_says_where() -> None:
    claim = Claim("test.unreadable", 4, r"a = b \oslash c", "y", _holding(True), _holding(False))
    verdict = verify(claim)
    assert not verdict.passed and verdict.refutation is None
    assert "does not read" in verdict.check.note
    assert "oslash" in verdict.check.note and "character 6" in verdict.check.note


def test_normalise_tex_ignores_spacing_and_manim_groups() -> None:
    assert normalise_tex(r"{{ \sigma }}(A - B)") == normalise_tex(r"\sigma(A-B)")
    assert normalise_tex(r"\sigma(A-B)") != normalise_tex(r"\sigma(B-A)")


def test_a_code_claim_that_does_not_run_fails_verification_and_says_where() -> None:
    claim = get_claim("step7.loss_as_code")
    broken = dataclasses.replace(claim, tex=claim.tex.replace("beta):", "beta:"))
    verdict = verify(broken)
    assert not verdict.passed and verdict.refutation is None
    assert "the code does not run: line 1" in verdict.check.note


def test_a_code_claim_with_a_wrong_line_fails_its_check() -> None:
    """The code on screen is the thing checked: the rejected response's log-ratio subtracted
    the wrong way round is caught like a wrong sign in an equation."""
    claim = get_claim("step7.loss_as_code")
    wrong = claim.tex.replace("pi_yw - pi_yl", "pi_yl - pi_yw")
    assert wrong != claim.tex
    assert not verify(dataclasses.replace(claim, tex=wrong)).passed
    assert verify(claim).ok


def test_a_claim_in_an_unknown_language_is_refused() -> None:
    claim = dataclasses.replace(get_claim("step7.loss_as_code"), language="latex")
    with pytest.raises(ValueError, match="has language 'latex'; languages are"):
        collect([claim])

"""Every registered claim holds: its check passes and its refutation fails."""

from __future__ import annotations

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
from lab.claims.registry import collect

CLAIMS = all_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_check_passes(claim: Claim) -> None:
    evidence = claim.check()
    assert evidence.passed, f"{claim.id}: {evidence.measured} {evidence.note}"


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_refutation_fails(claim: Claim) -> None:
    evidence = claim.refute()
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
    return lambda: Evidence({"x": 1.0}, 0.0, passed)


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
    def crash() -> Evidence:
        raise ZeroDivisionError("boom")

    verdict = verify(Claim("test.crash", 4, "x", "y", crash, _holding(False)))
    assert not verdict.passed
    assert "ZeroDivisionError: boom" in verdict.check.note


def test_normalise_tex_ignores_spacing_and_manim_groups() -> None:
    assert normalise_tex(r"{{ \sigma }}(A - B)") == normalise_tex(r"\sigma(A-B)")
    assert normalise_tex(r"\sigma(A-B)") != normalise_tex(r"\sigma(B-A)")

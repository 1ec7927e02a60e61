"""What a claim is, what its check returns, and how a claim is judged.

A claim ties one on-screen equation (``tex``, exactly what a scene typesets) to a numerical or
symbolic ``check()`` and to a ``refute()`` that runs the same check against a deliberately wrong
variant (a sign flipped, Z not cancelled, a mask unshifted …). A claim holds when its check passes
AND its refutation fails: the refutation is the proof that the check is able to fail at all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# The derivation's five steps, and the topics the lecture covers beyond them.
STEP_TITLES: dict[int, str] = {
    1: "the RLHF objective",
    2: "the optimal policy in closed form",
    3: "the reward reparameterisation",
    4: "Bradley–Terry: Z cancels",
    5: "the DPO loss",
    6: "beyond: the gradient weight",
    7: "beyond: sequence log-probs",
}


@dataclass(frozen=True)
class Evidence:
    """What a check measured.

    ``measured`` maps a quantity's name to its value; the first entry is the headline figure that
    reports show. ``tolerance`` is the bound the headline was held to (0 for exact/symbolic checks).
    """

    measured: dict[str, float]
    tolerance: float
    passed: bool
    note: str = ""

    @property
    def headline(self) -> tuple[str, float] | None:
        return next(iter(self.measured.items()), None)


@dataclass(frozen=True)
class Claim:
    id: str
    step: int
    tex: str
    says: str
    check: Callable[[], Evidence] = field(repr=False, compare=False)
    refute: Callable[[], Evidence] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Verdict:
    """A claim together with the outcome of its check and of its refutation."""

    claim: Claim
    check: Evidence
    refutation: Evidence
    seconds: float

    @property
    def passed(self) -> bool:
        return self.check.passed

    @property
    def refuted(self) -> bool:
        """The wrong variant failed the check, as it must."""
        return not self.refutation.passed

    @property
    def ok(self) -> bool:
        return self.passed and self.refuted

    def as_dict(self) -> dict:
        return {
            "id": self.claim.id,
            "step": self.claim.step,
            "says": self.claim.says,
            "tex": self.claim.tex,
            "passed": self.passed,
            "refuted": self.refuted,
            "measured": self.check.measured,
            "tolerance": self.check.tolerance,
            "refutation": {
                "measured": self.refutation.measured,
                "passed": self.refutation.passed,
            },
            "note": self.check.note,
            "seconds": round(self.seconds, 3),
        }


class UnknownClaimError(KeyError):
    """Raised for a claim id that nothing registered; the message lists the known ids."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0])


_ID_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def check_well_formed(claim: Claim) -> None:
    """Ids look like ``step4.sigmoid_identity``; the step is known; tex and says are not empty."""
    if not _ID_PATTERN.match(claim.id):
        raise ValueError(
            f"claim id {claim.id!r} is malformed: use dotted lower-case words, "
            "e.g. 'step4.sigmoid_identity'"
        )
    if claim.step not in STEP_TITLES:
        raise ValueError(
            f"claim {claim.id!r} has step {claim.step}; steps are {sorted(STEP_TITLES)}"
        )
    if not claim.tex.strip() or not claim.says.strip():
        raise ValueError(f"claim {claim.id!r} needs both tex and says")


def collect(claims: Iterable[Claim]) -> dict[str, Claim]:
    """The claims by id, each well formed and no id twice."""
    collected: dict[str, Claim] = {}
    for claim in claims:
        check_well_formed(claim)
        if claim.id in collected:
            raise ValueError(f"claim id {claim.id!r} is registered twice")
        collected[claim.id] = claim
    return collected


def _run_safely(fn: Callable[[], Evidence]) -> Evidence:
    """Run a check; an exception is a failed check whose note says what was raised."""
    try:
        evidence = fn()
    except Exception as error:  # a crashing check must show up as a failure, not a traceback
        return Evidence({}, float("nan"), False, note=f"{type(error).__name__}: {error}")
    if not isinstance(evidence, Evidence):
        return Evidence({}, float("nan"), False, note=f"check returned {type(evidence).__name__}")
    return evidence


def verify(claim: Claim) -> Verdict:
    start = time.perf_counter()
    check = _run_safely(claim.check)
    refutation = _run_safely(claim.refute)
    return Verdict(claim, check, refutation, time.perf_counter() - start)


def verify_all(claims: Iterable[Claim]) -> list[Verdict]:
    return [verify(c) for c in claims]


def normalise_tex(tex: str) -> str:
    """The form in which TeX strings are compared: Manim's ``{{ }}`` groups and spaces removed."""
    return re.sub(r"\s+", "", tex.replace("{{", "").replace("}}", ""))

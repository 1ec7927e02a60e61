"""What a claim is, what its check returns, and how a claim is judged.

A claim ties one on-screen equation (``tex``, exactly what a scene typesets) to a ``check`` and
to a ``refute`` that runs the same check against a deliberately wrong variant of the lab's code
(a sign flipped, Z not cancelled, a mask unshifted …). Both are given the claim's TeX, read
(``lab.claims.tex``): a check evaluates that reading on the lab's numbers, so the equation on
screen is the thing checked, and a wrong equation fails like wrong code. A claim holds when its
check passes AND its refutation fails: the refutation is the proof that the check can fail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lab.claims.code import read_code
from lab.claims.tex import Node, TexError, read_tex

# The derivation's five steps, and the topics the lecture covers beyond them.
STEP_TITLES: dict[int, str] = {
    0: "before the steps: why DPO",
    1: "the RLHF objective",
    2: "the optimal policy in closed form",
    3: "the reward reparameterisation",
    4: "Bradley–Terry: Z cancels",
    5: "the DPO loss",
    6: "beyond: the gradient weight",
    7: "beyond: sequence log-probs",
    8: "beyond: β in practice and where DPO breaks",
}


@dataclass(frozen=True)
class Evidence:
    """What a check measured.

    ``measured`` maps a quantity's name to its value; the first entry is the headline figure that
    reports show. ``tolerance`` is the bound the headline was held to (0 for exact/symbolic checks);
    ``bounds`` gives every bound applied, by the name of the quantity held to it.
    """

    measured: dict[str, float]
    tolerance: float
    passed: bool
    note: str = ""
    bounds: dict[str, float] = field(default_factory=dict)

    @property
    def headline(self) -> tuple[str, float] | None:
        return next(iter(self.measured.items()), None)

    @property
    def all_bounds(self) -> dict[str, float]:
        """Every bound applied, the headline's (``tolerance``) included."""
        if self.headline is None or self.headline[0] in self.bounds:
            return dict(self.bounds)
        return {self.headline[0]: self.tolerance, **self.bounds}


@dataclass(frozen=True)
class Claim:
    """One equation of the lecture. ``check(reading)`` and ``refute(reading)`` take the tree of
    ``tex`` (``lab.claims.tex.read_tex``) and return Evidence.

    A claim whose text on screen is code (``language="python"``) carries the source in ``tex``;
    its reading is the functions that source defines (``lab.claims.code.read_code``)."""

    id: str
    step: int
    tex: str
    says: str
    check: Callable[[Node], Evidence] = field(repr=False, compare=False)
    refute: Callable[[Node], Evidence] = field(repr=False, compare=False)
    language: str = "tex"  # "tex": an equation; "python": code (``lab.claims.code``)


@dataclass(frozen=True)
class Verdict:
    """A claim together with the outcome of its check and of its refutation (None when the check
    failed: the claim does not hold whatever the wrong variant does)."""

    claim: Claim
    check: Evidence
    refutation: Evidence | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.check.passed

    @property
    def refuted(self) -> bool | None:
        """The wrong variant failed the check, as it must; None when it was not run."""
        return None if self.refutation is None else not self.refutation.passed

    @property
    def ok(self) -> bool:
        return bool(self.passed and self.refuted)

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
            "bounds": self.check.all_bounds,
            "refutation": None
            if self.refutation is None
            else {"measured": self.refutation.measured, "passed": self.refutation.passed},
            "note": self.check.note,
            "seconds": round(self.seconds, 3),
        }


class UnknownClaimError(KeyError):
    """Raised for a claim id that nothing registered; the message lists the known ids."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0])


LANGUAGES = ("tex", "python")
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
    if claim.language not in LANGUAGES:
        raise ValueError(
            f"claim {claim.id!r} has language {claim.language!r}; languages are {LANGUAGES}"
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
    """Read the claim's TeX, check it, and refute it (when the check passed)."""
    start = time.perf_counter()
    try:
        reading = read_claim(claim)
    except TexError as error:  # a CodeError is a TexError: the text on screen does not read
        what = "code does not run" if claim.language == "python" else "TeX does not read"
        unread = Evidence({}, float("nan"), False, note=f"the {what}: {error}")
        return Verdict(claim, unread, None, time.perf_counter() - start)
    check = _run_safely(lambda: claim.check(reading))
    refutation = _run_safely(lambda: claim.refute(reading)) if check.passed else None
    return Verdict(claim, check, refutation, time.perf_counter() - start)


def read_claim(claim: Claim):
    """The claim's text as its check reads it: the tree of its TeX, or the functions its code
    defines."""
    if claim.language == "python":
        return read_code(claim.tex)
    return read_tex(claim.tex)


def verify_all(claims: Iterable[Claim]) -> list[Verdict]:
    return [verify(c) for c in claims]


def normalise_tex(tex: str) -> str:
    """The form in which TeX strings are compared: Manim's ``{{ }}`` groups and spaces removed."""
    return re.sub(r"\s+", "", tex.replace("{{", "").replace("}}", ""))

"""The numbers the lecture states, and one rounding rule for each kind of them.

A ``Quantity`` is a kind of number (β, a reward, a probability, a loss …) with the one rule that
formats it everywhere: as a DecimalNumber or a TeX label on screen, as plain text in a caption,
the same digits in both. A caption states a number only as a ``Stated``, which says what the
number is:
- ``"lab"``: a value the lab computed, formatted by its quantity's rule (``BETA(p.beta)``);
- ``"notation"``: part of the mathematics (the 2 of "log 2");
- ``"structure"``: the lecture's own numbering (``derivation_step(2)``: "step 2").
The lab writes the claims' ``says`` sentences; ``said_by`` lists the numbers each one states.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from manim import DecimalNumber

from lab.training.runaway import RUNAWAY_CHOSEN
from scenes.catalog import CLIPS

MINUS = "\N{MINUS SIGN}"  # captions write a negative number as a maths minus, as the screen does
SCIENTIFIC_BELOW = 1e-3  # smaller errors are shown as m.m × 10^e
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Stated:
    """A number as a caption states it (``text``), and what it is."""

    text: str
    kind: Literal["lab", "notation", "structure"]
    what: str  # a lab number's quantity; otherwise what the number is
    value: float | str | None = None  # the lab's value, for a lab number

    def record(self) -> dict:
        entry = {"text": self.text, "kind": self.kind, "what": self.what}
        if self.kind == "lab":
            entry["value"] = self.value
        return entry


@dataclass(frozen=True)
class Quantity:
    """A kind of number the lecture states, and its rule: ``form`` "fixed" (``decimals`` places,
    a sign when ``signed``, thousands grouped; with ``trimmed``, trailing zeros dropped: at most
    ``decimals`` places), "scientific" (fixed from ``SCIENTIFIC_BELOW`` up, m.m × 10^e below it)
    or "verbatim" (text of the lab's world, quoted as it is)."""

    name: str
    means: str
    form: Literal["fixed", "scientific", "verbatim"] = "fixed"
    decimals: int = 0
    signed: bool = False
    trimmed: bool = False

    def text(self, value: float | str) -> str:
        """The value as a caption says it."""
        if self.form == "verbatim":
            return str(value)
        if self._tiny(value):
            mantissa, exponent = self._mantissa_exponent(value)
            return f"{mantissa.replace('-', MINUS)} × 10{str(exponent).translate(SUPERSCRIPTS)}"
        return self._fixed(value).replace("-", MINUS)

    def tex(self, value: float) -> str:
        """The value as TeX, for a label on screen."""
        if self._tiny(value):
            mantissa, exponent = self._mantissa_exponent(value)
            return rf"{mantissa} \times 10^{{{exponent}}}"
        return self._fixed(value)

    def number(self, value: float, **kwargs) -> DecimalNumber:
        """The value on screen; ``set_value`` keeps the rule."""
        if self.form != "fixed":
            raise ValueError(f"a {self.name} is written {self.form}, not as a DecimalNumber")
        return RuledNumber(self, value, include_sign=self.signed, **kwargs)

    def places(self, value: float) -> int:
        """How many decimal places the rule writes ``value`` with."""
        return len(self._fixed(value).partition(".")[2])

    def __call__(self, value: float | str) -> Stated:
        """The lab's ``value``, stated in a caption."""
        return Stated(self.text(value), "lab", self.name, value)

    def _fixed(self, value: float) -> str:
        # DecimalNumber's format (sign, thousands grouped), and like it no "−0.00".
        text = f"{value:{'+' if self.signed else ''},.{self.decimals}f}"
        if text.startswith("-") and round(value, self.decimals) == 0:
            text = ("+" if self.signed else "") + text[1:]
        if self.trimmed and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text

    def _tiny(self, value: float | str) -> bool:
        return self.form == "scientific" and 0 < abs(value) < SCIENTIFIC_BELOW

    @staticmethod
    def _mantissa_exponent(value: float) -> tuple[str, int]:
        mantissa, exponent = f"{value:.1e}".split("e")  # two significant digits
        return mantissa, int(exponent)


class RuledNumber(DecimalNumber):
    """A DecimalNumber that keeps its quantity's rule through ``set_value``: a trimmed quantity
    changes its number of places as the value moves (β = 0.5, 0.73, 20)."""

    def __init__(self, quantity: Quantity, value: float, **kwargs) -> None:
        self.quantity = quantity
        super().__init__(value, num_decimal_places=quantity.places(value), **kwargs)

    def _set_submobjects_from_number(self, number: float) -> None:
        self.num_decimal_places = self.quantity.places(number)
        super()._set_submobjects_from_number(number)


# β as the lab sets it (0.5, 2.5) and as the sweep passes through it (0.05 … 20).
BETA = Quantity("beta", "β, the KL penalty's weight", decimals=2, trimmed=True)
# The default world's rewards are multiples of 0.05: two decimals state them exactly.
REWARD = Quantity("reward", "a reward r(x, y)", decimals=2, signed=True)
LOG_RATIO = Quantity(
    "log_ratio",
    "β times a log, in reward units: the implicit reward β log π/π_ref, β log Z(x)",
    decimals=2,
    signed=True,
)
PROBABILITY = Quantity("probability", "a probability: π_ref, π*, π_θ, p*", decimals=2)
LOSS = Quantity("loss", "an expected loss", decimals=4)
COUNT = Quantity("count", "a count: training steps, preference pairs")
ERROR = Quantity(
    "error", "a difference that shrinks to nothing: max |π_θ − π*|", form="scientific", decimals=4
)
RESPONSE = Quantity("response", "a response of the toy world, quoted", form="verbatim")
# A token's log-probability (EOS after "4" is about −0.001) and a response's sum of them.
LOG_PROB = Quantity("log_prob", "a log-probability log π(s_t | s_<t) or log π(y | x)", decimals=3)
WEIGHT = Quantity("weight", "a pair's gradient weight σ(r̂_l − r̂_w), between 0 and 1", decimals=2)

# The why-DPO chapter: model sizes too long to say digit by digit, a count too large to write.
MILLIONS = Quantity("millions", "a parameter count, in millions, rounded to a whole million")
POWER_OF_TEN = Quantity(
    "power_of_ten", "log10 of a count too large to write, rounded: about 10^N of them"
)
MODEL = Quantity("model", "a model's name, as the lab records it", form="verbatim")

# The chapter on β in practice and where DPO breaks.
KL = Quantity("kl", "a KL divergence KL(π ‖ π_ref), in nats", decimals=2)
LENGTH = Quantity("length", "a mean response length, in tokens", decimals=2)
MASS = Quantity(
    "mass",
    "a probability that can be tiny: one response's, or the mass on a set of responses",
    form="scientific",
    decimals=3,
)

QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        BETA,
        REWARD,
        LOG_RATIO,
        PROBABILITY,
        LOSS,
        COUNT,
        ERROR,
        RESPONSE,
        LOG_PROB,
        WEIGHT,
        MILLIONS,
        POWER_OF_TEN,
        MODEL,
        KL,
        LENGTH,
        MASS,
    )
}


def notation(text: str, what: str) -> Stated:
    """A number that belongs to the mathematics' notation, not to the lab."""
    return Stated(text, "notation", what)


def derivation_step(number: int) -> Stated:
    """ "step N": a step of the derivation, one that the catalog has a clip for."""
    if number not in {clip.step for clip in CLIPS}:
        raise ValueError(f"no clip shows step {number}")
    return Stated(str(number), "structure", f"step {number} of the derivation")


def fill(template: str, numbers: Mapping[str, Stated]) -> tuple[str, tuple[Stated, ...]]:
    """``template`` with each ``{name}`` replaced by the text of ``numbers[name]``, and the
    numbers in the order the text states them. Raises ValueError for a field without a number,
    a number without a field, or a format spec (a number is formatted by its quantity)."""
    pieces: list[str] = []
    stated: list[Stated] = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        pieces.append(literal)
        if field is None:
            continue
        if field not in numbers:
            raise ValueError(f"no number given for {{{field}}} in {template!r}")
        if spec or conversion:
            raise ValueError(f"{{{field}}} is formatted by its quantity, not by {spec!r}")
        pieces.append(numbers[field].text)
        stated.append(numbers[field])
    unused = set(numbers) - {field for _, field, _, _ in string.Formatter().parse(template)}
    if unused:
        raise ValueError(f"numbers not in {template!r}: {sorted(unused)}")
    return "".join(pieces), tuple(stated)


def number_spans(text: str, numbers: Sequence[Stated]) -> list[tuple[int, int] | None]:
    """Where ``text`` states each of ``numbers``: (start, end) of its text, searched in order, each
    after the last, as a whole number ("2" is not found inside "0.25" or "12"); None for a number
    the text does not state."""
    spans: list[tuple[int, int] | None] = []
    position = 0
    for number in numbers:
        pattern = rf"(?<![\d.,]){re.escape(number.text)}(?![\d]|[.,]\d)"
        found = re.compile(pattern).search(text, position)
        spans.append(None if found is None else found.span())
        if found is not None:
            position = found.end()
    return spans


def unrecorded_numerals(text: str, numbers: Sequence[Stated]) -> list[str]:
    """What in ``text`` states a number that ``numbers`` does not record: each word that still
    has a numeral once the recorded numbers are taken out, in order, as whole numbers; and each
    recorded number that is not in the text ("… (recorded, not stated)")."""
    problems = []
    rest = text
    for number, span in zip(numbers, number_spans(text, numbers), strict=True):
        if span is None:
            problems.append(f"{number.text} (recorded, not stated)")
            continue
        start, end = span
        rest = rest[:start] + " " * (end - start) + rest[end:]
    problems += [word for word in rest.split() if any(ch.isnumeric() for ch in word)]
    return problems


# The numbers in the claims' sentences, claim by claim, in the order each sentence states them.
SAID_BY_CLAIMS: dict[str, tuple[Stated, ...]] = {
    "step5.loss_at_reference": (notation("2", "log 2: −log σ(0), a pair's loss at π_θ = π_ref"),),
    "step6.weight_stops_runaway": (
        COUNT(sum(1 for chosen in RUNAWAY_CHOSEN if chosen == 0)),  # pairs a ≻ b
        COUNT(sum(1 for chosen in RUNAWAY_CHOSEN if chosen == 1)),  # pairs b ≻ a
    ),
    "step7.reference_start": (
        notation("0", "training step 0: before any update, π_θ = π_ref"),
        notation("2", "log 2: −log σ(0), a pair's loss at π_θ = π_ref"),
        notation("0", "β log 1: the implicit reward at π_θ = π_ref"),
    ),
    "step7.shift": (notation("1", "t − 1: the position before t"),),
    "step7.padding_invariant": (notation("0", "mask 0: a padded position"),),
}


def said_by(claim_id: str) -> tuple[Stated, ...]:
    """The numbers claim ``claim_id``'s ``says`` sentence states, in order."""
    return SAID_BY_CLAIMS.get(claim_id, ())

"""Wrong equations made from right ones, to prove that verification reads the TeX: each mutant is
the claim's TeX changed the way a slip of the pen changes it, and verifying the claim with it must
fail (``tests/test_claims_tex.py``; ``dpo-lab verify --mutants``).

    a sign flipped          one + or − (a subscript's included: ℓ_{t-1} → ℓ_{t+1})
    y_w and y_l swapped     on one side of the equation only (r_w/r_l, A/B, a/b likewise)
    β dropped               one \\beta
    a term dropped          one summand
    a log dropped           one \\log (∇π for ∇log π)
    π* and π_ref swapped    one of them
    an inequality turned    ≥ ↔ ≤
    a limit swapped         ∞ ↔ 0
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass

from lab.claims import tex as t
from lab.claims.code import code_mutants
from lab.claims.registry import Claim, verify

SWAPS = (("y_w", "y_l"), ("r_w", "r_l"), ("A", "B"), ("a", "b"))
POLICIES = (r"\pi^*", r"\pi_{\mathrm{ref}}")
BINDER = r"(\\mathbb\{E\}_\{[^}]*\})"  # E_{(x, y_w, y_l) ∼ D}: names that bind, not values


@dataclass(frozen=True)
class Mutant:
    kind: str
    tex: str


@dataclass(frozen=True)
class MutantScore:
    """How many of a claim's mutants verification caught, and those it did not."""

    claim: Claim
    mutants: tuple[Mutant, ...]
    survivors: tuple[Mutant, ...]

    @property
    def caught(self) -> int:
        return len(self.mutants) - len(self.survivors)


def mutant_score(claim: Claim) -> MutantScore:
    """Verify ``claim`` with each mutant of its TeX in place of the TeX; a mutant is caught when
    the claim no longer holds."""
    found = tuple(mutants(claim.tex) if claim.language == "tex" else _code_mutants(claim.tex))
    survivors = tuple(m for m in found if verify(dataclasses.replace(claim, tex=m.tex)).passed)
    return MutantScore(claim, found, survivors)


def mutants(tex: str) -> list[Mutant]:
    """Every mutant of ``tex`` (distinct, and different from ``tex``). Words in \\text{…} are
    left alone: they are not mathematics."""
    words = [match.span() for match in re.finditer(r"\\text\{[^}]*\}", tex)]
    tokens = [
        token
        for token in t.tokenize(tex)
        if not any(start <= token.start < end for start, end in words)
    ]
    found = [
        *_replace_tokens(tex, tokens, "a sign flipped", {"+": "-", "-": "+"}),
        *_replace_tokens(tex, tokens, "β dropped", {r"\beta": ""}),
        *_replace_tokens(tex, tokens, "a log dropped", {r"\log": ""}),
        *_replace_tokens(tex, tokens, "an inequality turned", {r"\ge": r"\le", r"\le": r"\ge"}),
        *_replace_tokens(tex, tokens, "a limit swapped", {r"\infty": "0"}),
        *_limits_to_infinity(tex, tokens),
        *_swap_policies(tex),
        *_swap_sides(tex),
        *_drop_terms(tex),
    ]
    seen, result = {tex}, []
    for mutant in found:
        if mutant.tex not in seen:
            seen.add(mutant.tex)
            result.append(mutant)
    return result


def _code_mutants(source: str) -> list[Mutant]:
    found = dict.fromkeys(Mutant(kind, text) for kind, text in code_mutants(source))
    return [mutant for mutant in found if mutant.tex != source]


def _replace_tokens(tex: str, tokens: list[t.Token], kind: str, table: dict[str, str]):
    for token in tokens:
        if token.text in table:
            yield Mutant(kind, tex[: token.start] + table[token.text] + tex[token.end :])


def _limits_to_infinity(tex: str, tokens: list[t.Token]):
    for before, token in itertools.pairwise(tokens):
        if before.text == r"\to" and token.text == "0":
            yield Mutant("a limit swapped", tex[: token.start] + r"\infty" + tex[token.end :])


def _swap_policies(tex: str):
    for this, that in (POLICIES, POLICIES[::-1]):
        start = tex.find(this)
        while start != -1:
            yield Mutant("π* and π_ref swapped", tex[:start] + that + tex[start + len(this) :])
            start = tex.find(this, start + 1)


def _swap_sides(tex: str):
    """y_w ↔ y_l (and the like) within one side of a relation, binders left alone: swapping the
    names in E_{(x, y_w, y_l) ∼ D} as well would only rename the variables."""
    try:
        tree = t.read_tex(tex)
    except t.TexError:
        return
    for relation in nodes(tree, t.Relation):
        for side in relation.terms:
            start, end = side.span
            pieces = re.split(BINDER, tex[start:end])
            swapped = "".join(p if re.fullmatch(BINDER, p) else _swap_names(p) for p in pieces)
            if swapped != tex[start:end]:
                yield Mutant("y_w and y_l swapped on one side", tex[:start] + swapped + tex[end:])


def _swap_names(text: str) -> str:
    for one, other in SWAPS:
        marker = "\0"
        text = _replace_name(text, one, marker)
        text = _replace_name(text, other, one)
        text = text.replace(marker, other)
    return text


def _replace_name(text: str, old: str, new: str) -> str:
    """Replace the symbol ``old`` where it stands alone (not inside \\beta or \\mathrm{ref})."""
    out, i = [], 0
    while i < len(text):
        if text.startswith(old, i) and _alone(text, i, len(old)):
            out.append(new)
            i += len(old)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _alone(text: str, start: int, length: int) -> bool:
    """Whether ``text[start:start + length]`` is a symbol of its own: no letter or backslash
    before it (\\beta, \\mathrm{ref} hold letters too), no letter after it."""
    before = text[start - 1] if start else " "
    after = text[start + length] if start + length < len(text) else " "
    return not (before.isalpha() or before == "\\" or after.isalpha())


def _drop_terms(tex: str):
    """Each summand of each sum or difference, dropped with its sign."""
    try:
        tree = t.read_tex(tex)
    except t.TexError:
        return
    for node in nodes(tree, t.Binary):
        if node.op in ("+", "-"):
            (_, left_end), (right_start, right_end) = node.left.span, node.right.span
            yield Mutant("a term dropped", tex[:left_end] + tex[right_end:])
            left_start = node.left.span[0]
            keep_sign = "-" if node.op == "-" else ""
            yield Mutant("a term dropped", tex[:left_start] + keep_sign + tex[right_start:])


def nodes(tree: t.Node, kind: type) -> list:
    """Every node of ``kind`` in the tree, depth first."""
    found = []

    def visit(value: object) -> None:
        if isinstance(value, kind):
            found.append(value)
        if isinstance(value, t.Node):
            for field_value in vars(value).values():
                visit(field_value)
        elif isinstance(value, tuple):
            for item in value:
                visit(item)

    visit(tree)
    return found

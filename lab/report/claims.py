"""The claims' verdicts as ``dpo-lab verify`` prints them."""

from __future__ import annotations

from lab.claims.mutants import MutantScore
from lab.claims.registry import Verdict
from lab.report.tables import figure, mark, text_table

SAYS_WIDTH = 60


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def verdict_table(verdicts: list[Verdict]) -> str:
    """One row per claim (id, step, says, headline figure, tolerance, check ✓/✗, refuted ✓/✗),
    how many hold, and a line for each that does not, saying why."""
    header = ("id", "step", "says", "measured", "tolerance", "check", "refuted")
    rows = []
    for v in verdicts:
        headline = v.check.headline
        measured = f"{headline[0]}={figure(headline[1])}" if headline else v.check.note[:40]
        rows.append(
            (
                v.claim.id,
                str(v.claim.step),
                _shorten(v.claim.says, SAYS_WIDTH),
                measured,
                figure(v.check.tolerance),
                mark(v.passed),
                mark(v.refuted),
            )
        )
    held = sum(v.ok for v in verdicts)
    lines = [text_table(header, rows), ""]
    lines.append(f"{held} of {len(verdicts)} claims hold (check passed and refutation failed).")
    for v in verdicts:
        if not v.passed:
            lines.append(f"✗ {v.claim.id}: the check failed. {v.check.note}".rstrip())
        if v.refuted is False:
            lines.append(
                f"✗ {v.claim.id}: the refutation passed, so this check cannot tell right from "
                f"wrong. {v.refutation.note}".rstrip()
            )
    return "\n".join(lines)


def mutant_table(scores: list[MutantScore]) -> str:
    """One row per claim (id, mutants, caught, share), the total, and each surviving mutant with
    its kind and TeX: a survivor is a wrong equation verification let through, or a mutation
    that happens to leave a true statement (β → ∞: π_ref → π_ref)."""
    header = ("id", "mutants", "caught", "share")
    rows = [
        (
            s.claim.id,
            str(len(s.mutants)),
            str(s.caught),
            f"{s.caught / len(s.mutants):.0%}" if s.mutants else "–",
        )
        for s in scores
    ]
    total = sum(len(s.mutants) for s in scores)
    caught = sum(s.caught for s in scores)
    lines = [text_table(header, rows), ""]
    lines.append(f"{caught} of {total} mutants caught ({caught / max(total, 1):.0%}).")
    for score in scores:
        for survivor in score.survivors:
            lines.append(f"survives {score.claim.id} ({survivor.kind}): {survivor.tex}")
    return "\n".join(lines)

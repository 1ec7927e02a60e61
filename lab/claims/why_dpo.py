"""Before the five steps — why DPO: the responses a partition function would have to sum over.

Step 2's optimum needs Z(x) = Σ_y π_ref(y | x) exp(r(x, y)/β), a sum over every response. A
response of at most L tokens over V content tokens ends with EOS before the limit, or stops at it:
|Y| = Σ_{k=0}^{L} V^k. The check reads that sum from the TeX and compares it with the number of
responses ``lab.worlds.tokens.enumerate_responses`` lists — the very list the transformer chapter
sums π over — for several (V, L); and the lab's closed form for log10 |Y| (which gives GPT-2's
10^470 without ever forming the number) against the same enumerations. The refutation counts
with a plausible wrong enumerator: only full-length responses, as if a response could not end
early.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

from lab.claims.named import Binding, scalar
from lab.claims.reading import joined, tex_evidence
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.experiments.why_dpo import log10_response_count
from lab.worlds.tokens import enumerate_responses

# (V, L) small enough to list every response (at most a few thousand).
SIZES = ((2, 1), (2, 5), (3, 4), (5, 3), (7, 3), (4, 6))
LOG_TOLERANCE = 1e-12  # the closed form's log10 |Y| against log10 of the listed count


def _count_binding(vocab: int, max_tokens: int, count: int) -> Binding:
    """V, L and |Y| as the lab has them; k runs beyond the sum's bounds on both sides, so that
    the bounds the TeX states are the ones that count."""
    return Binding(
        {"k": range(-2, max_tokens + 3)},
        {"V": scalar(vocab), "L": scalar(max_tokens), "|mathcal Y|": scalar(count)},
        tolerance=0.0,
        label=f"V = {vocab}, L = {max_tokens}",
    )


def _check_response_count(reading: Node, list_responses: Callable) -> Evidence:
    """The sum on screen against the responses ``list_responses(content_ids, eos_id, L)`` lists,
    for each (V, L) of SIZES; and the lab's log10 |Y| against log10 of the same counts."""
    bindings, log_error = [], 0.0
    for vocab, max_tokens in SIZES:
        count = len(list_responses(list(range(1, vocab + 1)), 0, max_tokens))
        bindings.append(_count_binding(vocab, max_tokens, count))
        log_error = max(log_error, abs(log10_response_count(vocab, max_tokens) - math.log10(count)))
    lab = Evidence(
        {"max_abs_log10_error": log_error},
        LOG_TOLERANCE,
        log_error <= LOG_TOLERANCE,
        note=f"closed-form log10 |Y| against the listed responses, {len(SIZES)} (V, L)",
    )
    return joined(lab, tex_evidence(reading, bindings))


def _full_length_only(content_ids, eos_id, max_tokens):
    """Wrong: every response has exactly L tokens, as if none could end early with EOS."""
    return list(itertools.product(content_ids, repeat=max_tokens))


CLAIMS = (
    Claim(
        id="why.response_count",
        step=0,
        tex=r"|\mathcal{Y}| = \sum_{k=0}^{L} V^k",
        says="V tokens, answers of up to L tokens: V to the k answers of each length k.",
        check=lambda tex: _check_response_count(tex, enumerate_responses),
        refute=lambda tex: _check_response_count(tex, _full_length_only),
    ),
)

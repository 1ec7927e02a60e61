"""The claims: every equation the lecture shows, with a check that can fail (``registry``).

One module per step or chapter (``CLAIM_MODULES``) holds its claims in a ``CLAIMS`` tuple, checks
apart from the maths they check; shared check fixtures live in ``fixtures``. The claims are
collected when first asked for (``all_claims``, ``get_claim``): importing the lab registers none,
and loads neither sympy nor mpmath.
"""

from __future__ import annotations

import functools
import importlib

from lab.claims.registry import (
    STEP_TITLES,
    Claim,
    Evidence,
    UnknownClaimError,
    Verdict,
    collect,
    normalise_tex,
    verify,
    verify_all,
)

CLAIM_MODULES: tuple[str, ...] = (
    "lab.claims.why_dpo",
    "lab.claims.step1_objective",
    "lab.claims.step2_optimal_policy",
    "lab.claims.step3_reparameterisation",
    "lab.claims.step4_bradley_terry",
    "lab.claims.step4_pairs",
    "lab.claims.step5_dpo_loss",
    "lab.claims.step5_training",
    "lab.claims.step6_gradient",
    "lab.claims.step7_sequences",
    "lab.claims.step7_reference_start",
    "lab.claims.step7_loss_code",
    "lab.claims.limits_beta_frontier",
    "lab.claims.limits_length",
    "lab.claims.limits_unseen",
    "lab.claims.limits_chosen",
    "lab.claims.limits_no_exploration",
)


@functools.cache
def registry() -> dict[str, Claim]:
    """Every claim by id, collected from ``CLAIM_MODULES`` on first use."""
    return collect(
        claim for module in CLAIM_MODULES for claim in importlib.import_module(module).CLAIMS
    )


def all_claims() -> list[Claim]:
    """Every claim, ordered by step then id."""
    return sorted(registry().values(), key=lambda c: (c.step, c.id))


def get_claim(claim_id: str) -> Claim:
    claims = registry()
    if claim_id not in claims:
        known = ", ".join(sorted(claims))
        raise UnknownClaimError(f"no claim with id {claim_id!r}; known claim ids: {known}")
    return claims[claim_id]


def steps_with_claims() -> list[int]:
    return sorted({c.step for c in all_claims()})


__all__ = [
    "CLAIM_MODULES",
    "STEP_TITLES",
    "Claim",
    "Evidence",
    "UnknownClaimError",
    "Verdict",
    "all_claims",
    "get_claim",
    "normalise_tex",
    "registry",
    "steps_with_claims",
    "verify",
    "verify_all",
]

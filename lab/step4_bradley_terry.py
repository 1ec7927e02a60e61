"""Step 4 — Bradley–Terry: a preference probability depends only on a reward difference.

Bradley–Terry says P(y_w ≻ y_l | x) = exp(r_w) / (exp(r_w) + exp(r_l)). Dividing through by
exp(r_w) gives σ(r_w − r_l): only the difference of rewards matters, which is why the per-prompt
term β log Z(x) of the reparameterised reward cancels (DPO paper, eq. 6).
"""

from __future__ import annotations

import sympy as sp
import torch

from lab.claims import Claim, Evidence, register

SEED = 4
NUMERIC_TOLERANCE = 1e-12


def preference_prob(reward_w: torch.Tensor, reward_l: torch.Tensor) -> torch.Tensor:
    """P(y_w ≻ y_l) = σ(r_w − r_l) under Bradley–Terry. Shapes broadcast."""
    return torch.sigmoid(reward_w - reward_l)


def bradley_terry_choice(reward_w: torch.Tensor, reward_l: torch.Tensor) -> torch.Tensor:
    """P(y_w ≻ y_l) written as Bradley–Terry defines it, e^A / (e^A + e^B), computed in log space
    (a two-way softmax) so that rewards of ±1e3 neither overflow nor give NaN."""
    both = torch.stack(torch.broadcast_tensors(reward_w, reward_l))
    return torch.softmax(both, dim=0)[0]


def _check_sigmoid_identity(prob_torch, prob_sympy) -> Evidence:
    """e^A/(e^A+e^B) against a candidate for σ(A−B): symbolically, then on random float64 pairs."""
    a, b = sp.symbols("A B", real=True)
    residual = sp.simplify(sp.exp(a) / (sp.exp(a) + sp.exp(b)) - prob_sympy(a, b))
    symbolic_zero = residual == 0

    generator = torch.Generator().manual_seed(SEED)
    scales = torch.tensor([1.0, 10.0, 100.0, 1000.0], dtype=torch.float64)
    # 250 pairs at each scale: |A − B| reaches ~1e3, where a naive e^A overflows float64.
    scale = scales.repeat_interleave(250)
    a_values = (torch.rand(scale.shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale
    b_values = (torch.rand(scale.shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale
    lhs = bradley_terry_choice(a_values, b_values)
    rhs = prob_torch(a_values, b_values)
    finite = bool(torch.isfinite(lhs).all() and torch.isfinite(rhs).all())
    error = (lhs - rhs).abs().max().item() if finite else float("inf")

    return Evidence(
        measured={
            "max_abs_error": error,
            "symbolic_residual_is_zero": float(symbolic_zero),
            "pairs": float(scale.numel()),
            "max_abs_difference": (a_values - b_values).abs().max().item(),
        },
        tolerance=NUMERIC_TOLERANCE,
        passed=bool(symbolic_zero and finite and error <= NUMERIC_TOLERANCE),
        note=f"sympy residual: {residual}",
    )


register(
    Claim(
        id="step4.sigmoid_identity",
        step=4,
        tex=r"\frac{e^{A}}{e^{A} + e^{B}} = \sigma(A - B)",
        says="A Bradley–Terry preference probability is the sigmoid of the reward difference.",
        check=lambda: _check_sigmoid_identity(
            preference_prob, lambda a, b: 1 / (1 + sp.exp(-(a - b)))
        ),
        # Wrong variant: the difference taken the wrong way round, σ(B − A).
        refute=lambda: _check_sigmoid_identity(
            lambda a, b: preference_prob(b, a), lambda a, b: 1 / (1 + sp.exp(-(b - a)))
        ),
    )
)

"""What the DPO gradient's weight σ(r̂_l − r̂_w) is for, on the smallest data that shows it.

One prompt, two responses a and b, and four pairs: a ≻ b three times, b ≻ a once. DPO stops where
its implicit reward matches the data's odds, σ(r̂_a − r̂_b) = 3/4, i.e. r̂_a − r̂_b = log 3. The
update without the weight, −β (∇log π_w − ∇log π_l) per pair, only sees that a wins more often, and
pushes the margin up by the same amount at every step, forever.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.worlds.tabular import DTYPE

RUNAWAY_BETA = 0.5
RUNAWAY_REFERENCE = (0.7, 0.3)
RUNAWAY_CHOSEN = (0, 0, 0, 1)
RUNAWAY_REJECTED = (1, 1, 1, 0)


def runaway_margins(pair_loss: Callable, steps: int = 300, lr: float = 5.0) -> list[float]:
    """Gradient descent on a two-response table from π_ref with the 3×(a ≻ b), 1×(b ≻ a) data.

    ``pair_loss`` has ``dpo_loss``'s arguments and returns per-pair losses. Returns the margin
    r̂_θ(a) − r̂_θ(b) = β·(log-ratio of a − log-ratio of b) after each step."""
    log_ref = torch.log(torch.tensor(RUNAWAY_REFERENCE, dtype=DTYPE))
    theta = log_ref.clone().requires_grad_(True)
    chosen, rejected = torch.tensor(RUNAWAY_CHOSEN), torch.tensor(RUNAWAY_REJECTED)
    optimiser = torch.optim.SGD([theta], lr=lr)
    margins = []
    for _ in range(steps):
        optimiser.zero_grad()
        log_pi = torch.log_softmax(theta, dim=-1)
        losses = pair_loss(
            log_pi[chosen], log_pi[rejected], log_ref[chosen], log_ref[rejected], RUNAWAY_BETA
        )
        losses.mean().backward()
        optimiser.step()
        with torch.no_grad():
            log_ratio = torch.log_softmax(theta, dim=-1) - log_ref
            margins.append((RUNAWAY_BETA * (log_ratio[0] - log_ratio[1])).item())
    return margins


def unweighted_loss(pc, pr, rc, rr, beta):
    """The DPO gradient without its weight: a loss −β·h per pair (h the difference of log-ratios),
    whose gradient is −β (∇log π_w − ∇log π_l) whatever the model already believes."""
    return -beta * ((pc - rc) - (pr - rr))

"""What the DPO gradient's weight σ(r̂_l − r̂_w) is for, on the smallest data that show it.

One prompt and a few responses, trained by gradient descent from π_ref on a handful of pairs. On
a ≻ b three times and b ≻ a once, DPO stops where its implicit reward matches the data's odds,
σ(r̂_a − r̂_b) = 3/4, i.e. r̂_a − r̂_b = log 3. The update without the weight, −β (∇log π_w −
∇log π_l) per pair, only sees that a wins more often and pushes the margin up by the same amount
at every step, forever. And where the wins point one way only (a ≻ b, b ≻ c, nothing beats a), no
finite reward fits (Bradley–Terry's MLE does not exist): even DPO's margin grows without bound.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from lab.worlds.tabular import DTYPE

RUNAWAY_BETA = 0.5
REFERENCE = (0.5, 0.3, 0.2, 0.1)  # π_ref of the first responses, renormalised
RUNAWAY_CHOSEN = (0, 0, 0, 1)
RUNAWAY_REJECTED = (1, 1, 1, 0)


def train_on_pairs(
    pair_loss: Callable,
    chosen: Sequence[int],
    rejected: Sequence[int],
    steps: int = 300,
    lr: float = 5.0,
    beta: float = RUNAWAY_BETA,
) -> torch.Tensor:
    """Gradient descent on a one-prompt table from π_ref, on the pairs (chosen[i] ≻ rejected[i]).

    ``pair_loss`` has ``dpo_loss``'s arguments and returns per-pair losses. Returns the implicit
    reward r̂_θ(y) = β log π_θ(y)/π_ref(y) of every response after each step.
    Shape: (steps, responses)."""
    n = max(*chosen, *rejected) + 1
    if n > len(REFERENCE):
        raise ValueError(f"at most {len(REFERENCE)} responses, got {n}")
    reference = torch.tensor(REFERENCE[:n], dtype=DTYPE)
    log_ref = torch.log(reference / reference.sum())
    theta = log_ref.clone().requires_grad_(True)
    chosen_index, rejected_index = torch.tensor(chosen), torch.tensor(rejected)
    optimiser = torch.optim.SGD([theta], lr=lr)
    rewards = []
    for _ in range(steps):
        optimiser.zero_grad()
        log_pi = torch.log_softmax(theta, dim=-1)
        losses = pair_loss(
            log_pi[chosen_index],
            log_pi[rejected_index],
            log_ref[chosen_index],
            log_ref[rejected_index],
            beta,
        )
        losses.mean().backward()
        optimiser.step()
        with torch.no_grad():
            rewards.append(beta * (torch.log_softmax(theta, dim=-1) - log_ref))
    return torch.stack(rewards)


def runaway_margins(pair_loss: Callable, steps: int = 300, lr: float = 5.0) -> list[float]:
    """The margin r̂_θ(a) − r̂_θ(b) after each step, on 3×(a ≻ b), 1×(b ≻ a)."""
    rewards = train_on_pairs(pair_loss, RUNAWAY_CHOSEN, RUNAWAY_REJECTED, steps, lr)
    return (rewards[:, 0] - rewards[:, 1]).tolist()


def unweighted_loss(pc, pr, rc, rr, beta):
    """The DPO gradient without its weight: a loss −β·h per pair (h the difference of log-ratios),
    whose gradient is −β (∇log π_w − ∇log π_l) whatever the model already believes."""
    return -beta * ((pc - rc) - (pr - rr))

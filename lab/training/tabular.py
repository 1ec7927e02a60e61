"""DPO on a tabular world: one free logit per (prompt, response), trained from π_ref (step 5).

π_θ(y|x) = softmax(θ[x])_y starts at log π_ref, as DPO fine-tuning starts from the SFT model, and
Adam trains it on the whole data set at once (full batch: a run is deterministic, the seed only
picks the data). The data are pair weights W[x, y_w, y_l] (``lab.data.pairs``): the population's,
so that the loss is the expected DPO loss, or those of N sampled pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from lab.core.dpo import dpo_loss
from lab.core.validation import check_beta, check_count, check_positive
from lab.training.devices import pick_device, progress_bar
from lab.training.weighted_loss import LossFn, weighted_dpo_loss
from lab.worlds.tabular import DTYPE

RECORD_EVERY = 10  # steps between two entries of the error history


@dataclass(frozen=True)
class TabularConfig:
    """Settings of the tabular trainer (and of the reward-model pipeline trained beside it)."""

    beta: float | None = field(
        default=None, metadata={"help": "the KL strength β", "default": "the world's"}
    )
    steps: int = field(default=1000, metadata={"help": "Adam steps per run"})
    # cosine-decayed to 0 over the run
    learning_rate: float = field(default=0.1, metadata={"help": "Adam's learning rate"})
    device: str | None = field(
        default=None, metadata={"help": "cpu or cuda", "default": "cuda when present"}
    )

    def __post_init__(self) -> None:
        if self.beta is not None:
            check_beta(self.beta)
        check_count("steps", self.steps)
        check_positive("learning_rate", self.learning_rate)


class TabularPolicy(nn.Module):
    """π_θ(y|x) = softmax(θ[x])_y: one free logit per (prompt, response), starting at log π_ref."""

    def __init__(self, pi_ref: torch.Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.log(pi_ref).clone())

    def log_probs(self) -> torch.Tensor:
        """log π_θ(y|x). Shape: (n_prompts, n_responses)."""
        return torch.log_softmax(self.logits, dim=-1)

    def probs(self) -> torch.Tensor:
        return self.log_probs().exp()


def weighted_pair_loss(
    policy_logps: torch.Tensor,
    reference_logps: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
    loss_fn: LossFn = dpo_loss,
    with_metrics: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Σ_{x, w, l} W[x, w, l] · loss(x, y_w, y_l) over a table's pairs, and TRL's metrics.

    Args:
        policy_logps: log π_θ(y|x). Shape: (n_prompts, n_responses).
        reference_logps: log π_ref(y|x). Same shape.
        weights: W[x, y_w, y_l] ≥ 0, summing to 1. Shape: (n_prompts, n_responses, n_responses).
        loss_fn: a per-pair loss with ``dpo_loss``'s signature.
    """
    return _PairLoss(reference_logps, weights, beta, loss_fn)(policy_logps, with_metrics)


def pair_indices(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, y_w, y_l) of every pair with a weight, in the order the trainer hands the pairs to its
    loss: a loss that needs more than log-probs (R-DPO's lengths) lines its data up with this."""
    return weights.nonzero(as_tuple=True)


class _PairLoss:
    """``weighted_pair_loss`` with the pairs' indices found once, for a training loop."""

    def __init__(self, reference_logps, weights, beta, loss_fn) -> None:
        self.x, self.w, self.l = pair_indices(weights)  # l is y_l, as in the paper
        self.pair_weights = weights[self.x, self.w, self.l]
        self.reference_chosen = reference_logps[self.x, self.w]
        self.reference_rejected = reference_logps[self.x, self.l]
        self.beta, self.loss_fn = beta, loss_fn

    def __call__(self, policy_logps: torch.Tensor, with_metrics: bool = True):
        return weighted_dpo_loss(
            policy_logps[self.x, self.w],
            policy_logps[self.x, self.l],
            self.reference_chosen,
            self.reference_rejected,
            self.pair_weights,
            self.beta,
            self.loss_fn,
            with_metrics,
        )


@dataclass
class TrainedTable:
    """A trained table: the final policy (cpu, float64), its loss and metrics, and the history of
    max |π_θ − target| every RECORD_EVERY steps (when a target was given)."""

    policy: torch.Tensor
    final_loss: float
    metrics: dict[str, float]
    history: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0


def train_tabular(
    pi_ref: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
    config: TabularConfig = TabularConfig(),
    *,
    loss_fn: LossFn = dpo_loss,
    target: torch.Tensor | None = None,
    progress: bool | None = False,
    description: str = "DPO",
) -> TrainedTable:
    """Train a ``TabularPolicy`` from π_ref on pair weights with the DPO loss (eq. 7): Adam, its
    learning rate cosine-decayed to 0, full batch. ``config.beta`` is not read: ``beta`` is.
    ``target`` (π*, say) is only used to record the error against it.
    Shapes: pi_ref (P, K), weights (P, K, K), target (P, K)."""
    beta = check_beta(beta)
    device = pick_device(config.device)
    start = time.perf_counter()
    policy = TabularPolicy(pi_ref.to(device, DTYPE)).to(device)
    reference_logps = torch.log(pi_ref.to(device, DTYPE))
    weights = weights.to(device, DTYPE)
    target = None if target is None else target.to(device, DTYPE)
    optimiser = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps)
    pair_loss = _PairLoss(reference_logps, weights, beta, loss_fn)
    history: list[tuple[int, float]] = []
    for step in progress_bar(range(config.steps), description, progress):
        if target is not None and step % RECORD_EVERY == 0:
            with torch.no_grad():
                history.append((step, (policy.probs() - target).abs().max().item()))
        optimiser.zero_grad()
        loss, _ = pair_loss(policy.log_probs(), with_metrics=False)
        loss.backward()
        optimiser.step()
        schedule.step()
    with torch.no_grad():
        loss, metrics = pair_loss(policy.log_probs())
        final = policy.probs()
        if target is not None:
            history.append((config.steps, (final - target).abs().max().item()))
    seconds = time.perf_counter() - start
    return TrainedTable(final.cpu(), loss.item(), metrics, history, seconds)

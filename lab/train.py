"""Training on a tabular world: DPO directly, and the RLHF pipeline it replaces (step 5).

A tabular softmax policy π_θ(y|x) = softmax(θ[x])_y, started at π_ref, is trained with the DPO loss
by Adam on the whole data set at once (full batch, so a run is deterministic; the seed picks the
data). Data come as *pair weights* W[x, y_w, y_l]:
    population mode — the exact probability of each labelled pair (``population_pair_weights``), so
        the loss is the expected DPO loss over the pair distribution;
    samples mode    — the fraction of N sampled pairs that are (x, y_w, y_l); Σ W·loss is then
        exactly the mean loss over the N pairs.
The RLHF pipeline on the same W: fit a reward table by Bradley–Terry maximum likelihood, then
maximise E_π[r̂] − β KL(π‖π_ref) numerically. DPO should land on the same policy; a run reports both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from lab.step1_objective import kl_divergence, total_variation
from lab.step2_optimal_policy import maximise_objective, optimal_policy
from lab.step5_dpo_loss import dpo_loss
from lab.validation import check_beta
from lab.world import (
    DTYPE,
    World,
    empirical_pair_weights,
    population_pair_weights,
    sample_preference_pairs,
)

LossFn = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
DEFAULT_STEPS = 1000
DEFAULT_LR = 0.1
RECORD_EVERY = 10


def _bar_disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None lets tqdm show a bar only when stderr is a terminal."""
    return None if progress is None else not progress


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` if given, else cuda when present, else cpu."""
    if requested is not None:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was requested but torch sees no GPU")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TabularPolicy(nn.Module):
    """π_θ(y|x) = softmax(θ[x])_y, one free logit per (prompt, response); θ starts at log π_ref,
    so training starts from the reference policy, as DPO fine-tuning does."""

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
) -> tuple[torch.Tensor, dict[str, float]]:
    """Σ_{x, w, l} W[x, w, l] · loss(x, y_w, y_l), and TRL-style metrics of the implicit rewards.

    Args:
        policy_logps: log π_θ(y|x). Shape: (n_prompts, n_responses).
        reference_logps: log π_ref(y|x). Same shape.
        weights: W[x, y_w, y_l] ≥ 0, summing to 1. Shape: (n_prompts, n_responses, n_responses).
        loss_fn: a per-pair loss with ``dpo_loss``'s signature.
    """
    x, w, l = weights.nonzero(as_tuple=True)  # noqa: E741 — l is y_l, as in the paper
    pair_weights = weights[x, w, l]
    losses, chosen, rejected = loss_fn(
        policy_logps[x, w], policy_logps[x, l], reference_logps[x, w], reference_logps[x, l], beta
    )
    with torch.no_grad():
        metrics = {
            "rewards/chosen": (pair_weights * chosen).sum().item(),
            "rewards/rejected": (pair_weights * rejected).sum().item(),
            "rewards/margins": (pair_weights * (chosen - rejected)).sum().item(),
            "rewards/accuracies": (pair_weights * (chosen > rejected)).sum().item(),
        }
    return (pair_weights * losses).sum(), metrics


@dataclass
class Trained:
    """A trained table: the final policy (cpu, float64), its loss and the error history."""

    policy: torch.Tensor
    final_loss: float
    metrics: dict[str, float]
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, max |π_θ − π*|)
    seconds: float = 0.0


def train_dpo(
    pi_ref: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    device: torch.device | str | None = None,
    loss_fn: LossFn = dpo_loss,
    target: torch.Tensor | None = None,
    progress: bool | None = False,
    description: str = "DPO",
) -> Trained:
    """Train a ``TabularPolicy`` on pair weights with the DPO loss (step 5, eq. 7): Adam, learning
    rate cosine-decayed to 0, full batch. ``target`` (π*, say) is only used to record the error
    against it every few steps. Shapes: pi_ref (P, K), weights (P, K, K)."""
    beta = check_beta(beta)
    device = pick_device(device if device is None else str(device))
    start = time.perf_counter()
    policy = TabularPolicy(pi_ref.to(device, DTYPE)).to(device)
    reference_logps = torch.log(pi_ref.to(device, DTYPE))
    weights = weights.to(device, DTYPE)
    optimiser = torch.optim.Adam(policy.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    history: list[tuple[int, float]] = []
    target = None if target is None else target.to(device, DTYPE)
    bar = tqdm(range(steps), desc=description, disable=_bar_disabled(progress), leave=False)
    for step in bar:
        if target is not None and step % RECORD_EVERY == 0:
            with torch.no_grad():
                history.append((step, (policy.probs() - target).abs().max().item()))
        optimiser.zero_grad()
        loss, _ = weighted_pair_loss(policy.log_probs(), reference_logps, weights, beta, loss_fn)
        loss.backward()
        optimiser.step()
        schedule.step()
    with torch.no_grad():
        loss, metrics = weighted_pair_loss(
            policy.log_probs(), reference_logps, weights, beta, loss_fn
        )
        final = policy.probs()
        if target is not None:
            history.append((steps, (final - target).abs().max().item()))
    return Trained(final.cpu(), loss.item(), metrics, history, seconds=time.perf_counter() - start)


def fit_reward_model(
    weights: torch.Tensor,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A reward table r̂(x, y) fitted by Bradley–Terry maximum likelihood: minimise
    −Σ W[x, w, l] log σ(r̂(x, w) − r̂(x, l)) with Adam from r̂ = 0 (cosine-decayed rate).

    r̂ is identified only up to a per-prompt shift f(x), which step 3 shows does not matter.
    Shapes: weights (P, K, K) → reward (P, K), on the cpu.
    """
    device = pick_device(device if device is None else str(device))
    weights = weights.to(device, DTYPE)
    x, w, l = weights.nonzero(as_tuple=True)  # noqa: E741
    pair_weights = weights[x, w, l]
    reward = torch.zeros(weights.shape[:-1], dtype=DTYPE, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([reward], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for _ in range(steps):
        optimiser.zero_grad()
        nll = -(pair_weights * F.logsigmoid(reward[x, w] - reward[x, l])).sum()
        nll.backward()
        optimiser.step()
        schedule.step()
    return reward.detach().cpu()


def rlhf_policy(
    pi_ref: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two-stage pipeline DPO replaces: a Bradley–Terry reward model, then the policy that
    maximises E_π[r̂] − β KL(π‖π_ref), found numerically (``maximise_objective``).
    Returns (policy, fitted reward), both (P, K)."""
    reward = fit_reward_model(weights, steps, lr, device)
    return maximise_objective(pi_ref, reward, beta), reward


def mle_exists(weights: torch.Tensor) -> torch.Tensor:
    """Per prompt: does the Bradley–Terry maximum-likelihood reward exist (is it finite)?

    It does exactly when the "beat" graph (an edge a → b when a ≻ b was observed) is strongly
    connected over all responses (Zermelo 1929; Ford 1957). Otherwise some response never wins (or
    never loses, or never appears) and the fitted reward — and DPO's policy — run off to ±∞ there.
    Shape: weights (P, K, K) → (P,) bool.
    """
    k = weights.shape[-1]
    reach = (weights > 0) | torch.eye(k, dtype=torch.bool, device=weights.device)
    for _ in range(max(1, (k - 1).bit_length())):  # paths of length up to 2^n ≥ k − 1
        reach = (reach.to(DTYPE) @ reach.to(DTYPE)) > 0
    return reach.all(dim=-1).all(dim=-1)


@dataclass
class RunReport:
    """One training run, compared with π*. ``n_pairs`` is None in population mode."""

    mode: str
    n_pairs: int | None
    seed: int | None
    beta: float
    steps: int
    final_loss: float
    max_abs_error: float  # max over (x, y) of |π_θ − π*|
    tv: float  # max over prompts of TV(π_θ, π*)
    kl: float  # max over prompts of KL(π_θ ‖ π*)
    rlhf_max_abs_difference: float  # max |π_θ(DPO) − π(reward model + KL-RL)|
    rlhf_max_abs_error: float  # max |π(reward model + KL-RL) − π*|
    mle_exists: bool
    metrics: dict[str, float]
    device: str
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def compare_to_optimum(policy: torch.Tensor, star: torch.Tensor) -> dict[str, float]:
    """max |π − π*|, and the worst prompt's TV and KL(π ‖ π*)."""
    return {
        "max_abs_error": (policy - star).abs().max().item(),
        "tv": total_variation(policy, star).max().item(),
        "kl": kl_divergence(policy, star).clamp_min(0).max().item(),
    }


def run(
    world: World,
    n_pairs: int | None = None,
    seed: int | None = None,
    beta: float | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    device: torch.device | str | None = None,
    progress: bool | None = False,
) -> tuple[RunReport, Trained]:
    """Train DPO and the RLHF pipeline on the same data — the population (``n_pairs`` None) or
    ``n_pairs`` pairs sampled with ``seed`` — and compare both with the closed-form π*."""
    start = time.perf_counter()
    beta = world.beta if beta is None else check_beta(beta)
    device = pick_device(device if device is None else str(device))
    if n_pairs is None:
        mode, weights = "population", population_pair_weights(world)
    else:
        pairs = sample_preference_pairs(world, n_pairs, seed=0 if seed is None else seed)
        mode, weights = "samples", empirical_pair_weights(world, pairs)
    star = optimal_policy(world.pi_ref, world.reward, beta)
    label = "population" if n_pairs is None else f"N={n_pairs} seed={seed}"
    trained = train_dpo(
        world.pi_ref,
        weights,
        beta,
        steps,
        lr,
        device,
        target=star,
        progress=progress,
        description=f"DPO {label}",
    )
    rlhf, _ = rlhf_policy(world.pi_ref, weights, beta, steps, lr, device)
    report = RunReport(
        mode=mode,
        n_pairs=n_pairs,
        seed=seed if n_pairs is not None else None,
        beta=beta,
        steps=steps,
        final_loss=trained.final_loss,
        **compare_to_optimum(trained.policy, star),
        rlhf_max_abs_difference=(trained.policy - rlhf).abs().max().item(),
        rlhf_max_abs_error=(rlhf - star).abs().max().item(),
        mle_exists=bool(mle_exists(weights).all()),
        metrics=trained.metrics,
        device=str(device),
        seconds=time.perf_counter() - start,  # DPO and the RLHF pipeline together
    )
    return report, trained


@dataclass
class Experiment:
    """Every run of one ``run_experiments`` call, and what the figures need from them."""

    world: World
    beta: float
    reports: list[RunReport]
    trained: list[Trained]

    @property
    def star(self) -> torch.Tensor:
        return optimal_policy(self.world.pi_ref, self.world.reward, self.beta)

    def population(self) -> tuple[RunReport, Trained] | None:
        for report, trained in zip(self.reports, self.trained, strict=True):
            if report.mode == "population":
                return report, trained
        return None


def run_experiments(
    world: World,
    sample_sizes: tuple[int, ...] = (500, 5000, 50000),
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    population: bool = True,
    beta: float | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> Experiment:
    """The population run (if asked) and one run per (N, seed). ``progress`` None: a bar when
    stderr is a terminal."""
    beta = world.beta if beta is None else check_beta(beta)
    plan: list[tuple[int | None, int | None]] = [(None, None)] if population else []
    plan += [(n, seed) for n in sample_sizes for seed in seeds]
    reports, trained = [], []
    for n_pairs, seed in tqdm(plan, desc="runs", disable=_bar_disabled(progress)):
        report, result = run(world, n_pairs, seed, beta, steps, lr, device, progress=progress)
        reports.append(report)
        trained.append(result)
    return Experiment(world, beta, reports, trained)

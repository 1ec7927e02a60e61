"""DPO on a causal language model: each step is ONE forward pass over the distinct sequences of the
batch (chosen and rejected together), the DPO loss on their sequence log-probs, and Adam.

log π_ref is computed once before training (π_ref is frozen), and π_θ starts as a copy of π_ref, so
the first step's loss is log 2 and every implicit reward 0. The model is passed in: this module
does not import transformers (``lab.training.policies`` builds the tiny GPT-2).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lab.core.validation import check_beta, check_count, check_positive
from lab.data.batches import PreferenceBatch, concatenated_forward
from lab.data.enumerated import PROPOSALS
from lab.training.devices import Log, progress_bar, say, single_cpu_thread
from lab.training.weighted_loss import weighted_dpo_loss

# A watcher of training: (every how many updates, called with (updates done, π_θ)).
Watch = tuple[int, Callable[[int, torch.nn.Module], None]] | None
WARMUP_STEPS = 150  # supervised steps that turn the random tiny GPT-2 into π_ref
PROGRESS_LINES = 5  # step lines a run logs when no progress bar is drawn


@dataclass(frozen=True)
class TinyLMConfig:
    """The tiny GPT-2's size. The defaults can represent any distribution over the token world's
    responses (43 distinct prefixes per prompt) and train fast on a CPU."""

    n_layer: int = 2
    n_embd: int = 32
    n_head: int = 4
    n_positions: int = 16


@dataclass(frozen=True)
class TransformerConfig:
    """Settings of the transformer trainer. The defaults are the lecture's run."""

    beta: float = field(default=0.5, metadata={"help": "the KL strength β"})
    steps: int = field(default=800, metadata={"help": "Adam steps per run"})
    learning_rate: float = field(default=3e-3, metadata={"help": "Adam's learning rate"})
    warmup_steps: int = field(
        default=WARMUP_STEPS, metadata={"help": "supervised steps that make π_ref"}
    )
    seed: int = 0  # seeds π_ref's initialisation and the population run's minibatch draws
    pairs_from: str = field(
        default="uniform",
        metadata={
            "help": "draw a pair's two responses uniformly from every response, or from π_ref",
            "choices": PROPOSALS,
        },
    )
    batch_pairs: int | None = field(
        default=None, metadata={"help": "pairs per step", "default": "all of them, full batch"}
    )
    device: str | None = field(
        default=None, metadata={"help": "cpu or cuda", "default": "cuda when present"}
    )
    model: TinyLMConfig = field(default_factory=TinyLMConfig)

    def __post_init__(self) -> None:
        check_beta(self.beta)
        check_count("steps", self.steps)
        check_count("warmup_steps", self.warmup_steps, minimum=0)
        check_positive("learning_rate", self.learning_rate)
        largest = torch.finfo(torch.float32).max
        if self.learning_rate > largest:  # Adam cannot scale a float32 step by it
            raise ValueError(
                f"learning_rate must be at most {largest:.2g} (the model's parameters are "
                f"float32), got {self.learning_rate:g}"
            )
        if self.batch_pairs is not None:
            check_count("batch_pairs", self.batch_pairs)
        if self.pairs_from not in PROPOSALS:
            raise ValueError(f"pairs_from must be one of {PROPOSALS}, got {self.pairs_from!r}")


class TrainingDiverged(ValueError):
    """The policy's log-probs stopped being finite during training: the step size was too large."""

    def __init__(self, step: int, config: TransformerConfig, cause: str) -> None:
        self.step, self.steps, self.learning_rate = step, config.steps, config.learning_rate
        super().__init__(
            f"training diverged at step {step} of {config.steps}: the policy's log-probs are no "
            f"longer finite ({cause}); the learning rate {config.learning_rate:g} is too large"
        )


def start_policy(reference: torch.nn.Module) -> torch.nn.Module:
    """π_θ at step 0: a trainable copy of π_ref (the loss starts at log 2, every reward at 0)."""
    return copy.deepcopy(reference).requires_grad_(True)


def dpo_batch_loss(
    policy: torch.nn.Module, batch: PreferenceBatch, beta: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted DPO loss of a batch from one concatenated forward pass, and TRL's metrics
    (``lab.training.weighted_loss``). The batch needs log π_ref (``batch.with_reference``)."""
    if batch.reference_logps is None:
        raise ValueError("the batch needs log π_ref first: call batch.with_reference(reference)")
    policy_chosen_logps, policy_rejected_logps = concatenated_forward(policy, batch)
    return weighted_dpo_loss(
        policy_chosen_logps,
        policy_rejected_logps,
        batch.reference_logps[batch.chosen_index],
        batch.reference_logps[batch.rejected_index],
        batch.weight,
        beta,
    )


def train_transformer(
    policy: torch.nn.Module,
    batch: PreferenceBatch,
    config: TransformerConfig,
    seed: int | None = None,
    progress: bool | None = None,
    description: str = "DPO",
    log: Log = None,
    watch: Watch = None,
) -> list[dict[str, float]]:
    """Train π_θ in place with the DPO loss and Adam; return the metrics of every step.

    Args:
        policy: π_θ, usually ``start_policy(reference)``, on the batch's device.
        batch: the pairs, with ``reference_logps``.
        config: β, steps, learning rate and pairs per step (``config.batch_pairs``: each step draws
            that many pairs with probability their weight; None: every pair, every step).
        seed: seeds the draws of pairs (default: ``config.seed``).
        progress: a bar on stderr; None: only when stderr is a terminal.
        log: where a few step lines go when no bar is drawn (a piped run).
        watch: ``(every, see)``: ``see(step, policy)`` is called before the first update, after
            every ``every`` updates and after the last one (TV to π* as training goes, say).

    Returns:
        One dict per step with the ``METRIC_NAMES``, measured before that step's update.

    Raises:
        TrainingDiverged when the log-probs stop being finite (a learning rate far too large).
    """
    generator = torch.Generator().manual_seed(config.seed if seed is None else seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
    policy.train()
    history = []
    bar = progress_bar(range(config.steps), description, progress)
    every = max(1, config.steps // PROGRESS_LINES)
    with single_cpu_thread():
        _look(watch, 0, policy, config.steps)
        for step in bar:
            pairs = (
                batch if config.batch_pairs is None else batch.draw(config.batch_pairs, generator)
            )
            loss, metrics = _step_loss(policy, pairs, config, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.append(metrics)
            _look(watch, step + 1, policy, config.steps)
            bar.set_postfix(
                loss=f"{metrics['loss']:.4f}", margin=f"{metrics['rewards/margins']:.3f}"
            )
            if bar.disable and ((step + 1) % every == 0 or step + 1 == config.steps):
                say(
                    log,
                    f"  transformer: step {step + 1}/{config.steps}, loss {metrics['loss']:.4f}",
                )
    policy.eval()
    if not all(bool(torch.isfinite(p).all()) for p in policy.parameters()):
        raise TrainingDiverged(config.steps, config, "the last step made parameters non-finite")
    return history


def _look(watch: Watch, done: int, policy: torch.nn.Module, steps: int) -> None:
    """Call the watcher after ``done`` updates, when it asked for this one."""
    if watch is not None and (done % watch[0] == 0 or done == steps):
        watch[1](done, policy)


def _step_loss(policy, pairs: PreferenceBatch, config: TransformerConfig, step: int):
    """``dpo_batch_loss``; at a step after the first, non-finite log-probs mean the updates
    diverged (the first step's π_θ is π_ref, whose log-probs are finite)."""
    try:
        return dpo_batch_loss(policy, pairs, config.beta)
    except ValueError as error:
        if step == 0:
            raise
        raise TrainingDiverged(step, config, str(error)) from error

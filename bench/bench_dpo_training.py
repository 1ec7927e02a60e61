"""Benchmark: DPO training steps per second on the tiny transformer — the lab's trainer against a
plain, straightforward loop, side by side, on the same model and the same pairs.

The plain loop is DPO as first written: per step, a forward pass over the chosen rows and another
over the rejected rows, for the policy and again for the reference model (no gradient), each
scored with a full log_softmax + gather. The trainer (``lab.training.transformer``) does one
forward pass over the step's distinct sequences (chosen and rejected together), scores it with
``sequence_logprobs``, and reads log π_ref from a table computed once before training.

Both draw the same pairs (N sampled pairs over the default world, 64 per step, the same seeded
draws), start from the same π_ref, use Adam with the same step size, and run on one CPU thread
(as the trainer always does on a CPU: see ``lab.training.devices.single_cpu_thread``). That they
compute the same thing is checked: the same loss and gradient on the first drawn batch, up to
float32 rounding.

    python bench/bench_dpo_training.py
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from lab.core.dpo import dpo_loss
from lab.core.sequences import plain_sequence_logprobs
from lab.data.batches import PreferenceBatch, SequenceBatch
from lab.data.enumerated import enumerate_world, world_pairs
from lab.training.devices import single_cpu_thread
from lab.training.policies import reference_policy
from lab.training.transformer import (
    TransformerConfig,
    dpo_batch_loss,
    start_policy,
    train_transformer,
)
from lab.worlds.tokens import TokenWorld, build_tokenizer

SAMPLED_PAIRS = 10_000
BATCH_PAIRS = 64
STEPS = 200
ROUNDS = 5


def naive_logps(model: torch.nn.Module, rows: SequenceBatch) -> torch.Tensor:
    """log π(y | x) the straightforward way: full log_softmax, gather, mask, sum."""
    logits = model(input_ids=rows.input_ids, attention_mask=rows.attention_mask).logits
    return plain_sequence_logprobs(logits, rows.input_ids, rows.completion_mask)


def plain_dpo_loss(policy, reference, data: PreferenceBatch, beta, generator) -> torch.Tensor:
    """One step's loss: draw the pairs, then four forwards (policy and reference, chosen and
    rejected), each scored with a full log_softmax."""
    drawn = torch.multinomial(data.weight, BATCH_PAIRS, replacement=True, generator=generator)
    chosen = data.sequences.select(data.chosen_index[drawn])
    rejected = data.sequences.select(data.rejected_index[drawn])
    policy_chosen_logps = naive_logps(policy, chosen)
    policy_rejected_logps = naive_logps(policy, rejected)
    with torch.no_grad():
        reference_chosen_logps = naive_logps(reference, chosen)
        reference_rejected_logps = naive_logps(reference, rejected)
    losses, _, _ = dpo_loss(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return losses.mean()


def plain_dpo_loop(policy, reference, data: PreferenceBatch, beta, steps, learning_rate, seed):
    """Separate forwards for chosen and rejected, for the policy and the reference, every step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    policy.train()
    with single_cpu_thread():
        for _ in range(steps):
            loss = plain_dpo_loss(policy, reference, data, beta, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return policy.eval()


def trainer(policy, reference, data: PreferenceBatch, beta, steps, learning_rate, seed):
    """The lab's trainer, its one-off log π_ref table included in its time."""
    batch = data.with_reference(reference)
    config = TransformerConfig(
        beta=beta, steps=steps, learning_rate=learning_rate, batch_pairs=BATCH_PAIRS
    )
    train_transformer(policy, batch, config, seed, progress=False)
    return policy


LOOPS = {"trainer": trainer, "plain loop": plain_dpo_loop}


def main() -> int:
    config = TransformerConfig()
    world = TokenWorld()
    tokenizer = build_tokenizer(world)
    reference = reference_policy(world, tokenizer, config.seed, config.warmup_steps)
    enumerated = enumerate_world(world, tokenizer, reference, config.beta)
    data = world_pairs(enumerated, config.pairs_from, SAMPLED_PAIRS, config.seed)
    parameters = sum(p.numel() for p in reference.parameters())
    print(f"DPO steps/s on the tiny transformer ({parameters:,} parameters, CPU, 1 thread): "
          f"{SAMPLED_PAIRS} sampled pairs ({len(data)} distinct), {BATCH_PAIRS} pairs per step, "
          f"{STEPS} steps, best and median of {ROUNDS} alternated rounds")  # fmt: skip

    seconds: dict[str, list[float]] = {name: [] for name in LOOPS}
    final: dict[str, torch.nn.Module] = {}
    for _ in range(ROUNDS):
        for name, loop in LOOPS.items():  # alternated, so that load drifts hit both alike
            policy = start_policy(reference)
            start = time.perf_counter()
            final[name] = loop(policy, reference, data, config.beta, STEPS, 1e-3, config.seed)
            seconds[name].append(time.perf_counter() - start)

    print(f"{'loop':<11} {'steps/s (best)':>15} {'steps/s (median)':>17}")
    for name in LOOPS:
        best, median = STEPS / min(seconds[name]), STEPS / statistics.median(seconds[name])
        print(f"{name:<11} {best:>15.1f} {median:>17.1f}")
    ratio = min(seconds["plain loop"]) / min(seconds["trainer"])
    median_ratio = statistics.median(seconds["plain loop"]) / statistics.median(seconds["trainer"])
    print(f"speed ratio trainer/plain loop: {ratio:.2f}× (best), {median_ratio:.2f}× (median)")

    loss_gap, gradient_gap, gradient_size = first_step_difference(reference, data, config.beta)
    print(f"same computation: on the first drawn batch |loss_trainer − loss_plain| = "
          f"{loss_gap:.1e}, max |∇θ difference| = {gradient_gap:.1e} "
          f"(largest gradient entry {gradient_size:.1e})")  # fmt: skip
    rows = len(enumerated.space)
    population = len(world_pairs(enumerated, config.pairs_from, None, config.seed))
    print(f"population mode (not timed): the trainer runs one forward over {rows} distinct "
          f"sequences per step; a plain loop, four over {population:,} rows each")  # fmt: skip
    return 0 if gradient_gap <= 1e-5 * gradient_size else 1


def first_step_difference(reference, data: PreferenceBatch, beta: float):
    """The loss and gradient of one step by each loop, from π_ref, on the same drawn pairs.

    (Whole runs are not compared: Adam divides by √v, so float32 rounding in gradient entries
    near zero grows into visible weight differences within a few dozen steps.)
    """
    trainer_policy, plain_policy = start_policy(reference), start_policy(reference)
    batch = data.with_reference(reference).draw(BATCH_PAIRS, torch.Generator().manual_seed(0))
    trainer_loss, _ = dpo_batch_loss(trainer_policy, batch, beta)
    plain_loss = plain_dpo_loss(
        plain_policy, reference, data, beta, torch.Generator().manual_seed(0)
    )
    trainer_loss.backward()
    plain_loss.backward()
    pairs = list(zip(trainer_policy.parameters(), plain_policy.parameters(), strict=True))
    gradient_gap = max((a.grad - b.grad).abs().max().item() for a, b in pairs)
    gradient_size = max(a.grad.abs().max().item() for a, _ in pairs)
    return abs(trainer_loss.item() - plain_loss.item()), gradient_gap, gradient_size


if __name__ == "__main__":
    sys.exit(main())

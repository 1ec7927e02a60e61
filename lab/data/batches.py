"""Batches of token sequences: prompt ∘ response rows, and preference pairs over them.

A ``SequenceBatch`` holds right-padded prompt ∘ response rows with their attention and completion
masks; ``batch_logprobs`` scores every row in one forward pass (``lab.core.sequences``). A
``PreferenceBatch`` stores every distinct sequence once, chosen ones first, and says which rows are
each pair's y_w and y_l. With B distinct pairs that is the reference implementations' concatenated
batch — 2B rows [chosen; rejected], one forward pass, split after — and when responses repeat (as
they do, massively, over an enumerated world) a row is computed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from lab.core.sequences import sequence_logprobs


@dataclass(frozen=True)
class SequenceBatch:
    """Prompt ∘ response rows, right-padded to a common length T.

    input_ids: token ids; padding is ``pad_id``. Shape: (B, T)
    attention_mask: 1 on real tokens, 0 on padding. Shape: (B, T)
    completion_mask: 1 on response tokens (EOS included), 0 on prompt and padding. Shape: (B, T)
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    completion_mask: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def to(self, device: torch.device | str) -> SequenceBatch:
        return SequenceBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.completion_mask.to(device),
        )

    def select(self, rows: torch.Tensor) -> SequenceBatch:
        """The batch restricted to ``rows`` (indices), in that order."""
        return SequenceBatch(
            self.input_ids[rows], self.attention_mask[rows], self.completion_mask[rows]
        )


def completion_mask(
    prompt_lengths: torch.Tensor, sequence_lengths: torch.Tensor, length: int
) -> torch.Tensor:
    """1 at positions prompt_length ≤ t < sequence_length: the response, not prompt or padding.

    Args:
        prompt_lengths: tokens in each row's prompt. Shape: (B,)
        sequence_lengths: tokens in each row's prompt ∘ response, padding excluded. Shape: (B,)
        length: T, the padded length.

    Returns:
        The completion mask, dtype int64. Shape: (B, T)
    """
    positions = torch.arange(length)
    after_prompt = positions >= prompt_lengths[:, None]
    before_padding = positions < sequence_lengths[:, None]
    return (after_prompt & before_padding).long()


def collate(
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    length: int | None = None,
) -> SequenceBatch:
    """Right-pad rows prompt ∘ response into a SequenceBatch.

    Args:
        prompts: each row's prompt token ids (non-empty: the first response token is scored by the
            logits at the last prompt position).
        responses: each row's response token ids, EOS included where the response has one.
        pad_id: the id written on padding (its value never counts: the masks exclude it).
        length: pad to this T instead of the longest row (extra padding changes nothing).
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    rows = [list(p) + list(r) for p, r in zip(prompts, responses, strict=True)]
    longest = max(len(row) for row in rows)
    length = longest if length is None else length
    if length < longest:
        raise ValueError(f"length {length} is shorter than the longest row ({longest} tokens)")
    input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    prompt_lengths = torch.tensor([len(p) for p in prompts])
    sequence_lengths = torch.tensor([len(row) for row in rows])
    attention_mask = (torch.arange(length) < sequence_lengths[:, None]).long()
    return SequenceBatch(
        input_ids, attention_mask, completion_mask(prompt_lengths, sequence_lengths, length)
    )


def batch_logprobs(model: torch.nn.Module, batch: SequenceBatch, average_log_prob: bool = False):
    """log π(y | x) of every row of ``batch`` under a causal LM, in one forward pass.

    With chosen and rejected responses stacked as the rows of one batch (2B rows), this is the
    reference implementations' concatenated forward: one pass instead of two, split afterwards
    (``concatenated_forward``).

    Returns:
        Shape: (len(batch),), with the model's dtype, on the batch's device.
    """
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    return sequence_logprobs(
        logits, batch.input_ids, batch.completion_mask, average_log_prob=average_log_prob
    )


def enumerated_logprobs(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
) -> torch.Tensor:
    """log π(y | x) for every prompt x and every listed response y, in one forward pass.

    Args:
        prompts: token ids of each prompt.
        responses: token ids of each response (``enumerate_responses`` lists them all).

    Returns:
        Shape: (len(prompts), len(responses)), the model's dtype, on the model's device.
    """
    rows_prompts = [p for p in prompts for _ in responses]
    rows_responses = [r for _ in prompts for r in responses]
    device = next(model.parameters()).device
    batch = collate(rows_prompts, rows_responses, pad_id).to(device)
    return batch_logprobs(model, batch).reshape(len(prompts), len(responses))


@dataclass(frozen=True)
class PreferenceBatch:
    """Preference pairs over distinct sequences.

    sequences: every distinct prompt ∘ response once, right-padded. Shape: (S, T)
    chosen_index: the row of each pair's preferred response y_w. Shape: (P,)
    rejected_index: the row of each pair's dispreferred response y_l. Shape: (P,)
    weight: each pair's share of the loss, summing to 1 (1/N for N sampled pairs). Shape: (P,)
    reference_logps: log π_ref(y | x) of every row, once computed (``with_reference``). Shape: (S,)
    """

    sequences: SequenceBatch
    chosen_index: torch.Tensor
    rejected_index: torch.Tensor
    weight: torch.Tensor
    reference_logps: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.chosen_index.numel()

    def with_reference(self, reference: torch.nn.Module) -> PreferenceBatch:
        """The batch with log π_ref of every row, computed once (π_ref is frozen: computing it again
        at every step, as a plain loop does, gives the same numbers)."""
        device = next(reference.parameters()).device
        with torch.no_grad():
            logps = batch_logprobs(reference, self.sequences.to(device))
        return replace(self, reference_logps=logps)

    def to(self, device: torch.device | str) -> PreferenceBatch:
        return PreferenceBatch(
            self.sequences.to(device),
            self.chosen_index.to(device),
            self.rejected_index.to(device),
            self.weight.to(device),
            None if self.reference_logps is None else self.reference_logps.to(device),
        )

    def draw(self, count: int, generator: torch.Generator) -> PreferenceBatch:
        """A minibatch of ``count`` pairs drawn with replacement, each with probability its weight
        and weighing 1/count: its loss is an unbiased estimate of the whole batch's."""
        drawn = torch.multinomial(self.weight.cpu(), count, replacement=True, generator=generator)
        return self.subset(drawn.to(self.weight.device))

    def subset(self, pairs: torch.Tensor) -> PreferenceBatch:
        """The pairs at the indices ``pairs`` (repeats allowed), each weighing 1/len(pairs), with
        only the rows they use."""
        chosen, rejected = self.chosen_index[pairs], self.rejected_index[pairs]
        rows, inverse = torch.unique(torch.cat([chosen, rejected]), return_inverse=True)
        return PreferenceBatch(
            self.sequences.select(rows),
            inverse[: len(pairs)],
            inverse[len(pairs) :],
            torch.full((len(pairs),), 1 / len(pairs), dtype=torch.float64, device=pairs.device),
            None if self.reference_logps is None else self.reference_logps[rows],
        )


def concatenated_forward(
    model: torch.nn.Module, batch: PreferenceBatch
) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(y_w | x), log π(y_l | x)) for every pair, from ONE forward pass over the batch's rows.

    Returns:
        (chosen_logps, rejected_logps), each of shape (P,).
    """
    logps = batch_logprobs(model, batch.sequences)
    return logps[batch.chosen_index], logps[batch.rejected_index]


def preference_batch(
    prompts: Sequence[Sequence[int]],
    chosen: Sequence[Sequence[int]],
    rejected: Sequence[Sequence[int]],
    pad_id: int,
    weights: Sequence[float] | None = None,
) -> PreferenceBatch:
    """Pairs given as token ids → a PreferenceBatch with every distinct sequence once.

    Rows come in order of first appearance, all chosen sequences before the rejected ones, so that
    B pairs with distinct responses give exactly the rows [chosen; rejected].

    Args:
        prompts, chosen, rejected: P token-id sequences each; responses include their EOS.
        weights: each pair's weight (normalised here); equal weights when None.
    """
    if not (len(prompts) == len(chosen) == len(rejected)) or not prompts:
        raise ValueError(
            f"need the same positive number of prompts ({len(prompts)}), chosen ({len(chosen)}) "
            f"and rejected ({len(rejected)}) responses"
        )
    row_of: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
    keys_chosen = [(tuple(p), tuple(y)) for p, y in zip(prompts, chosen, strict=True)]
    keys_rejected = [(tuple(p), tuple(y)) for p, y in zip(prompts, rejected, strict=True)]
    for key in keys_chosen + keys_rejected:
        row_of.setdefault(key, len(row_of))
    rows = list(row_of)
    sequences = collate([p for p, _ in rows], [r for _, r in rows], pad_id)
    chosen_index = torch.tensor([row_of[key] for key in keys_chosen])
    rejected_index = torch.tensor([row_of[key] for key in keys_rejected])
    weight = (
        torch.ones(len(prompts), dtype=torch.float64)
        if weights is None
        else torch.tensor(weights, dtype=torch.float64)
    )
    return PreferenceBatch(sequences, chosen_index, rejected_index, weight / weight.sum())


def enumerated_preference_batch(
    space: SequenceBatch, pair_weights: torch.Tensor
) -> PreferenceBatch:
    """Pairs over an enumerated response space, weighted by a table of pair weights.

    Args:
        space: every prompt ∘ response, prompt-major: row x·n + y holds response y of prompt x.
        pair_weights: weight of the labelled triple (x, y_w, y_l); zero entries are left out.
            Shape: (n_prompts, n, n)

    Returns:
        A batch whose rows are ``space`` and whose pairs are the non-zero triples.
    """
    n_prompts, n, _ = pair_weights.shape
    if len(space) != n_prompts * n:
        raise ValueError(f"space has {len(space)} rows, pair_weights needs {n_prompts}·{n}")
    prompt, winner, loser = pair_weights.nonzero(as_tuple=True)
    weight = pair_weights[prompt, winner, loser].to(torch.float64)
    return PreferenceBatch(space, prompt * n + winner, prompt * n + loser, weight / weight.sum())

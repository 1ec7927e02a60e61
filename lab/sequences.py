"""Sequence log-probs in practice: log π(y | x) from one forward pass over prompt + response.

A causal language model factorises a response by the chain rule,

    log π(y | x) = Σ_{t=1}^{|y|} log π(y_t | x, y_<t),

and reads every factor off one forward pass over the concatenation s = x ∘ y: the logits at
position t − 1 score the token at position t (the shift), and only response positions count (the
completion mask; the prompt and the right-padding are masked out). The sum, not the mean, is
log π(y | x) — the DPO paper's definition and the reference implementations' (eric-mitchell's
``_get_batch_logps``, TRL's ``concatenated_forward``).

Also here: right-padded batches of prompt + response rows, their log-probs in one forward pass,
and the enumeration of every response of a small vocabulary.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

# The workspace holds this many logits: 2²² float32 elements are 16 MiB, against 823 MB for a full
# (8, 512, 50 257) log-softmax copy. Far smaller chunks are slower on several threads: each chunk is
# a parallel region, and on a busy machine every region waits for a descheduled thread.
CHUNK_ELEMENTS = 2**22


def sequence_logprobs(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    average_log_prob: bool = False,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """log π(y | x) for each row: the sum of the response tokens' log-probabilities.

    Each token's log-probability is its logit minus the logsumexp of its position's logits,
    computed over chunks of at most ``chunk_elements`` logits in a reused workspace, so no
    (B, T, V) log-softmax copy is ever made (``ChunkedTokenLogProbs``).

    Args:
        logits: the model's scores; logits[:, t] predicts the token at t + 1. Shape: (B, T, V)
        input_ids: prompt ∘ response token ids, right-padded. Shape: (B, T)
        completion_mask: 1 (or True) where input_ids[:, t] is a response token (EOS included), 0 on
            the prompt and on padding. Shape: (B, T)
        average_log_prob: return the mean over response tokens instead of the sum. The mean is a
            length-normalised score, NOT log π(y | x); it is here to be compared, not trained on.
        chunk_elements: the most logits one chunk holds (memory, not maths).

    Returns:
        log π(y | x), or the per-token mean when ``average_log_prob``. Shape: (B,)
    """
    if logits.dim() != 3 or logits.shape[:2] != input_ids.shape:
        raise ValueError(
            f"logits must be (B, T, V) with (B, T) = input_ids.shape {tuple(input_ids.shape)}; "
            f"got {tuple(logits.shape)}"
        )
    if completion_mask.shape != input_ids.shape:
        raise ValueError(
            f"completion_mask {tuple(completion_mask.shape)} must have input_ids' shape "
            f"{tuple(input_ids.shape)}"
        )
    if completion_mask[:, 0].bool().any():
        raise ValueError("position 0 cannot be a response token: no logits come before it")

    # The shift: the logits at t − 1 score the token at t. Rolling the labels (rather than slicing
    # logits[:, :-1], a non-contiguous view) scores the model's output as one matrix; the last
    # column, which wrapped around, is dropped.
    labels = input_ids.roll(-1, dims=1)
    loss_mask = completion_mask[:, 1:].bool()
    token_logps = token_logprobs(logits, labels, chunk_elements)[:, :-1]
    # torch.where, not a product: a masked position never turns a −inf into a NaN.
    summed = torch.where(loss_mask, token_logps, 0.0).sum(-1)
    if average_log_prob:
        return summed / loss_mask.sum(-1).clamp(min=1)
    return summed


def token_logprobs(
    logits: torch.Tensor, labels: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS
) -> torch.Tensor:
    """log softmax(logits)[label] at every position, without a (B, T, V) log-softmax copy.

    Args:
        logits: scores. Shape: (B, T, V)
        labels: the token each position scores. Shape: (B, T)
        chunk_elements: how many logits one chunk holds (memory, not maths).

    Returns:
        log-probabilities of the labels. Shape: (B, T)
    """
    vocab = logits.shape[-1]
    rows_per_chunk = max(1, chunk_elements // vocab)
    if logits.is_contiguous():  # a model's output: all B·T positions are rows of one matrix
        flat = ChunkedTokenLogProbs.apply(
            logits.view(-1, vocab), labels.reshape(-1), rows_per_chunk
        )
        return flat.view(labels.shape)
    # A view such as logits[:, :-1]: one batch row at a time, each of them contiguous.
    return torch.stack(
        [
            ChunkedTokenLogProbs.apply(row, row_labels, rows_per_chunk)
            for row, row_labels in zip(logits, labels, strict=True)
        ]
    )


class ChunkedTokenLogProbs(torch.autograd.Function):
    """log softmax(logits)[label] = logit[label] − log Σ_v exp(logit[v]) for every row of an (N, V)
    matrix, a chunk of rows at a time, through one workspace allocated once and reused.

    Why not ``log_softmax(logits).gather(...)``: that is an (N, V) copy (823 MB for GPT-2's
    vocabulary at B = 8, T = 512). Why not ``torch.logsumexp`` per chunk: it allocates and frees a
    chunk-sized temporary per chunk, which the C allocator does not always reuse (the benchmark saw
    the process grow by 0.5 GB about one run in three). The backward pass writes
    (onehot(label) − softmax)·grad into the logits' gradient chunk by chunk: that gradient is
    (N, V) whatever one does, and nothing else of that size is made.
    """

    @staticmethod
    def forward(ctx, logits, labels, rows_per_chunk: int):
        rows, vocab = logits.shape
        token_logps = logits.new_empty(rows)
        workspace = logits.new_empty(min(rows_per_chunk, rows) * vocab)
        for chunk in _chunks(rows, rows_per_chunk):
            log_probs = workspace[: (chunk.stop - chunk.start) * vocab].view(-1, vocab)
            torch.log_softmax(logits[chunk], dim=-1, out=log_probs)
            token_logps[chunk] = log_probs.gather(-1, labels[chunk, None]).squeeze(-1)
        ctx.save_for_backward(logits, labels)
        ctx.rows_per_chunk = rows_per_chunk
        return token_logps

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_token_logps):
        logits, labels = ctx.saved_tensors
        grad_logits = torch.empty_like(logits)
        for chunk in _chunks(logits.shape[0], ctx.rows_per_chunk):
            grad = grad_token_logps[chunk, None]
            chunk_grad = grad_logits[chunk]  # ∂/∂logit_v = (1[v = label] − softmax_v)·grad
            torch.softmax(logits[chunk], dim=-1, out=chunk_grad)
            chunk_grad.mul_(-grad).scatter_add_(-1, labels[chunk, None], grad)
        return grad_logits, None, None


def _chunks(rows: int, rows_per_chunk: int):
    return (
        slice(start, min(start + rows_per_chunk, rows)) for start in range(0, rows, rows_per_chunk)
    )


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
    (``lab.preference_data.concatenated_forward``).

    Returns:
        Shape: (len(batch),), with the model's dtype, on the batch's device.
    """
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    return sequence_logprobs(
        logits, batch.input_ids, batch.completion_mask, average_log_prob=average_log_prob
    )


def enumerate_responses(
    content_ids: Sequence[int], eos_id: int, max_tokens: int
) -> list[tuple[int, ...]]:
    """Every response a sampler can produce: k content tokens then EOS for k < max_tokens, and
    max_tokens content tokens with no EOS (sampling stops at the limit).

    Ordered by length, then by token id. With c content tokens there are Σ_{k=0}^{max} c^k.
    """
    responses: list[tuple[int, ...]] = []
    for k in range(max_tokens + 1):
        for tokens in itertools.product(content_ids, repeat=k):
            responses.append((*tokens, eos_id) if k < max_tokens else tokens)
    return responses


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

"""Sequence log-probs: log π(y | x) from one forward pass of a causal LM over prompt ∘ response.

A causal language model factorises a response by the chain rule,

    log π(y | x) = Σ_{t=1}^{|y|} log π(y_t | x, y_<t),

and reads every factor off one forward pass over the concatenation s = x ∘ y: the logits at
position t − 1 score the token at position t (the shift), and only response positions count (the
completion mask; the prompt and the right-padding are masked out). The sum, not the mean, is
log π(y | x) — the DPO paper's definition and the reference implementations' (eric-mitchell's
``_get_batch_logps``; TRL's ``DPOTrainer`` computes the same sum).

``plain_sequence_logprobs`` is the textbook four lines; ``sequence_logprobs`` gives the same
values and gradients chunk by chunk, without the (B, T, V) log-softmax copy (``make bench``).
"""

from __future__ import annotations

import torch

# The workspace holds this many logits: 2²² float32 elements are 16 MiB, against 823 MB for a full
# (8, 512, 50 257) log-softmax copy. Far smaller chunks are slower on several threads: each chunk is
# a parallel region, and on a busy machine every region waits for a descheduled thread.
CHUNK_ELEMENTS = 2**22


def plain_sequence_logprobs(
    logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> torch.Tensor:
    """log π(y | x) the textbook way: a full log-softmax, gather the next token, mask, sum.
    Shapes and bad input as ``sequence_logprobs``, except that non-finite logits are not looked
    for (NaN in, NaN out); it holds a (B, T − 1, V) copy of the log-probabilities."""
    check_sequence_inputs(logits, input_ids, completion_mask)
    log_probs = logits[:, :-1].log_softmax(dim=-1)
    token_logps = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return torch.where(completion_mask[:, 1:].bool(), token_logps, 0.0).sum(-1)


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
        log π(y | x), or the per-token mean when ``average_log_prob``. Shape: (B,). float16 and
        bfloat16 logits are scored token by token in their dtype and summed in float32, the
        dtype returned: a float16 sum of a few hundred tokens can pass −65 504 and become −inf.

    Raises:
        ValueError for shapes that do not match, T = 0 or V = 0, a response token at position 0,
        a token id outside [0, V), or logits that make a response token's log-prob NaN (a NaN or
        +inf logit, or only −inf ones, at a position that scores a response token). Logits on
        the prompt and the padding are not read into the result, so a NaN there does not matter;
        a −inf logit is a token ruled out, and its log-prob is −inf. The NaN check reads the (B,)
        result, not the (B, T, V) logits: it costs one comparison per row.
    """
    check_sequence_inputs(logits, input_ids, completion_mask)
    loss_mask = completion_mask[:, 1:].bool()
    token_logps = next_token_logprobs(logits, input_ids, chunk_elements)
    # torch.where, not a product: a masked position never turns a −inf into a NaN.
    summed = torch.where(loss_mask, token_logps, 0.0).sum(-1, dtype=_sum_dtype(logits.dtype))
    if bool(summed.isnan().any()):
        _raise_for_nan(token_logps, loss_mask)
    if average_log_prob:
        return summed / loss_mask.sum(-1).clamp(min=1)
    return summed


def check_sequence_inputs(
    logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> None:
    """The ValueErrors of ``sequence_logprobs`` that the inputs' shapes and ids decide."""
    if logits.dim() != 3 or logits.shape[:2] != input_ids.shape:
        raise ValueError(
            f"logits must be (B, T, V) with (B, T) = input_ids.shape {tuple(input_ids.shape)}; "
            f"got {tuple(logits.shape)}"
        )
    if not logits.dtype.is_floating_point:
        raise ValueError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    batch, positions, vocab = logits.shape
    if positions == 0:
        raise ValueError(
            f"logits must have at least one position (T = 0): shape {tuple(logits.shape)}"
        )
    if vocab == 0:
        raise ValueError(f"logits must have a vocabulary (V = 0): shape {tuple(logits.shape)}")
    if completion_mask.shape != input_ids.shape:
        raise ValueError(
            f"completion_mask {tuple(completion_mask.shape)} must have input_ids' shape "
            f"{tuple(input_ids.shape)}"
        )
    if completion_mask[:, 0].bool().any():
        raise ValueError("position 0 cannot be a response token: no logits come before it")
    outside = (input_ids < 0) | (input_ids >= vocab)
    if batch and bool(outside.any()):
        index = tuple(int(i) for i in outside.nonzero()[0])
        raise ValueError(
            f"input_ids must be token ids in [0, {vocab}): got {int(input_ids[index])} at index "
            f"{index}"
        )


def _sum_dtype(dtype: torch.dtype) -> torch.dtype | None:
    """float32 for float16 and bfloat16 (their sums overflow or lose the small terms)."""
    return torch.float32 if torch.finfo(dtype).bits < 32 else None


def _raise_for_nan(token_logps: torch.Tensor, loss_mask: torch.Tensor) -> None:
    row, position = (int(i) for i in (token_logps.isnan() & loss_mask).nonzero()[0])
    raise ValueError(
        f"logits has NaN or +inf (or only −inf) in row {row} at position {position}, which "
        f"scores response token {position + 1}: its log π(y | x) would be NaN"
    )


def next_token_logprobs(
    logits: torch.Tensor, input_ids: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS
) -> torch.Tensor:
    """log π(s_t | s_<t) of every token after the first: the logits at t − 1 score the token at t
    (the shift). Entry [:, j] is the log-probability of input_ids[:, j + 1]. Shape: (B, T − 1)"""
    # Rolling the labels (rather than slicing logits[:, :-1], a non-contiguous view) scores the
    # model's output as one matrix; the last column, which wrapped around, is dropped.
    labels = input_ids.roll(-1, dims=1)
    return token_logprobs(logits, labels, chunk_elements)[:, :-1]


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

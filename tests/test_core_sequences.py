"""lab.core.sequences: the chunked sequence log-probs against the plain log-softmax + gather, and
both against a per-position loop."""

from __future__ import annotations

import pytest
import torch

from lab.core.sequences import plain_sequence_logprobs, sequence_logprobs, token_logprobs


def loop_sequence_logprobs(logits, input_ids, completion_mask):
    """The definition, one position at a time: Σ over response positions t of
    log softmax(logits[t − 1])[token t]."""
    rows = []
    for row_logits, row_ids, row_mask in zip(logits, input_ids, completion_mask, strict=True):
        total = torch.zeros((), dtype=logits.dtype)
        for t in range(1, len(row_ids)):
            if row_mask[t]:
                total = total + torch.log_softmax(row_logits[t - 1], dim=-1)[row_ids[t]]
        rows.append(total)
    return torch.stack(rows)


def random_batch(dtype, batch=5, length=17, vocab=300, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = 4 * torch.randn(batch, length, vocab, generator=generator, dtype=dtype)
    input_ids = torch.randint(vocab, (batch, length), generator=generator)
    prompt_lengths = torch.randint(1, 6, (batch,), generator=generator)
    sequence_lengths = prompt_lengths + torch.randint(1, length - 6, (batch,), generator=generator)
    positions = torch.arange(length)
    mask = ((positions >= prompt_lengths[:, None]) & (positions < sequence_lengths[:, None])).long()
    return logits, input_ids, mask


def test_the_plain_version_is_the_definition() -> None:
    logits, input_ids, mask = random_batch(torch.float64)
    want = loop_sequence_logprobs(logits, input_ids, mask)
    assert (plain_sequence_logprobs(logits, input_ids, mask) - want).abs().max() <= 1e-12


@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.float64, 1e-10)], ids=["f32", "f64"]
)
@pytest.mark.parametrize("chunk_elements", [1, 1000, 2**22], ids=["per-position", "chunks", "one"])
def test_matches_log_softmax_and_gather(dtype, tolerance, chunk_elements) -> None:
    logits, input_ids, mask = random_batch(dtype)
    got = sequence_logprobs(logits, input_ids, mask, chunk_elements=chunk_elements)
    want = plain_sequence_logprobs(logits, input_ids, mask)
    assert got.shape == (5,) and got.dtype == dtype
    assert (got - want).abs().max().item() <= tolerance


def test_gradient_matches_log_softmax_and_gather() -> None:
    logits, input_ids, mask = random_batch(torch.float64)
    ours = logits.clone().requires_grad_(True)
    naive = logits.clone().requires_grad_(True)
    sequence_logprobs(ours, input_ids, mask, chunk_elements=1000).sum().backward()
    plain_sequence_logprobs(naive, input_ids, mask).sum().backward()
    assert torch.allclose(ours.grad, naive.grad, atol=1e-12)


def test_token_logprobs_of_a_view_match_too() -> None:
    """A non-contiguous view (logits[:, :-1]) goes row by row; values and gradients agree."""
    logits, input_ids, _ = random_batch(torch.float64)
    view = logits.clone().requires_grad_(True)
    naive = logits.clone().requires_grad_(True)
    ours = token_logprobs(view[:, :-1], input_ids[:, 1:], chunk_elements=1000)
    want = naive[:, :-1].log_softmax(-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    assert torch.allclose(ours, want, atol=1e-12)
    ours.sum().backward()
    want.sum().backward()
    assert torch.allclose(view.grad, naive.grad, atol=1e-12)


def test_only_the_logits_before_response_tokens_matter() -> None:
    """Logits at t − 1 score token t: changing the logits anywhere else (prompt positions before
    the last, the response's last position, padding) leaves the result alone; changing the logits
    at the last prompt position (which scores the first response token) does not."""
    logits, input_ids, mask = random_batch(torch.float64)
    before = sequence_logprobs(logits, input_ids, mask)
    scoring = torch.zeros_like(mask, dtype=torch.bool)
    scoring[:, :-1] = mask[:, 1:].bool()  # positions whose logits score a response token
    noise = torch.randn_like(logits) * (~scoring)[..., None]
    assert torch.allclose(sequence_logprobs(logits + noise, input_ids, mask), before, atol=1e-12)
    last_prompt = mask.argmax(dim=1) - 1
    nudged = logits.clone()
    nudged[torch.arange(len(mask)), last_prompt] += torch.randn(
        logits.shape[-1], dtype=logits.dtype
    )
    assert not torch.allclose(sequence_logprobs(nudged, input_ids, mask), before, atol=1e-6)


def test_the_mean_option_divides_by_the_response_length() -> None:
    logits, input_ids, mask = random_batch(torch.float64)
    summed = sequence_logprobs(logits, input_ids, mask)
    mean = sequence_logprobs(logits, input_ids, mask, average_log_prob=True)
    assert torch.allclose(mean * mask.sum(-1), summed, atol=1e-12)
    assert not torch.allclose(mean, summed)


def test_bad_shapes_and_a_masked_first_position_are_refused() -> None:
    logits, input_ids, mask = random_batch(torch.float32)
    with pytest.raises(ValueError, match="logits must be"):
        sequence_logprobs(logits[:, 1:], input_ids, mask)
    with pytest.raises(ValueError, match="completion_mask"):
        sequence_logprobs(logits, input_ids, mask[:, 1:])
    mask[0, 0] = 1
    with pytest.raises(ValueError, match="position 0"):
        sequence_logprobs(logits, input_ids, mask)


# ---- bad input: empty dimensions, token ids out of range, NaN and ±inf logits, float16 ----------

BOTH = [sequence_logprobs, plain_sequence_logprobs]


@pytest.mark.parametrize("function", BOTH)
def test_no_positions_or_an_empty_vocabulary_is_refused_by_name(function) -> None:
    no_positions = torch.zeros(2, 0, dtype=torch.long)
    with pytest.raises(ValueError, match=r"logits must have at least one position \(T = 0\)"):
        function(torch.zeros(2, 0, 5), no_positions, no_positions)
    ids, mask = torch.zeros(2, 3, dtype=torch.long), torch.tensor([[0, 1, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"logits must have a vocabulary \(V = 0\)"):
        function(torch.zeros(2, 3, 0), ids, mask)


@pytest.mark.parametrize("function", BOTH)
def test_an_empty_batch_gives_no_log_probs(function) -> None:
    ids = torch.zeros(0, 3, dtype=torch.long)
    assert function(torch.zeros(0, 3, 5), ids, ids).shape == (0,)


@pytest.mark.parametrize("function", BOTH)
def test_token_ids_outside_the_vocabulary_are_named(function) -> None:
    logits, input_ids, mask = random_batch(torch.float32)
    input_ids[1, 4] = logits.shape[-1]
    with pytest.raises(ValueError, match=r"input_ids must be token ids in \[0, 300\): got 300"):
        function(logits, input_ids, mask)


def _response_position(mask: torch.Tensor) -> tuple[int, int]:
    """(row, t) of the logits that score row 0's first response token."""
    return 0, int(mask[0].nonzero()[0]) - 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_logits_that_score_a_response_token_are_named(bad: float) -> None:
    logits, input_ids, mask = random_batch(torch.float32)
    logits[(*_response_position(mask), 7)] = bad
    with pytest.raises(ValueError, match=r"logits has NaN or \+inf .* row 0"):
        sequence_logprobs(logits, input_ids, mask)


def test_nan_logits_outside_the_response_do_not_matter() -> None:
    """Only positions that score response tokens count: a NaN on the prompt or the padding is
    masked out, as the chain rule says it should be."""
    logits, input_ids, mask = random_batch(torch.float32)
    want = sequence_logprobs(logits, input_ids, mask)
    logits[0, -1] = float("nan")  # the last position scores no token
    assert torch.equal(sequence_logprobs(logits, input_ids, mask), want)


def test_minus_inf_logits_give_probability_zero_not_nan() -> None:
    """A −inf logit is a token the model rules out: log-prob −inf where it is the token, and
    the other tokens' log-probs unchanged."""
    logits, input_ids, mask = random_batch(torch.float64)
    row, t = _response_position(mask)
    token = int(input_ids[row, t + 1])
    logits[row, t, token] = float("-inf")
    result = sequence_logprobs(logits, input_ids, mask)
    assert result[0] == float("-inf") and torch.isfinite(result[1:]).all()


def test_float16_logits_are_summed_in_float32() -> None:
    """200 tokens of log-prob ≈ −1 000 sum to ≈ −200 000, beyond float16's −65 504: the sum
    is float32, and so is the result."""
    vocab, length = 8, 201
    logits = torch.zeros(1, length, vocab, dtype=torch.float16)
    logits[..., 1:] = 1000.0  # token 0 is 1 000 below the others
    input_ids = torch.zeros(1, length, dtype=torch.long)
    mask = torch.ones(1, length, dtype=torch.long)
    mask[0, 0] = 0
    result = sequence_logprobs(logits, input_ids, mask)
    assert result.dtype == torch.float32
    want = (length - 1) * (-1000.0 - torch.log(torch.tensor(vocab - 1.0)))
    assert result.item() == pytest.approx(want.item(), rel=1e-3)

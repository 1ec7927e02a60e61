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

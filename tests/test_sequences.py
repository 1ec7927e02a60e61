"""lab.sequences: one-pass sequence log-probs against the straightforward computation."""

from __future__ import annotations

import pytest
import torch

from lab.policies import world_model
from lab.sequences import (
    batch_logprobs,
    collate,
    enumerate_responses,
    enumerated_logprobs,
    sequence_logprobs,
    token_logprobs,
)
from lab.token_world import TokenWorld, build_tokenizer, response_space


def naive_sequence_logprobs(logits, input_ids, completion_mask):
    """The textbook version: a full log-softmax copy, gather, mask, sum."""
    log_probs = logits[:, :-1].log_softmax(dim=-1)
    token_logps = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return (token_logps * completion_mask[:, 1:]).sum(-1)


def random_batch(dtype, batch=5, length=17, vocab=300, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = 4 * torch.randn(batch, length, vocab, generator=generator, dtype=dtype)
    input_ids = torch.randint(vocab, (batch, length), generator=generator)
    prompt_lengths = torch.randint(1, 6, (batch,), generator=generator)
    sequence_lengths = prompt_lengths + torch.randint(1, length - 6, (batch,), generator=generator)
    positions = torch.arange(length)
    mask = ((positions >= prompt_lengths[:, None]) & (positions < sequence_lengths[:, None])).long()
    return logits, input_ids, mask


@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.float64, 1e-10)], ids=["f32", "f64"]
)
@pytest.mark.parametrize("chunk_elements", [1, 1000, 2**22], ids=["per-position", "chunks", "one"])
def test_matches_log_softmax_and_gather(dtype, tolerance, chunk_elements) -> None:
    logits, input_ids, mask = random_batch(dtype)
    got = sequence_logprobs(logits, input_ids, mask, chunk_elements=chunk_elements)
    want = naive_sequence_logprobs(logits, input_ids, mask)
    assert got.shape == (5,) and got.dtype == dtype
    assert (got - want).abs().max().item() <= tolerance


def test_gradient_matches_log_softmax_and_gather() -> None:
    logits, input_ids, mask = random_batch(torch.float64)
    ours = logits.clone().requires_grad_(True)
    naive = logits.clone().requires_grad_(True)
    sequence_logprobs(ours, input_ids, mask, chunk_elements=1000).sum().backward()
    naive_sequence_logprobs(naive, input_ids, mask).sum().backward()
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


def test_collate_pads_right_and_masks_prompt_and_padding() -> None:
    batch = collate([[5, 6], [7]], [[1, 0], [2, 3, 0]], pad_id=0, length=6)
    assert batch.input_ids.tolist() == [[5, 6, 1, 0, 0, 0], [7, 2, 3, 0, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0]]
    assert batch.completion_mask.tolist() == [[0, 0, 1, 1, 0, 0], [0, 1, 1, 1, 0, 0]]
    with pytest.raises(ValueError, match="shorter than the longest row"):
        collate([[5, 6]], [[1, 0]], pad_id=0, length=3)
    with pytest.raises(ValueError, match="at least one token"):
        collate([[]], [[1, 0]], pad_id=0)


def test_extra_right_padding_changes_nothing_through_a_model() -> None:
    world = TokenWorld()
    model = world_model(world, seed=3)
    prompts, responses = [[1, 5, 1, 6], [2, 6]], [[3, 0], [4, 4, 4]]
    tight = batch_logprobs(model, collate(prompts, responses, world.eos_id))
    loose = batch_logprobs(model, collate(prompts, responses, world.eos_id, length=12))
    assert (tight - loose).abs().max().item() <= 1e-5


def test_enumerate_responses_lists_every_sampler_outcome_once() -> None:
    responses = enumerate_responses([1, 2, 3], eos_id=0, max_tokens=2)
    assert len(responses) == 1 + 3 + 9 == len(set(responses))
    assert (0,) in responses and (2, 0) in responses and (3, 1) in responses
    assert all(r[-1] == 0 for r in responses if len(r) <= 2 and 0 in r)
    assert all(0 not in r for r in responses if len(r) == 2 and r[-1] != 0)


def test_probabilities_sum_to_one_in_a_smaller_world_too() -> None:
    world = TokenWorld(content_tokens=("2", "4", "+", "="), max_response_tokens=2, sft_examples={})
    tokenizer = build_tokenizer(world)
    model = world_model(world, seed=5).double()
    prompts = [tokenizer.encode(prompt).ids for prompt in world.prompts]
    with torch.no_grad():
        logps = enumerated_logprobs(model, prompts, response_space(world, tokenizer), world.eos_id)
    assert logps.shape == (2, 1 + 4 + 16)
    assert torch.allclose(logps.exp().sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-12)

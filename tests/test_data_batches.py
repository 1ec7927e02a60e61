"""Token batches: right-padded rows with their masks, and preference batches over distinct sequences
with their one concatenated forward pass."""

from __future__ import annotations

import pytest
import torch

from lab.data.batches import batch_logprobs, collate, concatenated_forward, preference_batch
from lab.training.policies import world_model
from lab.worlds.tokens import TokenWorld, build_tokenizer, encode_response

WORLD = TokenWorld()
TOKENIZER = build_tokenizer(WORLD)


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


def ids(text: str) -> list[int]:
    return encode_response(TOKENIZER, text, WORLD.max_response_tokens)


PROMPT = TOKENIZER.encode("2 + 2 =").ids


def test_distinct_pairs_give_the_rows_chosen_then_rejected() -> None:
    batch = preference_batch([PROMPT] * 2, [ids("4"), ids("= 4")], [ids("5"), ids("2 2")], 0)
    assert len(batch.sequences) == 4
    assert batch.chosen_index.tolist() == [0, 1] and batch.rejected_index.tolist() == [2, 3]


def test_repeated_sequences_are_stored_once() -> None:
    batch = preference_batch(
        [PROMPT] * 3, [ids("4"), ids("4"), ids("5")], [ids("5"), ids("2 2"), ids("2 2")], 0
    )
    assert len(batch.sequences) == 3  # "4", "5", "2 2"
    assert batch.chosen_index.tolist() == [0, 0, 1] and batch.rejected_index.tolist() == [1, 2, 2]


def test_concatenated_forward_equals_two_separate_forwards() -> None:
    model = world_model(WORLD, seed=2)
    chosen = [ids("4"), ids("= 4"), ids("4 4 4")]
    rejected = [ids("5"), ids("2 2"), ids("+")]
    batch = preference_batch([PROMPT] * 3, chosen, rejected, WORLD.eos_id)
    chosen_logps, rejected_logps = concatenated_forward(model, batch)
    separate_chosen = batch_logprobs(model, collate([PROMPT] * 3, chosen, WORLD.eos_id))
    separate_rejected = batch_logprobs(model, collate([PROMPT] * 3, rejected, WORLD.eos_id))
    assert torch.allclose(chosen_logps, separate_chosen, atol=1e-5)
    assert torch.allclose(rejected_logps, separate_rejected, atol=1e-5)


def test_a_subset_keeps_its_pairs_with_equal_weights() -> None:
    chosen = [ids("4"), ids("= 4"), ids("4 4 4"), ids("4")]
    rejected = [ids("5"), ids("2 2"), ids("+"), ids("2 2")]
    full = preference_batch([PROMPT] * 4, chosen, rejected, WORLD.eos_id, weights=[1, 2, 3, 4])
    picked = [3, 1, 3]
    part = full.subset(torch.tensor(picked))
    assert torch.allclose(part.weight, torch.full((3,), 1 / 3, dtype=torch.float64))
    assert len(part.sequences) == 3  # "4", "= 4", "2 2"
    rows = part.sequences.input_ids
    for i, original in enumerate(picked):
        assert torch.equal(
            rows[part.chosen_index[i]], full.sequences.input_ids[full.chosen_index[original]]
        )
        assert torch.equal(
            rows[part.rejected_index[i]], full.sequences.input_ids[full.rejected_index[original]]
        )


def test_draws_follow_the_pair_weights() -> None:
    chosen, rejected = [ids("4"), ids("= 4")], [ids("5"), ids("2 2")]
    full = preference_batch([PROMPT] * 2, chosen, rejected, WORLD.eos_id, weights=[0.9, 0.1])
    drawn = full.draw(4000, torch.Generator().manual_seed(0))
    first_pair = full.sequences.input_ids[full.chosen_index[0]]
    share = sum(torch.equal(drawn.sequences.input_ids[i], first_pair) for i in drawn.chosen_index)
    assert abs(share / 4000 - 0.9) < 0.02

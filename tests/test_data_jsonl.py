"""Preference files (JSONL, the Hugging Face format): the example file, and every kind of bad row
named by file, line and problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lab.data.jsonl import (
    EXAMPLE_FILE,
    EXAMPLE_ROWS,
    EXAMPLE_SEED,
    PreferenceDataError,
    example_records,
    load_preferences,
)
from lab.worlds.tokens import TokenWorld, build_tokenizer, response_text

WORLD = TokenWorld()
TOKENIZER = build_tokenizer(WORLD)
CONTEXT = 16
BAD_ROWS = {
    "invalid JSON": ('{"prompt": "2 + 2 =", "chosen": "4"', "invalid JSON"),
    "not an object": ('["2 + 2 =", "4", "5"]', "expected a JSON object"),
    "missing key": ('{"prompt": "2 + 2 =", "chosen": "4"}', "missing key 'rejected'"),
    "empty field": ('{"prompt": "2 + 2 =", "chosen": "", "rejected": "5"}', "'chosen' is empty"),
    "blank field": ('{"prompt": "  ", "chosen": "4", "rejected": "5"}', "'prompt' is empty"),
    "non-string": ('{"prompt": "2 + 2 =", "chosen": 4, "rejected": "5"}', "must be a string"),
    "unknown token": (
        '{"prompt": "2 + 2 =", "chosen": "four", "rejected": "5"}',
        "'chosen' has tokens the vocabulary lacks: 'four'",
    ),
    "explicit EOS": (
        '{"prompt": "2 + 2 =", "chosen": "4 <eos>", "rejected": "5"}',
        "the loader adds the end of sequence itself",
    ),
    "too long": (
        '{"prompt": "2 + 2 =", "chosen": "4", "rejected": "2 + 2 = 4"}',
        "'rejected' has 5 tokens; responses have at most 3",
    ),
    "over the context": (
        '{"prompt": "' + "2 + " * 7 + '2 =", "chosen": "4", "rejected": "5"}',
        "the model reads at most 16",
    ),
}


def load(path: Path):
    return load_preferences(path, WORLD, TOKENIZER, CONTEXT)


def test_the_example_file_loads_and_is_what_its_generator_writes() -> None:
    records = load(EXAMPLE_FILE)
    assert len(records.batch) == EXAMPLE_ROWS
    assert set(records.prompts) <= set(WORLD.prompts)
    assert torch.allclose(
        records.batch.weight, torch.full((EXAMPLE_ROWS,), 1 / EXAMPLE_ROWS).double()
    )
    rows = [json.loads(line) for line in EXAMPLE_FILE.read_text().splitlines()]
    assert rows == example_records(WORLD, EXAMPLE_ROWS, EXAMPLE_SEED)


def test_example_labels_mostly_agree_with_the_reward() -> None:
    rows = example_records(WORLD, 400, seed=1)
    agree = [
        WORLD.reward(r["prompt"], r["chosen"]) > WORLD.reward(r["prompt"], r["rejected"])
        for r in rows
    ]
    assert 0.6 < sum(agree) / len(rows) < 1.0  # Bradley–Terry labels: mostly right, not always


def test_loaded_rows_decode_back_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text(
        '{"prompt": "2 + 2 =", "chosen": "4", "rejected": "2 2"}\n'
        "\n"  # blank lines are skipped
        '{"prompt": "2 + 3 =", "chosen": "= 5", "rejected": "4 4 4", "source": "extra keys ok"}\n'
    )
    batch = load(path).batch
    ids = batch.sequences.input_ids
    mask = batch.sequences.completion_mask.bool()
    chosen = [response_text(TOKENIZER, ids[i][mask[i]].tolist()) for i in batch.chosen_index]
    rejected = [response_text(TOKENIZER, ids[i][mask[i]].tolist()) for i in batch.rejected_index]
    assert chosen == ["4", "= 5"] and rejected == ["2 2", "4 4 4"]
    # "4 4 4" is at the length limit: no EOS; the others end with one
    assert [int(mask[i].sum()) for i in batch.rejected_index] == [3, 3]


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_a_bad_row_names_file_line_and_problem(tmp_path: Path, kind: str) -> None:
    line, problem = BAD_ROWS[kind]
    path = tmp_path / "prefs.jsonl"
    good = '{"prompt": "2 + 2 =", "chosen": "4", "rejected": "5"}'
    path.write_text(f"{good}\n{good}\n{line}\n{good}\n")
    with pytest.raises(PreferenceDataError) as error:
        load(path)  # raises: the three good rows are not returned half-loaded
    message = str(error.value)
    assert f"{path}:3: " in message and problem in message
    assert f"{path}:1:" not in message and f"{path}:4:" not in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text(
        '{"prompt": "2 + 2 ="}\nnot json\n{"prompt": "x", "chosen": 1, "rejected": "5"}\n'
    )
    with pytest.raises(PreferenceDataError) as error:
        load(path)
    message = str(error.value)
    assert "5 problem(s)" in message
    for expected in (":1: missing key 'chosen'", ":1: missing key 'rejected'", ":2: invalid JSON",
                     ":3: 'prompt' has tokens", ":3: 'chosen' must be a string"):  # fmt: skip
        assert expected in message


def test_an_empty_file_and_a_missing_file_are_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(PreferenceDataError, match="no preference rows"):
        load(empty)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("café".encode("latin-1"), "not UTF-8 (byte 0xe9 at column 4)"),
        (b"\x89PNG\x00", "not UTF-8 (byte 0x89 at column 1)"),
    ],
    ids=["latin-1", "binary"],
)
def test_a_line_that_is_not_utf8_is_named_not_a_codec_error(
    tmp_path: Path, raw: bytes, problem: str
) -> None:
    path = tmp_path / "prefs.jsonl"
    good = b'{"prompt": "2 + 2 =", "chosen": "4", "rejected": "5"}\n'
    path.write_bytes(good + raw + b"\n" + good)
    with pytest.raises(PreferenceDataError) as error:
        load(path)
    assert f"{path}:2: {problem}: preference files are UTF-8 JSONL" in str(error.value)
    assert f"{path}:3:" not in str(error.value)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_row(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "2 + 2 =", "chosen": "4", "rejected": "5"}\n')
    assert len(load(path).batch) == 1


def test_ties_are_skipped_and_their_lines_kept(tmp_path: Path) -> None:
    """A tie (chosen = rejected, up to spacing) states no preference: not trained on."""
    path = tmp_path / "prefs.jsonl"
    rows = [("4", "5"), ("4", "4"), ("2 2", " 2  2 "), ("5", "4")]
    path.write_text(
        "".join(
            json.dumps({"prompt": "2 + 2 =", "chosen": c, "rejected": r}) + "\n" for c, r in rows
        )
    )
    records = load(path)
    assert len(records.batch) == 2 and records.skipped == (2, 3)


def test_a_file_of_ties_only_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text('{"prompt": "2 + 2 =", "chosen": "4", "rejected": "4"}\n')
    with pytest.raises(PreferenceDataError, match=r"no preference rows .* but 1 tie"):
        load(path)

"""Preference files: JSONL in the Hugging Face preference format, one {"prompt", "chosen",
"rejected"} per line, in the token world's vocabulary; and the example file's generator.

    python -m lab.data.jsonl    rewrites data/example_preferences.jsonl from the world's reward
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from lab.data.batches import PreferenceBatch, preference_batch
from lab.worlds.tokens import EOS, TokenWorld, encode_response

REQUIRED_KEYS = ("prompt", "chosen", "rejected")
MAX_PROBLEMS_SHOWN = 20
EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "data" / "example_preferences.jsonl"
EXAMPLE_ROWS = 48
EXAMPLE_SEED = 0


class PreferenceDataError(ValueError):
    """A preference file has bad rows; the message names the file, each line and its problem."""


@dataclass(frozen=True)
class PreferenceRecords:
    """The text rows of a preference file, validated, and their PreferenceBatch; ``skipped``: the
    line numbers of ties (chosen = rejected), which are not in the batch."""

    path: Path
    prompts: tuple[str, ...]
    batch: PreferenceBatch
    skipped: tuple[int, ...] = ()


def load_preferences(
    path: str | Path, world: TokenWorld, tokenizer: Tokenizer, max_sequence_tokens: int
) -> PreferenceRecords:
    """Read a JSONL preference file and tokenise it with the world's tokenizer.

    Every line is checked before anything is built, and every problem is reported at once, each as
    ``FILE:LINE: problem`` (a line that is not UTF-8, invalid JSON, not an object, a missing key,
    an empty or non-string field, a word the vocabulary lacks, a response over the length limit, a
    row too long for the model). Nothing is half-loaded: either all rows load or a
    PreferenceDataError is raised. Blank lines are skipped, and so are ties — rows whose chosen
    and rejected are the same response (up to spacing): a tie states no preference, its DPO loss
    is log 2 whatever π_θ is and its gradient 0; their line numbers are in ``skipped``.

    Args:
        max_sequence_tokens: the model's context length (prompt ∘ response must fit).
    """
    path = Path(path)
    problems: list[str] = []
    rows: list[tuple[list[int], list[int], list[int]]] = []
    prompts: list[str] = []
    skipped: list[int] = []
    for number, record in _read_json_lines(path, problems):
        row_problems = _record_problems(record, world.vocabulary, world.max_response_tokens)
        if not row_problems:
            ids = _encode_record(record, world, tokenizer)
            longest = len(ids[0]) + max(len(ids[1]), len(ids[2]))
            if longest > max_sequence_tokens:
                row_problems.append(
                    f"prompt and response take {longest} tokens; the model reads at most "
                    f"{max_sequence_tokens}"
                )
        if row_problems:
            problems.extend(f"{path}:{number}: {problem}" for problem in row_problems)
        elif record["chosen"].split() == record["rejected"].split():
            skipped.append(number)
        else:
            rows.append(ids)
            prompts.append(" ".join(record["prompt"].split()))
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        tail = [f"… and {more} more problems"] if more else []
        raise PreferenceDataError(
            f"{path}: {len(problems)} problem(s); nothing was loaded:\n" + "\n".join(shown + tail)
        )
    if not rows:
        ties = f" but {len(skipped)} tie(s), chosen = rejected" if skipped else ""
        raise PreferenceDataError(f"{path}: no preference rows (the file has none{ties})")
    batch = preference_batch(*zip(*rows, strict=True), pad_id=world.eos_id)
    return PreferenceRecords(path, tuple(prompts), batch, tuple(skipped))


def _read_json_lines(path: Path, problems: list[str]):
    """(line number, parsed JSON) for each non-blank line that is UTF-8 and JSON; a problem
    ``FILE:LINE: …`` appended to ``problems`` for each line that is not."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            where = f"{path}:{number}"
            try:  # a byte-order mark on the first line is UTF-8's, not part of the row
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                problems.append(
                    f"{where}: not UTF-8 (byte 0x{raw[error.start]:02x} at column "
                    f"{error.start + 1}): preference files are UTF-8 JSONL"
                )
                continue
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: invalid JSON ({error.msg}, column {error.colno})")


def _record_problems(record: object, vocabulary: dict[str, int], max_tokens: int) -> list[str]:
    """What is wrong with one parsed row; empty when nothing is."""
    if not isinstance(record, dict):
        return [f"expected a JSON object with keys {list(REQUIRED_KEYS)}, got {_kind(record)}"]
    problems = []
    for key in REQUIRED_KEYS:
        if key not in record:
            problems.append(f"missing key {key!r}")
            continue
        value = record[key]
        if not isinstance(value, str):
            problems.append(f"{key!r} must be a string, got {_kind(value)}")
            continue
        words = value.split()
        if not words:
            problems.append(f"{key!r} is empty")
            continue
        if EOS in words:
            problems.append(f"{key!r} contains {EOS}: the loader adds the end of sequence itself")
        unknown = sorted({word for word in words if word not in vocabulary}, key=words.index)
        if unknown:
            known = " ".join(token for token in vocabulary if token != EOS)
            problems.append(
                f"{key!r} has tokens the vocabulary lacks: {', '.join(map(repr, unknown))} "
                f"(the vocabulary: {known})"
            )
        if key != "prompt" and len(words) > max_tokens:
            problems.append(f"{key!r} has {len(words)} tokens; responses have at most {max_tokens}")
    return problems


def _encode_record(record: dict, world: TokenWorld, tokenizer: Tokenizer):
    prompt = tokenizer.encode(record["prompt"]).ids
    chosen = encode_response(tokenizer, record["chosen"], world.max_response_tokens)
    rejected = encode_response(tokenizer, record["rejected"], world.max_response_tokens)
    return prompt, chosen, rejected


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    names |= {int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def example_records(world: TokenWorld, n_rows: int, seed: int) -> list[dict[str, str]]:
    """Preference rows as a labeller following the world's reward would write them.

    Each row: a prompt uniformly; two different responses from its SFT examples, drawn by their
    counts; the first preferred with Bradley–Terry probability σ(r₁ − r₂). Python's own seeded
    ``random.Random`` makes the rows identical on every platform and torch version.
    """
    rng = random.Random(seed)
    records = []
    for _ in range(n_rows):
        prompt = rng.choice(world.prompts)
        examples = world.sft_examples[prompt]
        first = rng.choices(list(examples), weights=list(examples.values()))[0]
        others = [text for text in examples if text != first]
        second = rng.choices(others, weights=[examples[text] for text in others])[0]
        margin = world.reward(prompt, first) - world.reward(prompt, second)
        first_wins = rng.random() < 1 / (1 + math.exp(-margin))
        chosen, rejected = (first, second) if first_wins else (second, first)
        records.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return records


def write_jsonl(path: str | Path, records: list[dict[str, str]]) -> None:
    """One JSON object per line, UTF-8."""
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":  # python -m lab.data.jsonl: rewrite the example file
    write_jsonl(EXAMPLE_FILE, example_records(TokenWorld(), EXAMPLE_ROWS, EXAMPLE_SEED))
    print(f"wrote {EXAMPLE_ROWS} rows to {EXAMPLE_FILE}")

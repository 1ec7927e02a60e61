"""Preference pairs as token sequences, ready for one concatenated forward pass.

Three sources feed the same training path (``lab.train_transformer``):
- the whole enumerated response space, each pair weighted by its probability (population mode);
- N pairs sampled from Bradley–Terry (finite-sample mode), which are counted, so that the mean
  loss over the N pairs is a weighted sum over the distinct pairs;
- a JSONL file in the Hugging Face preference format, one {"prompt", "chosen", "rejected"} per line.

A ``PreferenceBatch`` stores every distinct prompt ∘ response sequence once, chosen ones first, and
says which rows are each pair's y_w and y_l. With B distinct pairs that is the reference
implementations' concatenated batch — 2B rows [chosen; rejected], one forward pass, split after —
and when responses repeat (as they do, massively, in population mode) a row is computed once.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tokenizers import Tokenizer

from lab.sequences import SequenceBatch, batch_logprobs, collate
from lab.token_world import EOS, TokenWorld, encode_response

REQUIRED_KEYS = ("prompt", "chosen", "rejected")
MAX_PROBLEMS_SHOWN = 20
EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "data" / "example_preferences.jsonl"
EXAMPLE_ROWS = 48
EXAMPLE_SEED = 0


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


# --- JSONL files in the Hugging Face preference format -------------------------------------------


class PreferenceDataError(ValueError):
    """A preference file has bad rows; the message names the file, each line and its problem."""


@dataclass(frozen=True)
class PreferenceRecords:
    """The text rows of a preference file, validated, and their PreferenceBatch."""

    path: Path
    prompts: tuple[str, ...]
    batch: PreferenceBatch


def load_preferences(
    path: str | Path, world: TokenWorld, tokenizer: Tokenizer, max_sequence_tokens: int
) -> PreferenceRecords:
    """Read a JSONL preference file and tokenise it with the world's tokenizer.

    Every line is checked before anything is built, and every problem is reported at once, each as
    ``FILE:LINE: problem`` (invalid JSON, not an object, a missing key, an empty or non-string
    field, a word the vocabulary lacks, a response over the length limit, a row too long for the
    model). Nothing is half-loaded: either all rows load or a PreferenceDataError is raised.
    Blank lines are skipped.

    Args:
        max_sequence_tokens: the model's context length (prompt ∘ response must fit).
    """
    path = Path(path)
    vocabulary = world.vocabulary
    problems: list[str] = []
    rows: list[tuple[list[int], list[int], list[int]]] = []
    prompts: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: invalid JSON ({error.msg}, column {error.colno})")
                continue
            row_problems = _record_problems(record, vocabulary, world.max_response_tokens)
            if not row_problems:
                ids = _encode_record(record, world, tokenizer)
                longest = len(ids[0]) + max(len(ids[1]), len(ids[2]))
                if longest > max_sequence_tokens:
                    row_problems.append(
                        f"prompt and response take {longest} tokens; the model reads at most "
                        f"{max_sequence_tokens}"
                    )
            if row_problems:
                problems.extend(f"{where}: {problem}" for problem in row_problems)
                continue
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
        raise PreferenceDataError(f"{path}: no preference rows (the file is empty)")
    batch = preference_batch(*zip(*rows, strict=True), pad_id=world.eos_id)
    return PreferenceRecords(path, tuple(prompts), batch)


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


if __name__ == "__main__":  # python -m lab.preference_data: rewrite the example file
    write_jsonl(EXAMPLE_FILE, example_records(TokenWorld(), EXAMPLE_ROWS, EXAMPLE_SEED))
    print(f"wrote {EXAMPLE_ROWS} rows to {EXAMPLE_FILE}")

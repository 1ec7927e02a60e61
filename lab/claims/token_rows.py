"""The rows the sequence claims read (``step7_sequences``, ``step7_reference_start``): prompts and
responses of the token world right-padded into one batch, a small random causal LM's logits from
one forward pass, and the same model run prefix by prefix: the chain rule, position by position.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lab.claims.fixtures import TinyCausalLM
from lab.claims.named import Binding, Function, Named, Table
from lab.data.batches import SequenceBatch, collate
from lab.worlds.tokens import TokenWorld

SEED = 7
FLOAT64_TOLERANCE = 1e-10
EXTRA_PADDING = 3
WORLD = TokenWorld()
VOCABULARY = len(WORLD.vocabulary)
CHUNK = 5 * VOCABULARY  # five positions a chunk: 72 positions are 14 chunks and 2 left over


@dataclass(frozen=True)
class Rows:
    """What the sequence claims read: random prompts and responses right-padded to T tokens, the
    model's logits from one forward pass, and log softmax of the last position of each prefix
    s_1 … s_{t−1} computed on its own (t = 2 … T). Shapes: logits (B, T, V); prefix (B, T − 1, V).
    """

    batch: SequenceBatch
    prompt_lengths: torch.Tensor
    response_lengths: torch.Tensor
    logits: torch.Tensor
    prefix: torch.Tensor


def random_model(seed: int = SEED) -> TinyCausalLM:
    """A random causal LM over the token world's vocabulary (any model must satisfy these
    identities)."""
    return TinyCausalLM(VOCABULARY, seed)


@functools.cache
def rows_of(extra_padding: int = 0, count: int = 8) -> Rows:
    """Prompts of 1–5 tokens and responses of 1–4 (ending in EOS or not), seeded."""
    generator = torch.Generator().manual_seed(SEED)

    def tokens(low: int, high: int) -> list[int]:
        length = int(torch.randint(low, high + 1, (1,), generator=generator))
        return torch.randint(VOCABULARY, (length,), generator=generator).tolist()

    prompts = [tokens(1, 5) for _ in range(count)]
    responses = [tokens(1, 4) for _ in range(count)]
    longest = max(len(p) + len(r) for p, r in zip(prompts, responses, strict=True))
    batch = collate(prompts, responses, WORLD.eos_id, longest + extra_padding)
    model = random_model()
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        prefix = torch.stack(
            [
                torch.stack(
                    [
                        torch.log_softmax(model(input_ids=row[None, :t]).logits[0, -1], dim=-1)
                        for t in range(1, len(row))
                    ]
                )
                for row in batch.input_ids
            ]
        )
    lengths = (torch.tensor([len(p) for p in prompts]), torch.tensor([len(r) for r in responses]))
    return Rows(batch, *lengths, logits, prefix)


def positions(rows: Rows, values: dict[str, object]) -> Binding:
    """Rows b and positions t = 2 … T; s_t the token at t, s_<t the prefix before it (by
    position), x and y the row's prompt and response, their lengths, softmax over tokens."""
    length = rows.batch.input_ids.shape[1]
    row = Named(torch.arange(len(rows.batch)), ("b",))
    base = {
        "s_{t}": Named(rows.batch.input_ids[:, 1:], ("b", "t")),
        "s_{<t}": Named(torch.arange(2, length + 1), ("t",)),
        "x": row,
        "y": row,
        "|x|": Named(rows.prompt_lengths, ("b",)),
        "|y|": Named(rows.response_lengths, ("b",)),
        "softmax": Function(
            lambda logits: Named(
                torch.softmax(logits.to_dims(_with_v(logits)), -1), _with_v(logits)
            )
        ),
    }
    return Binding(
        {"t": range(2, length + 1)}, {**base, **values}, tolerance=FLOAT64_TOLERANCE, relative=False
    )


def _with_v(value: Named) -> tuple[str, ...]:
    return (*(d for d in value.dims if d != "v"), "v")


def token_table(log_probs: torch.Tensor) -> Table:
    """π(s_t | s_<t) from log-probabilities over (b, t = 2 …, v)."""
    return Table(Named(log_probs.exp(), ("b", "t", "v")), ("v", "t"), {"t": 2})


def of_position(per_token: torch.Tensor) -> Function:
    """π(s_t | s_<t) given as the probability of each row's own token at each position t = 2 …:
    the prefix argument picks the position (the token is the row's own)."""
    table = Table(Named(per_token.exp(), ("b", "t")), ("t",), {"t": 2})
    return Function(lambda token, prefix: table(prefix))


def sequence_binding(rows: Rows, score: Callable) -> Binding:
    """π(y | x) from ``score`` over one pass; π(s_t | s_<t) from the prefixes."""
    batch = rows.batch
    logps = score(rows.logits, batch.input_ids, batch.completion_mask)
    tokens = token_table(rows.prefix)

    def pi_theta(outcome: Named, *given: Named) -> Named:
        if given and given[-1].dims == ("t",):  # π(s_t | s_<t)
            return tokens(outcome, given[-1])
        return Named(logps.exp(), ("b",))  # π(y | x), row by row

    return positions(rows, {"pi_{theta}": Function(pi_theta)})

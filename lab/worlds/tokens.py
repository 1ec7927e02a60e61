"""A world of token sequences small enough that every response can be listed.

The tabular lab treats responses as atoms; a language model builds them token by token. This world
is the smallest one where that matters and everything can still be computed exactly: seven tokens
(the digits 2–5, "+", "=" and an end-of-sequence token), prompts that are sums ("2 + 2 ="), and
responses of at most ``max_response_tokens`` tokens. A response ends with EOS, or stops without it
when it reaches the maximum length — as ``generate(max_new_tokens=…)`` does — so that the responses
listed by ``enumerate_responses`` are every outcome of sampling, and their probabilities sum to one
(claim ``step7.sequences_sum_to_one``).

The reward is pedagogical: it prefers responses that state the right answer (and no other number),
and short ones. The supervised examples that make π_ref (``lab.training.policies``) are SFT-like:
mostly right, sometimes the "2 2" slip, sometimes wrong, sometimes wordy.

The tokenizer is built here, locally, with the ``tokenizers`` library: no download, ever.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit

EOS = "<eos>"
DIGITS = ("2", "3", "4", "5")


@dataclass(frozen=True)
class TokenWorld:
    """Prompts, their answers, the response length limit, the reward and the SFT examples.

    ``sft_examples[prompt]`` maps a response (words separated by spaces) to how many times it
    appears in the supervised warm-up data.
    """

    prompts: tuple[str, ...] = ("2 + 2 =", "2 + 3 =")
    answers: tuple[str, ...] = ("4", "5")
    content_tokens: tuple[str, ...] = (*DIGITS, "+", "=")
    max_response_tokens: int = 3
    correct_bonus: float = 2.0
    length_penalty: float = 0.5
    sft_examples: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            "2 + 2 =": {"4": 5, "2 2": 2, "5": 2, "= 4": 1},
            "2 + 3 =": {"5": 4, "2 3": 3, "4": 2, "= 5": 1},
        }
    )

    def __post_init__(self) -> None:
        if len(self.prompts) != len(self.answers):
            raise ValueError(f"{len(self.prompts)} prompts but {len(self.answers)} answers")
        if self.max_response_tokens < 1:
            raise ValueError(f"max_response_tokens must be ≥ 1, got {self.max_response_tokens}")
        known = set(self.content_tokens)
        for prompt, examples in self.sft_examples.items():
            for text in (prompt, *examples):
                unknown = set(text.split()) - known
                if unknown:
                    raise ValueError(f"{text!r} uses tokens outside the vocabulary: {unknown}")
                if text in examples and len(text.split()) > self.max_response_tokens:
                    raise ValueError(f"example response {text!r} is longer than the limit")

    @property
    def vocabulary(self) -> dict[str, int]:
        """Token → id. EOS is id 0 and doubles as padding (padded positions are masked out)."""
        return {EOS: 0} | {token: i + 1 for i, token in enumerate(self.content_tokens)}

    @property
    def eos_id(self) -> int:
        return self.vocabulary[EOS]

    def reward(self, prompt: str, response: str) -> float:
        """r(x, y) = bonus·[y states x's answer and no other number] − penalty·(tokens in y).

        "4" scores 2 − 0.5 = 1.5 on "2 + 2 =", "= 4" scores 1.0, the empty response 0,
        "5" −0.5 and "2 2" −1.0.
        """
        answer = self.answers[self.prompts.index(prompt)]
        tokens = response.split()
        numbers = [token for token in tokens if token in DIGITS]
        correct = bool(numbers) and all(number == answer for number in numbers)
        return self.correct_bonus * correct - self.length_penalty * len(tokens)


def build_tokenizer(world: TokenWorld) -> Tokenizer:
    """A word-level tokenizer over the world's vocabulary, built locally.

    Words are split on whitespace. Unknown words would map to EOS, so callers that take text from
    outside (``lab.data.jsonl``) check every word against the vocabulary first.
    """
    tokenizer = Tokenizer(WordLevel(world.vocabulary, unk_token=EOS))
    tokenizer.pre_tokenizer = WhitespaceSplit()
    return tokenizer


def response_text(tokenizer: Tokenizer, response_ids: tuple[int, ...] | list[int]) -> str:
    """The words of a response, without its EOS: (3, 0) → "4"; (0,) → "" (the empty response)."""
    eos_id = tokenizer.token_to_id(EOS)
    return " ".join(tokenizer.id_to_token(i) for i in response_ids if i != eos_id)


def encode_response(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[int]:
    """A response's token ids as the model emits them: its words, then EOS unless the response
    has reached ``max_tokens`` (where sampling stops without one). "4" → [3, 0]."""
    ids = tokenizer.encode(text).ids
    if len(ids) > max_tokens:
        raise ValueError(f"response {text!r} has {len(ids)} tokens; the limit is {max_tokens}")
    return [*ids, tokenizer.token_to_id(EOS)] if len(ids) < max_tokens else ids


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


def response_space(world: TokenWorld, tokenizer: Tokenizer) -> list[tuple[int, ...]]:
    """Every response of the world (``enumerate_responses`` over its vocabulary)."""
    content_ids = [tokenizer.token_to_id(token) for token in world.content_tokens]
    return enumerate_responses(content_ids, world.eos_id, world.max_response_tokens)

"""Beyond the five steps — sequence log-probs in practice, checked against the chain rule.

DPO's log π(y | x) is, for a language model, a sum of token log-probs read off one forward pass
(``lab.core.sequences``). Each claim reads its TeX over token positions (t = 2 … T: the first
token has no logits before it) and compares the lab's one-pass computation with an independent
one: the chain rule evaluated prefix by prefix — one forward pass per prefix s_<t, reading only
the last position — on a small random causal LM in float64 (``fixtures.TinyCausalLM``). The lab
computes in chunks that do not divide the rows, so a chunk boundary is crossed. The refutations
are the classic bugs: the prompt left unmasked, no shift, padding counted, the mean for the sum,
the EOS term dropped, the backward pass's sign, π_θ not started from π_ref.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.claims.named import Binding, Derived, Function, Named, Table
from lab.claims.reading import joined, policy, tex_evidence
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.claims.token_rows import (
    CHUNK,
    EXTRA_PADDING,
    FLOAT64_TOLERANCE,
    SEED,
    VOCABULARY,
    WORLD,
    of_position,
    positions,
    random_model,
    rows_of,
    sequence_binding,
)
from lab.core.sequences import (
    next_token_logprobs,
    plain_sequence_logprobs,
    sequence_logprobs,
    token_logprobs,
)
from lab.data.batches import completion_mask, enumerated_logprobs
from lab.worlds.tokens import build_tokenizer, enumerate_responses


def _check_prompt_masked(reading: Node, score: Callable) -> Evidence:
    """log π(y | x) from one pass, scored by ``score``, against the sum on screen: the chain rule
    over the response's positions, prefix by prefix."""
    return tex_evidence(reading, [sequence_binding(rows_of(), score)])


def _lab_sequence_logprobs(logits, input_ids, mask):
    return sequence_logprobs(logits, input_ids, mask, chunk_elements=CHUNK)


def _prompt_unmasked(logits, input_ids, mask):
    """Wrong: every token up to the response's end counts, the prompt's included."""
    positions = torch.arange(mask.shape[1])
    end = (mask * (positions + 1)).max(dim=1, keepdim=True).values
    return _lab_sequence_logprobs(logits, input_ids, (positions >= 1) & (positions < end))


def _check_shift(reading: Node, next_token: Callable) -> Evidence:
    """Each token's log-probability as ``next_token`` computes it against the prefix method, and
    the equation on screen: it is log softmax of the logits at t − 1, at the token s_t."""
    rows = rows_of()
    per_token = next_token(rows.logits, rows.batch.input_ids, CHUNK)
    truth = rows.prefix.gather(-1, rows.batch.input_ids[:, 1:, None]).squeeze(-1)
    real = rows.batch.attention_mask[:, 1:].bool()  # padding is masked in one pass, not in a prefix
    error = (per_token - truth)[real].abs().max().item()
    lab = Evidence(
        {"max_abs_error": error}, FLOAT64_TOLERANCE, error <= FLOAT64_TOLERANCE,
        note="per-token log-probs from one pass vs prefix by prefix",
    )  # fmt: skip
    values = {
        "pi_{theta}": of_position(per_token),
        "ell_{t-1}": Named(rows.logits[:, :-1], ("b", "t", "v")),
    }
    return joined(lab, tex_evidence(reading, [positions(rows, values)]))


def _not_shifted(logits, input_ids, chunk_elements):
    """Wrong: the logits at t score the token at t."""
    return token_logprobs(logits, input_ids, chunk_elements)[:, 1:]


def _check_padding(reading: Node, mask_builder: Callable) -> Evidence:
    """The rows padded by EXTRA_PADDING more positions, the mask built by ``mask_builder``: the
    log-probs must not move, and the two sums on screen (to T + k, and to T) agree."""
    results = []
    for extra in (0, EXTRA_PADDING):
        rows = rows_of(extra)
        mask = mask_builder(
            rows.prompt_lengths,
            rows.prompt_lengths + rows.response_lengths,
            rows.batch.input_ids.shape[1],
        )
        results.append(_lab_sequence_logprobs(rows.logits, rows.batch.input_ids, mask))
    change = (results[0] - results[1]).abs().max().item()
    lab = Evidence(
        {"max_abs_change": change, "extra_padding": float(EXTRA_PADDING)},
        FLOAT64_TOLERANCE, change <= FLOAT64_TOLERANCE,
        note="log π(y | x) with and without extra padding",
    )  # fmt: skip
    per_token = next_token_logprobs(rows.logits, rows.batch.input_ids, CHUNK)
    values = {
        "pi_{theta}": of_position(per_token),
        "m_{t}": Named(mask[:, 1:].to(torch.float64), ("b", "t")),
        "T": Named(torch.tensor(float(rows.batch.input_ids.shape[1] - EXTRA_PADDING))),
        "k": Named(torch.tensor(float(EXTRA_PADDING))),
    }
    return joined(lab, tex_evidence(reading, [positions(rows, values)]))


def _mask_through_padding(prompt_lengths, sequence_lengths, length):
    """Wrong: "everything after the prompt is the response", padding included."""
    return completion_mask(prompt_lengths, torch.full_like(sequence_lengths, length), length)


def _check_chain_rule(reading: Node, score: Callable) -> Evidence:
    """exp(score) of one pass against the product of the token probabilities, prefix by prefix;
    and the identity on screen over the response's positions, y_t = s_{|x| + t}."""
    rows = rows_of()
    batch = rows.batch
    got = score(rows.logits, batch.input_ids, batch.completion_mask)
    within = (
        torch.arange(batch.input_ids.shape[1] - 1)
        < (rows.prompt_lengths + rows.response_lengths - 1)[:, None]
    )
    response = batch.completion_mask[:, 1:].bool() & within
    truth = rows.prefix.gather(-1, batch.input_ids[:, 1:, None]).squeeze(-1)
    want = torch.where(response, truth, 0.0).sum(-1)
    error = ((got.exp() - want.exp()).abs() / want.exp()).max().item()
    lab = Evidence(
        {"max_relative_error": error}, FLOAT64_TOLERANCE, error <= FLOAT64_TOLERANCE,
        note="exp of one-pass log π(y | x) vs the product of the prefix probabilities",
    )  # fmt: skip
    longest = int(rows.response_lengths.max())
    seq_position = rows.prompt_lengths[:, None] + torch.arange(1, longest + 1)  # |x| + t
    index = (seq_position - 2).clamp(max=rows.prefix.shape[1] - 1)
    prefix = rows.prefix.gather(1, index[:, :, None].expand(-1, -1, VOCABULARY))
    tokens = batch.input_ids.gather(1, (seq_position - 1).clamp(max=batch.input_ids.shape[1] - 1))
    table = Table(Named(prefix.exp(), ("b", "t", "v")), ("v", "b", "t"), {"t": 1})
    binding = Binding(
        {"t": range(1, longest + 1)},
        {
            "pi_{theta}": table,
            "y_{t}": Named(tokens, ("b", "t")),
            "y_{<t}": Named(torch.arange(1, longest + 1), ("t",)),
            "x": Named(torch.arange(len(batch)), ("b",)),
            "|y|": Named(rows.response_lengths, ("b",)),
        },
        tolerance=1e-12,
    )
    return joined(lab, tex_evidence(reading, [binding]))


def _mean_not_sum(logits, input_ids, mask):
    """Wrong: the mean of the token log-probs, not their sum."""
    return sequence_logprobs(logits, input_ids, mask, average_log_prob=True, chunk_elements=CHUNK)


def _check_sum_to_one(reading: Node, list_responses: Callable) -> Evidence:
    """Σ_y π(y | x) over ``list_responses(content_ids, eos_id, max_tokens)``, read from the TeX, for
    two random models and both prompts of the world: every sum must be 1."""
    tokenizer = build_tokenizer(WORLD)
    content_ids = [tokenizer.token_to_id(token) for token in WORLD.content_tokens]
    responses = list_responses(content_ids, WORLD.eos_id, WORLD.max_response_tokens)
    prompts = [tokenizer.encode(prompt).ids for prompt in WORLD.prompts]
    bindings = []
    for seed in (SEED, SEED + 1):
        with torch.no_grad():
            logps = enumerated_logprobs(random_model(seed), prompts, responses, WORLD.eos_id)
        values = {
            "pi_{theta}": policy(logps.exp()),
            "mathcal Y": Named(torch.arange(len(responses)), ("y",)),
        }
        bindings.append(Binding({"x": len(prompts)}, values, tolerance=FLOAT64_TOLERANCE))
    lab = Evidence({"responses": float(len(responses))}, FLOAT64_TOLERANCE, True, note="")
    return joined(tex_evidence(reading, bindings), lab)


def _responses_without_eos(content_ids, eos_id, max_tokens):
    """Wrong: the same responses, their EOS term dropped."""
    return [
        tuple(t for t in response if t != eos_id)
        for response in enumerate_responses(content_ids, eos_id, max_tokens)
    ]


def _check_chunked_gradient(reading: Node, score: Callable) -> Evidence:
    """``score`` against the plain log-softmax + gather on random logits, values and gradients,
    in chunks that do not divide the rows; and the gradient on screen, by autograd through
    ``score``, at every position of every row of the batch."""
    generator = torch.Generator().manual_seed(SEED)
    logits = 4 * torch.randn(5, 17, 300, generator=generator, dtype=torch.float64)
    ids = torch.randint(300, (5, 17), generator=generator)
    mask = completion_mask(torch.tensor([1, 3, 5, 2, 4]), torch.tensor([9, 17, 12, 6, 15]), 17)
    ours, plain = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
    value, want = score(ours, ids, mask), plain_sequence_logprobs(plain, ids, mask)
    value.sum().backward()
    want.sum().backward()
    values_error = (value - want).abs().max().item()
    gradient_error = (ours.grad - plain.grad).abs().max().item() if ours.grad is not None else 1.0
    lab = Evidence(
        {"max_abs_gradient_error": gradient_error, "max_abs_value_error": values_error},
        FLOAT64_TOLERANCE, max(values_error, gradient_error) <= FLOAT64_TOLERANCE,
        note="chunked vs plain log-softmax + gather: 85 positions, 3 a chunk",
    )  # fmt: skip
    rows = rows_of()
    batch = rows.batch

    def pi_theta(binding: Binding) -> Function:
        shifted = binding.lookup("ell_{t-1}").values
        full = torch.cat([shifted, rows.logits[:, -1:]], dim=1)
        logps = score(full, batch.input_ids, batch.completion_mask)
        return Function(lambda *arguments: Named(logps.exp(), ("b",)))

    values = {
        "ell_{t-1}": Named(rows.logits[:, :-1], ("b", "t", "v")),
        "pi_{theta}": Derived(pi_theta),
        "m_{t}": Named(batch.completion_mask[:, 1:].to(torch.float64), ("b", "t")),
        "e_{s_t}": Named(
            torch.nn.functional.one_hot(batch.input_ids[:, 1:], VOCABULARY).double(),
            ("b", "t", "v"),
        ),
    }
    return joined(lab, tex_evidence(reading, [positions(rows, values)]))


def _backward_sign_flipped(logits, input_ids, mask):
    """Wrong: the right values with the gradient's sign flipped (a bug in a custom backward)."""
    value = _lab_sequence_logprobs(logits, input_ids, mask)
    return 2 * value.detach() - value


CLAIMS = (
    Claim(
        id="step7.prompt_masked",
        step=7,
        tex=r"\log \pi_\theta(y \mid x) "
        r"= \sum_{t=|x|+1}^{|x|+|y|} \log \pi_\theta(s_t \mid s_{<t})",
        says="Only response tokens are scored: the prompt is conditioned on, never counted.",
        check=lambda tex: _check_prompt_masked(tex, _lab_sequence_logprobs),
        refute=lambda tex: _check_prompt_masked(tex, _prompt_unmasked),
    ),
    Claim(
        id="step7.shift",
        step=7,
        tex=r"\log \pi_\theta(s_t \mid s_{<t}) = \log \operatorname{softmax}(\ell_{t-1})_{s_t}",
        says="The logits at position t − 1 score the token at position t.",
        check=lambda tex: _check_shift(tex, next_token_logprobs),
        refute=lambda tex: _check_shift(tex, _not_shifted),
    ),
    Claim(
        id="step7.padding_invariant",
        step=7,
        tex=r"\sum_{t=1}^{T+k} m_t \log \pi_\theta(s_t \mid s_{<t}) "
        r"= \sum_{t=1}^{T} m_t \log \pi_\theta(s_t \mid s_{<t})",
        says="Extra right-padding changes no sequence log-prob: padded positions have mask 0.",
        check=lambda tex: _check_padding(tex, completion_mask),
        refute=lambda tex: _check_padding(tex, _mask_through_padding),
    ),
    Claim(
        id="step7.chain_rule",
        step=7,
        tex=r"\sum_{t=1}^{|y|} \log \pi_\theta(y_t \mid x, y_{<t}) "
        r"= \log \prod_{t=1}^{|y|} \pi_\theta(y_t \mid x, y_{<t})",
        says="Summing token log-probs gives the log of the chain-rule product; a mean would not.",
        check=lambda tex: _check_chain_rule(tex, _lab_sequence_logprobs),
        refute=lambda tex: _check_chain_rule(tex, _mean_not_sum),
    ),
    Claim(
        id="step7.sequences_sum_to_one",
        step=7,
        tex=r"\sum_{y \in \mathcal{Y}} \pi_\theta(y \mid x) = 1",
        says="Over every response a sampler can produce, ended by EOS or by the length limit, "
        "the sequence probabilities sum to one.",
        check=lambda tex: _check_sum_to_one(tex, enumerate_responses),
        refute=lambda tex: _check_sum_to_one(tex, _responses_without_eos),
    ),
    Claim(
        id="step7.chunked_gradient",
        step=7,
        tex=r"\nabla_{\ell_{t-1}} \log \pi_\theta(y \mid x) = m_t \big(e_{s_t} - "
        r"\operatorname{softmax}(\ell_{t-1})\big)",
        says="Each position's logits get the gradient of its response token's log-probability: "
        "the token's indicator minus the softmax, where the mask counts it.",
        check=lambda tex: _check_chunked_gradient(tex, _lab_sequence_logprobs),
        refute=lambda tex: _check_chunked_gradient(tex, _backward_sign_flipped),
    ),
)

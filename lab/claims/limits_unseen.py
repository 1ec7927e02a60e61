"""Beyond the five steps — where DPO breaks: mass on responses that no pair compared.

N pairs drawn from π_ref compare only the responses π_ref says often; the pairs' "beat" graph is
not strongly connected, so the Bradley–Terry MLE does not exist and the loss pins down nothing
about the rest. A language model shares its parameters between responses: raising "4" raises
"4 4" with it, and π_θ ends with more mass on the responses in no pair than π_ref had. The claim
reads the sum over y ∉ 𝒟 (𝒟: the responses in some pair, per prompt) from its TeX.

The check trains a small causal LM (``fixtures.TinyCausalLM``: embeddings, one attention layer,
a head; float64) the way the experiment trains the tiny GPT-2 — a supervised warm-up on the
token world's examples makes π_ref, then DPO on N pairs drawn from it — because importing
transformers would cost more than every check together (tests/test_architecture.py); the
experiment's GPT-2 run is held to the same TeX in tests/test_experiment_unseen_mass.py. The
refutation is the misunderstanding "DPO never moves what it never saw": a table, one free logit
per response, trained on the same pairs from the same π_ref. There an unseen response gets no
gradient, its logit stays, and its mass falls as the winners rise: the claim fails on it.

The effect is a fact of the model, not a theorem: seed by seed it is measured, not assumed
(the seed below puts more mass on the unseen responses of both prompts; seed 1 does not for the
first prompt, on this small model).
"""

from __future__ import annotations

import functools

import torch

from lab.claims.fixtures import TinyCausalLM
from lab.claims.named import Binding, Named, Table
from lab.claims.reading import joined, policy, symbols, tex_evidence
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.data.batches import batch_logprobs, collate, enumerated_preference_batch
from lab.data.enumerated import EnumeratedWorld, enumerate_world, policy_probs, world_pair_weights
from lab.data.pairs import compared_responses, mle_exists
from lab.training.devices import single_cpu_thread
from lab.training.tabular import TabularConfig, train_tabular
from lab.training.transformer import TransformerConfig, start_policy, train_transformer
from lab.worlds.tokens import TokenWorld, build_tokenizer, encode_response

BETA = 0.5  # the transformer's
N_PAIRS = 1000  # drawn from π_ref, as in the experiment
SEED = 0  # draws the pairs and labels
WARMUP_STEPS = 150  # supervised steps that make π_ref, at the GPT-2's warm-up learning rate
WARMUP_LEARNING_RATE = 3e-3
STEPS = 300  # DPO's Adam steps (the tabular refutation takes as many)
TOLERANCE = 1e-9


@functools.cache
def reference_and_world() -> tuple[TinyCausalLM, EnumeratedWorld]:
    """π_ref: a seeded TinyCausalLM after a supervised warm-up on the token world's examples
    (each prompt weighing the same), frozen; and the world enumerated under it. One CPU thread:
    tiny tensors, where a second thread only waits for the first."""
    with single_cpu_thread():
        return _warmed_up()


def _warmed_up() -> tuple[TinyCausalLM, EnumeratedWorld]:
    world = TokenWorld()
    tokenizer = build_tokenizer(world)
    prompts = len(world.sft_examples)
    rows = [
        (tokenizer.encode(prompt).ids, text, count / sum(examples.values()) / prompts)
        for prompt, examples in world.sft_examples.items()
        for text, count in examples.items()
    ]
    batch = collate(
        [prompt for prompt, _, _ in rows],
        [encode_response(tokenizer, text, world.max_response_tokens) for _, text, _ in rows],
        world.eos_id,
    )
    weights = torch.tensor([weight for _, _, weight in rows], dtype=torch.float64)
    model = TinyCausalLM(len(world.vocabulary), seed=0)
    optimiser = torch.optim.Adam(model.parameters(), lr=WARMUP_LEARNING_RATE)
    for _ in range(WARMUP_STEPS):
        loss = -(weights * batch_logprobs(model, batch)).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model = model.eval().requires_grad_(False)
    return model, enumerate_world(world, tokenizer, model, BETA)


@functools.cache
def pairs_from_reference() -> torch.Tensor:
    """The N pairs' weights over the enumerated world. Shape: (prompts, n, n)"""
    return world_pair_weights(reference_and_world()[1], "reference", N_PAIRS, SEED)


@functools.cache
def trained_model() -> torch.Tensor:
    """π_θ of the causal LM after DPO on the pairs, over every response. Shape: (prompts, n)"""
    reference, enumerated = reference_and_world()
    batch = enumerated_preference_batch(enumerated.space, pairs_from_reference())
    model = start_policy(reference)
    settings = TransformerConfig(beta=BETA, steps=STEPS, device="cpu")
    train_transformer(model, batch.with_reference(reference), settings, SEED, progress=False)
    return policy_probs(model, enumerated)


@functools.cache
def _trained_table() -> torch.Tensor:
    """Wrong: π_θ a table, one free logit per response, trained on the same pairs."""
    pi_ref = reference_and_world()[1].pi_ref
    settings = TabularConfig(steps=STEPS, device="cpu")
    with single_cpu_thread():
        return train_tabular(pi_ref, pairs_from_reference(), BETA, settings).policy


def unseen_binding(
    pi_theta: torch.Tensor, pi_ref: torch.Tensor, seen: torch.Tensor, label: str
) -> Binding:
    """π_θ and π_ref over every response (prompts, n); 𝒟 the responses in some pair, per prompt,
    as an indicator called with y (``seen``: (prompts, n) bool)."""
    values = {
        r"\pi_\theta": policy(pi_theta),
        r"\pi_{\mathrm{ref}}": policy(pi_ref),
        r"\mathcal{D}": Table(Named(seen.to(torch.float64), ("x", "y")), ("y",)),
    }
    variables = {"x": pi_ref.shape[0], "y": pi_ref.shape[1]}
    return Binding(variables, symbols(values), tolerance=TOLERANCE, relative=False, label=label)


def _check_unseen_mass(reading: Node, trained) -> Evidence:
    """The pairs leave the MLE undefined on every prompt and most responses in no pair; the TeX
    on screen evaluated with ``trained()``'s π_θ, π_ref and 𝒟 = the responses in the pairs."""
    pi_ref = reference_and_world()[1].pi_ref
    weights = pairs_from_reference()
    seen = compared_responses(weights)
    pi_theta = trained()
    gain = (pi_theta * ~seen).sum(-1) - (pi_ref * ~seen).sum(-1)
    exists = bool(mle_exists(weights).any())
    lab = Evidence(
        {  # the first is the headline the course page shows
            "unseen_mass_gain_min": gain.min().item(),
            "mle_exists": float(exists),
            "unseen_responses_min": float((~seen).sum(-1).min()),
            "unseen_mass_pi_ref_max": (pi_ref * ~seen).sum(-1).max().item(),
        },
        0.0,
        not exists,
        note=f"{N_PAIRS} pairs from π_ref (seed {SEED}): the Bradley–Terry MLE does not exist",
    )
    binding = unseen_binding(pi_theta, pi_ref, seen, f"N = {N_PAIRS}, {STEPS} steps")
    return joined(lab, tex_evidence(reading, [binding]))


CLAIMS = (
    Claim(
        id="limits.unseen_mass",
        step=8,
        tex=r"\sum_{y \notin \mathcal{D}} \pi_\theta(y \mid x) \ge "
        r"\sum_{y \notin \mathcal{D}} \pi_{\mathrm{ref}}(y \mid x)",
        says="Responses that no pair compared end up with more probability than the reference "
        "gave them: nothing in the loss holds them down.",
        check=lambda tex: _check_unseen_mass(tex, trained_model),
        refute=lambda tex: _check_unseen_mass(tex, _trained_table),
    ),
)

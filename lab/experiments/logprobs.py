"""The log-probs chapter's experiment: one preference pair of the token world, token by token,
under π_ref and under the π_θ that DPO trained (the lab's population run on the tiny GPT-2).

For a causal LM, log π(y | x) is read off one forward pass over s = x ∘ y: the logits at position
t − 1 score the token s_t (the shift), only response tokens count (the completion mask; the prompt
is conditioned on, never scored), and the token log-probs are summed (the chain rule). For the
pair's chosen and rejected response, under both models, the experiment records every token, the
mask, each token's log-probability from the one pass, and the sum; it also recomputes each
response token's log-probability prefix by prefix (one forward pass per prefix, reading only the
last position) to measure the one-pass shortcut against the chain rule. The four sums are the
four log-probs DPO's loss takes; the loss and the implicit rewards follow from them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from lab.core.dpo import dpo_loss
from lab.core.sequences import next_token_logprobs, sequence_logprobs
from lab.data.batches import collate
from lab.experiments import ExperimentFailed
from lab.training.transformer import TransformerConfig
from lab.training.transformer_runs import transformer_experiment
from lab.worlds.tokens import EOS, TokenWorld, build_tokenizer, encode_response

CHAIN_RULE_TOLERANCE = 1e-5  # float32 logits: one pass and the prefixes round differently


@dataclass(frozen=True)
class LogprobsConfig:
    prompt: str = "2 + 2 ="
    chosen: str = "4"
    rejected: str = "2 2"  # the supervised data's slip

    def check(self, world: TokenWorld) -> None:
        """Raises ValueError naming the field: an unknown prompt, a word outside the vocabulary,
        a response too long, or the same response twice."""
        if self.prompt not in world.prompts:
            raise ValueError(f"prompt must be one of {world.prompts}, got {self.prompt!r}")
        for name in ("chosen", "rejected"):
            words = getattr(self, name).split()
            unknown = sorted(set(words) - set(world.content_tokens))
            if unknown:
                raise ValueError(
                    f"{name} has words outside the vocabulary {world.content_tokens}: {unknown}"
                )
            if len(words) > world.max_response_tokens:
                raise ValueError(
                    f"{name} has {len(words)} tokens; responses have at most "
                    f"{world.max_response_tokens}"
                )
        if self.chosen.split() == self.rejected.split():
            raise ValueError(f"rejected must differ from chosen, both are {self.chosen!r}")


@dataclass(frozen=True)
class ScoredSequence:
    """One response after its prompt, s = x ∘ y, scored by one model. ``token_logps[t]`` is
    log π(s_t | s_<t) for t ≥ 1 (None at t = 0: no logits come before it); ``mask[t]`` is 1 on
    the response's tokens; ``total`` is the masked sum, log π(y | x)."""

    tokens: list[str]
    mask: list[int]
    token_logps: list[float | None]
    total: float


@dataclass(frozen=True)
class LogprobsRun:
    config: LogprobsConfig
    beta: float
    scored: dict[str, ScoredSequence]  # policy_chosen, policy_rejected, reference_…
    chain_rule_error: float  # max |one pass − prefix by prefix| over the response tokens
    loss: float  # the pair's DPO loss from the four log-probs
    chosen_reward: float  # β log π_θ(y_w | x)/π_ref(y_w | x)
    rejected_reward: float
    device: str
    seconds: float  # the whole experiment, π_ref's warm-up and the training included when run here

    def four(self) -> dict[str, float]:
        """The four log-probs DPO's loss takes, by the names of ``dpo_loss``'s arguments."""
        return {name: scored.total for name, scored in self.scored.items()}

    def summary(self) -> dict[str, float]:
        return {
            **{f"log {name}": value for name, value in self.four().items()},
            "DPO loss": self.loss,
            "chosen reward": self.chosen_reward,
            "rejected reward": self.rejected_reward,
            "chain-rule error": self.chain_rule_error,
            "seconds": self.seconds,
        }

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> LogprobsRun:
        """The run ``as_dict`` wrote (a cache entry, logprobs.json); a missing or unknown key is a
        TypeError."""
        record = dict(record)
        config = LogprobsConfig(**record.pop("config"))
        scored = {name: ScoredSequence(**s) for name, s in record.pop("scored").items()}
        return cls(config=config, scored=scored, **record)


def _score(model: torch.nn.Module, prompt_ids: list[int], response_ids: list[int], names):
    """The one-pass token log-probs and sum, and the prefix-by-prefix log-probs of the response
    tokens (the chain rule's factors, each from its own forward pass)."""
    batch = collate([prompt_ids], [response_ids], pad_id=0)
    device = next(model.parameters()).device
    ids = batch.input_ids.to(device)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=batch.attention_mask.to(device)).logits
        logits = logits.double()
        per_token = next_token_logprobs(logits, ids)[0].tolist()
        total = sequence_logprobs(logits, ids, batch.completion_mask.to(device)).item()
        prefixes = [
            model(input_ids=ids[:, :t], attention_mask=torch.ones_like(ids[:, :t]))
            .logits[0, -1]
            .double()
            .log_softmax(-1)[ids[0, t]]
            .item()
            for t in range(len(prompt_ids), ids.shape[1])
        ]
    scored = ScoredSequence(
        tokens=[names[i] for i in ids[0].tolist()],
        mask=batch.completion_mask[0].tolist(),
        token_logps=[None, *per_token],
        total=total,
    )
    one_pass = per_token[len(prompt_ids) - 1 :]  # the response tokens' entries
    return scored, max(abs(a - b) for a, b in zip(one_pass, prefixes, strict=True))


def logprobs_experiment(
    config: LogprobsConfig = LogprobsConfig(),
    training: TransformerConfig = TransformerConfig(),
    world: TokenWorld | None = None,
    experiment=None,
) -> LogprobsRun:
    """Score the pair under π_ref and the population run's π_θ (trained here, or taken from
    ``experiment``, a ``transformer_experiment`` of ``training`` already run). Raises
    ExperimentFailed when the one-pass log-probs do not match the chain rule."""
    world = world or TokenWorld()
    config.check(world)
    started = time.perf_counter()
    if experiment is None:
        experiment = transformer_experiment(training, progress=False, world=world)
    tokenizer = build_tokenizer(world)
    names = {i: token for token, i in world.vocabulary.items()} | {world.eos_id: EOS}
    prompt_ids = tokenizer.encode(config.prompt).ids
    models = {"policy": experiment.trained[0], "reference": experiment.reference}
    scored, errors = {}, []
    for model_name, model in models.items():
        for side in ("chosen", "rejected"):
            response = encode_response(tokenizer, getattr(config, side), world.max_response_tokens)
            scored[f"{model_name}_{side}"], error = _score(model, prompt_ids, response, names)
            errors.append(error)
    if not max(errors) <= CHAIN_RULE_TOLERANCE:
        raise ExperimentFailed(
            f"one pass and the chain rule disagree by {max(errors):.3g} "
            f"(more than {CHAIN_RULE_TOLERANCE:g}): the log-probs are not the model's"
        )
    four = [torch.tensor([scored[name].total], dtype=torch.float64) for name in LOSS_ARGUMENTS]
    loss, chosen_reward, rejected_reward = dpo_loss(*four, training.beta)
    return LogprobsRun(
        config, training.beta, scored, max(errors), loss.item(), chosen_reward.item(),
        rejected_reward.item(), experiment.device,
        time.perf_counter() - started,
    )  # fmt: skip


# dpo_loss's arguments, in its order.
LOSS_ARGUMENTS = ("policy_chosen", "policy_rejected", "reference_chosen", "reference_rejected")

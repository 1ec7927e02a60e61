"""The why-DPO chapter's experiment: what RLHF and DPO hold in memory while they train, how many
responses the partition function Z(x) sums over, and the 2 + 2 pair the lecture starts from.

Memory. RLHF's last stage (PPO) holds four models at once: the policy π_θ being trained, the
frozen reference π_ref, the reward model r_φ fitted to the pairs, and PPO's value model (critic).
DPO holds two: π_θ and π_ref. Each model is BUILT from its config — nothing is downloaded — on
torch's meta device, so that GPT-2 small costs neither memory nor time, and its parameters are
counted (tied weights once). The policy and the reference are causal LMs; the reward and value
models are the same backbone with a scalar head (``GPT2ForSequenceClassification``, one label),
as TRL builds them. Two sizes: the lab's tiny transformer and GPT-2 small (``GPT2Config()``).
Bytes are the weights alone (4 per parameter in float32, 2 in bfloat16): gradients and optimiser
state come on top, for the models that are trained.

Responses. A response of at most L tokens over V content tokens ends with EOS before the limit,
or stops at it (``lab.worlds.tokens.enumerate_responses``): |Y| = Σ_{k=0}^{L} V^k. For GPT-2's
V = 50 257 and L = 100 that is about 10^470 responses, so Z(x) = Σ_y π_ref exp(r/β) cannot be
summed; ``log10_response_count`` computes the logarithm in closed form, without overflow.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch

from lab.core.dpo import preference_prob
from lab.worlds.tabular import World, default_world
from lab.worlds.tokens import TokenWorld

GPT2_VOCAB = 50_257  # GPT2Config().vocab_size (tests check it); a constant: no transformers import
MAX_VOCAB = 10_000_000
MAX_TOKENS = 100_000
BYTES_PER_PARAMETER = {"float32": 4, "bfloat16": 2}


@dataclass(frozen=True)
class WhyDpoConfig:
    vocab: int = GPT2_VOCAB  # V: the tokens a response is made of
    max_tokens: int = 100  # L: the longest response
    prompt: int = 0  # which prompt of the default world gives the pair ("What is 2 + 2?")

    def __post_init__(self) -> None:
        if not 2 <= self.vocab <= MAX_VOCAB:
            raise ValueError(f"vocab must be in 2..{MAX_VOCAB:,}, got {self.vocab:,}")
        if not 1 <= self.max_tokens <= MAX_TOKENS:
            raise ValueError(f"max_tokens must be in 1..{MAX_TOKENS:,}, got {self.max_tokens:,}")


@dataclass(frozen=True)
class ModelInMemory:
    """One model a pipeline holds during training: its role, its symbol, its size, and whether
    training updates it (then its gradients and optimiser state are held too)."""

    role: str
    symbol: str
    parameters: int
    trained: bool


@dataclass(frozen=True)
class Pipeline:
    name: str
    models: tuple[ModelInMemory, ...]

    @property
    def parameters(self) -> int:
        return sum(model.parameters for model in self.models)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "models": [asdict(model) for model in self.models],
            "parameters": self.parameters,
            **{
                f"bytes_{dtype}": self.parameters * size
                for dtype, size in BYTES_PER_PARAMETER.items()
            },
        }


@dataclass(frozen=True)
class Backbone:
    """RLHF's and DPO's models for one model size."""

    name: str
    rlhf: Pipeline
    dpo: Pipeline

    @property
    def ratio(self) -> float:
        """How many times the parameters RLHF holds are DPO's."""
        return self.rlhf.parameters / self.dpo.parameters

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "rlhf": self.rlhf.as_dict(),
            "dpo": self.dpo.as_dict(),
            "rlhf_over_dpo": self.ratio,
        }


@dataclass(frozen=True)
class PreferencePair:
    """A pair a labeller compares: the true rewards (which a labeller never reports) and the
    Bradley–Terry probability that y_w is preferred, σ(r(x, y_w) − r(x, y_l))."""

    prompt: str
    chosen: str
    rejected: str
    reward_chosen: float
    reward_rejected: float
    preference_prob: float


@dataclass(frozen=True)
class WhyDpoCounts:
    config: WhyDpoConfig
    pair: PreferencePair
    backbones: tuple[Backbone, ...]  # the tiny transformer, then GPT-2 small
    log10_responses: float

    def summary(self) -> dict[str, float]:
        """The figures the chapter quotes."""
        tiny, gpt2 = self.backbones
        return {
            "tiny_rlhf_parameters": tiny.rlhf.parameters,
            "tiny_dpo_parameters": tiny.dpo.parameters,
            "gpt2_rlhf_parameters": gpt2.rlhf.parameters,
            "gpt2_dpo_parameters": gpt2.dpo.parameters,
            "rlhf_over_dpo": gpt2.ratio,
            "gpt2_rlhf_gb_float32": gpt2.rlhf.parameters * BYTES_PER_PARAMETER["float32"] / 1e9,
            "gpt2_dpo_gb_float32": gpt2.dpo.parameters * BYTES_PER_PARAMETER["float32"] / 1e9,
            "log10_responses": self.log10_responses,
            "preference_prob": self.pair.preference_prob,
        }

    def as_dict(self) -> dict:
        return {
            "config": asdict(self.config),
            "summary": self.summary(),
            "pair": asdict(self.pair),
            "responses": {
                "vocab": self.config.vocab,
                "max_tokens": self.config.max_tokens,
                "log10_count": self.log10_responses,
            },
            "memory": [backbone.as_dict() for backbone in self.backbones],
        }


def log10_response_count(vocab: int, max_tokens: int) -> float:
    """log10 |Y| for |Y| = Σ_{k=0}^{L} V^k = (V^{L+1} − 1) / (V − 1), computed as
    L log10 V + log10((1 − V^{−(L+1)}) / (1 − 1/V)): no power of V is ever formed."""
    if vocab < 2 or max_tokens < 0:
        raise ValueError(f"vocab must be ≥ 2 and max_tokens ≥ 0, got {vocab} and {max_tokens}")
    tail = math.log1p(-(float(vocab) ** -(max_tokens + 1))) - math.log1p(-1 / vocab)
    return max_tokens * math.log10(vocab) + tail / math.log(10)


def parameter_count(model: torch.nn.Module) -> int:
    """Every parameter once (a tied embedding and LM head count once)."""
    return sum(parameter.numel() for parameter in model.parameters())


def _pipelines(name: str, language_model: torch.nn.Module, scalar_head: torch.nn.Module):
    """RLHF's four models and DPO's two, from one causal LM and one scalar-head model."""
    lm, scored = parameter_count(language_model), parameter_count(scalar_head)
    policy = ModelInMemory("policy", "π_θ", lm, trained=True)
    reference = ModelInMemory("reference", "π_ref", lm, trained=False)
    reward = ModelInMemory("reward model", "r_φ", scored, trained=False)
    value = ModelInMemory("value model", "critic", scored, trained=True)
    return Backbone(
        name,
        Pipeline("RLHF (PPO)", (policy, reference, reward, value)),
        Pipeline("DPO", (policy, reference)),
    )


def _with_scalar_head(gpt2_config):
    """A GPT-2 that outputs one number per sequence: a reward model or a value model."""
    from transformers import GPT2ForSequenceClassification

    config = copy.deepcopy(gpt2_config)
    config.num_labels = 1
    return GPT2ForSequenceClassification(config)


def model_sizes() -> tuple[Backbone, ...]:
    """The tiny transformer and GPT-2 small, built on the meta device and counted. transformers
    is imported here, not with the module: the claims use ``log10_response_count`` without it."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from lab.training.policies import world_model

    backbones = []
    with torch.device("meta"):
        tiny = world_model(TokenWorld(), seed=0)
        backbones.append(_pipelines("tiny transformer", tiny, _with_scalar_head(tiny.config)))
        config = GPT2Config()
        gpt2 = GPT2LMHeadModel(config)
        backbones.append(_pipelines("GPT-2 small", gpt2, _with_scalar_head(config)))
    return tuple(backbones)


def extreme_pair(world: World, prompt: int) -> PreferencePair:
    """The prompt's best answer preferred to its worst, by the world's true reward."""
    reward = world.reward[prompt]
    chosen, rejected = int(reward.argmax()), int(reward.argmin())
    if chosen == rejected:
        raise ValueError(f"prompt {prompt}'s responses all have the same reward: no preference")
    prob = preference_prob(reward[chosen], reward[rejected])
    return PreferencePair(
        prompt=world.prompts[prompt],
        chosen=world.responses[prompt][chosen],
        rejected=world.responses[prompt][rejected],
        reward_chosen=float(reward[chosen]),
        reward_rejected=float(reward[rejected]),
        preference_prob=float(prob),
    )


def why_dpo_experiment(
    config: WhyDpoConfig = WhyDpoConfig(), world: World | None = None
) -> WhyDpoCounts:
    """Count both pipelines' models, the responses of at most ``config.max_tokens`` tokens, and
    the pair. Cheap: no training; GPT-2 small is built on the meta device."""
    world = world or default_world()
    if not 0 <= config.prompt < world.n_prompts:
        raise ValueError(f"prompt must be in 0..{world.n_prompts - 1}, got {config.prompt}")
    return WhyDpoCounts(
        config=config,
        pair=extreme_pair(world, config.prompt),
        backbones=model_sizes(),
        log10_responses=log10_response_count(config.vocab, config.max_tokens),
    )

"""The trained-transformer and log-probs chapters' numbers: the lab's population run of DPO on
the tiny GPT-2 (``lab.training.transformer_runs``), as plain numbers, cached like step 5's
training.

The run is the one ``dpo-lab train --policy transformer`` makes (about 25 s on a CPU core): π_ref
warmed up from a config, every response of the token world enumerated, π* in closed form, DPO on
the population of pairs, TV(π_θ, π*) measured as it trains. The scene shows the first prompt's
likeliest responses, the rest pooled into one bar; the log-probs chapter, one preference pair
scored token by token under π_ref and the trained π_θ (``lab.experiments.logprobs``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.experiments.logprobs import LogprobsRun
from lab.files import write_text_atomically
from lab.training.transformer import TransformerConfig
from scenes.caches import read_cache
from scenes.labdata import CACHE_DIR, backed_by, training_key

SHOWN = 6  # responses with a bar of their own; the rest share one


@dataclass(frozen=True)
class TransformerRun:
    """π_ref, π* and the trained π_θ over the first prompt's ``names`` (the last name pools the
    rest), TV(π_θ, π*) during training as [updates, TV] pairs, and where and how long it ran."""

    prompt: str
    names: list[str]
    pi_ref: list[float]
    pi_star: list[float]
    pi_theta: list[float]
    responses: int  # every response of the prompt, enumerated
    parameters: int
    steps: int
    beta: float
    tv_history: list[list[float]]
    device: str
    seconds: float
    logprobs: dict  # one pair scored token by token (``lab.experiments.logprobs``), as_dict()

    @property
    def tv(self) -> float:
        return self.tv_history[-1][1]

    @property
    def pair(self) -> LogprobsRun:
        """The log-probs chapter's pair, scored under π_ref and this run's π_θ."""
        return LogprobsRun.from_dict(self.logprobs)


def _train(config: TransformerConfig) -> TransformerRun:
    from lab.experiments.logprobs import logprobs_experiment
    from lab.report.figures import likeliest_panel
    from lab.training.transformer_runs import transformer_experiment

    experiment = transformer_experiment(config, progress=False)
    pair = logprobs_experiment(training=config, experiment=experiment)
    enumerated, report = experiment.enumerated, experiment.reports[0]
    names = [name if name == "∅" else f"“{name}”" for name in enumerated.response_names()]
    rows = (enumerated.pi_ref[0], enumerated.pi_star[0], experiment.policies[0][0])
    panel = likeliest_panel(enumerated.world.prompts[0], names, rows, top=SHOWN)
    return TransformerRun(
        prompt=panel.prompt,
        names=panel.names,
        pi_ref=panel.pi_ref,
        pi_star=panel.pi_star,
        pi_theta=panel.pi_theta,
        responses=enumerated.pi_ref.shape[-1],
        parameters=experiment.parameters,
        steps=report.steps,
        beta=report.beta,
        tv_history=[list(point) for point in report.tv_history],
        device=report.device,
        seconds=report.seconds,
        logprobs=pair.as_dict(),
    )


def transformer_run(cache_dir: Path = CACHE_DIR) -> TransformerRun:
    """The lab's population run on the tiny transformer, from the cache when it is up to date (an
    entry that does not read is discarded, saying so, and the run trains again)."""
    config = TransformerConfig()
    path = cache_dir / f"transformer-run-{training_key(asdict(config))}.json"
    cached = read_cache(path, lambda data: TransformerRun(**data))
    if cached is not None:
        return cached
    with backed_by("step7.sequences_sum_to_one"):
        result = _train(config)
    write_text_atomically(path, json.dumps(asdict(result)))
    return result

"""The numbers of the chapter "β in practice and where DPO breaks": the records of its four lab
experiments (``lab.experiments.beta_sweep``, ``length``, ``unseen_mass``, ``no_exploration``), as
plain JSON-like dicts, cached like the trained transformer.

Each record is the experiment's ``as_dict()`` for its default config — the very record
``dpo-lab experiment NAME`` writes into renders/. It is cached in build/cache, keyed by the config
and by the source of the lab code that decides it (the trainers and the experiments), so a
re-render does not train again, and a change to the lab does. A failure is reported under the
claim the experiment backs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from lab.experiments.beta_sweep import BetaSweepConfig, beta_sweep_experiment
from lab.experiments.length import LengthConfig, length_experiment
from lab.experiments.no_exploration import NoExplorationConfig, no_exploration_experiment
from lab.experiments.unseen_mass import UnseenMassConfig, unseen_mass_experiment
from lab.files import source_digest, write_text_atomically
from scenes.caches import read_cache
from scenes.labdata import CACHE_DIR, ROOT, backed_by, training_key

EXPERIMENT_SOURCES = ROOT / "lab" / "experiments"


def cached_record(
    name: str, config: object, run: Callable[[object], object], claim_id: str, cache_dir: Path
) -> dict:
    """``run(config).as_dict()``, from ``cache_dir`` when up to date; computed (on behalf of
    ``claim_id``) and written there otherwise."""
    settings = {"experiment": name, **asdict(config), "code": source_digest(EXPERIMENT_SOURCES)}
    path = cache_dir / f"{name}-{training_key(settings)}.json"
    cached = read_cache(path, _a_record)
    if cached is not None:
        return cached
    with backed_by(claim_id):
        record = run(config).as_dict()
    write_text_atomically(path, json.dumps(record))
    return record


def _a_record(data: object) -> dict:
    if not isinstance(data, dict) or "summary" not in data:
        raise ValueError("not an experiment's record (no summary)")
    return data


# Each experiment: its default config, its run, and the claim it backs.
EXPERIMENTS: dict[str, tuple[type, Callable[[object], object], str]] = {
    "beta_sweep": (BetaSweepConfig, beta_sweep_experiment, "limits.beta_frontier"),
    "length": (LengthConfig, length_experiment, "limits.length_exploit"),
    "unseen_mass": (UnseenMassConfig, unseen_mass_experiment, "limits.unseen_mass"),
    "no_exploration": (NoExplorationConfig, no_exploration_experiment, "limits.no_exploration"),
}


@functools.cache
def record(name: str, cache_dir: Path = CACHE_DIR) -> dict:
    """The record of the experiment ``name`` (a key of ``EXPERIMENTS``) at its default config."""
    config, run, claim_id = EXPERIMENTS[name]
    return cached_record(name, config(), run, claim_id, cache_dir)

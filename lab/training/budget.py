"""Will a run fit? The memory a run needs, estimated before anything is allocated, against what
the machine has available; and the most pairs torch can draw from.

The estimates are measured peaks (VmHWM, one CPU thread, torch 2.13) rounded up: a tabular run
holds about 36 float64 numbers per (prompt, chosen, rejected) triple of its world — the pair
weights, the Bradley–Terry probabilities, the reward model's and the solver's tables, the
gradients — and sampling holds about 10 numbers per pair drawn. An estimate errs high: a run it
refuses would not have fitted in much less.
"""

from __future__ import annotations

import os
from pathlib import Path

TABULAR_BASE_BYTES = 48 * 2**20  # torch's own buffers, the world, the optimiser
BYTES_PER_PAIR_ENTRY = 320  # per entry of a (prompts, responses, responses) table
BYTES_PER_SAMPLED_PAIR = 80  # draws, indices, labels and counts, per pair
TRANSFORMER_BASE_BYTES = 512 * 2**20  # the model, every response scored, the population batch
MAX_CATEGORIES = 2**24  # torch.multinomial draws from at most this many categories


def available_memory_bytes() -> int | None:
    """Memory the run can take without swapping: psutil's ``available`` when installed, else
    MemAvailable from /proc/meminfo, else free pages (os.sysconf); None when none can be read."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def tabular_bytes(n_prompts: int, n_responses: int, n_pairs: int = 0) -> int:
    """The peak memory of one tabular run (DPO and the reward-model pipeline) on a world of that
    size, with ``n_pairs`` sampled pairs (0: the population)."""
    entries = n_prompts * n_responses * n_responses
    return TABULAR_BASE_BYTES + BYTES_PER_PAIR_ENTRY * entries + BYTES_PER_SAMPLED_PAIR * n_pairs


def transformer_bytes(n_pairs: int = 0) -> int:
    """The peak memory of a transformer run with ``n_pairs`` sampled pairs (0: the population)."""
    return TRANSFORMER_BASE_BYTES + BYTES_PER_SAMPLED_PAIR * n_pairs


def human_bytes(count: float) -> str:
    """1536 → '1.5 KiB'; binary units, three significant figures."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.3g} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def memory_shortfall(needed: int) -> str | None:
    """None when ``needed`` bytes fit in the available memory (or it cannot be read); else the
    comparison in words, for the error message."""
    available = available_memory_bytes()
    if available is None or needed <= available:
        return None
    return (
        f"the run needs about {human_bytes(needed)} of memory and {human_bytes(available)} is "
        "available"
    )

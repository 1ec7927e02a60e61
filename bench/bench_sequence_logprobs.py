"""Benchmark: ``sequence_logprobs`` against the naive log_softmax + gather, side by side.

GPT-2's vocabulary (V = 50 257), T = 512, B = 8, float32, on the CPU. The logits alone take
B·T·V·4 bytes = 823 MB; the naive version makes a second copy of that size (the log-softmax),
``sequence_logprobs`` only chunk-sized temporaries.

Peak memory, measured honestly: torch's CPU allocations bypass Python's tracemalloc, so each variant
runs in a fresh subprocess that builds the inputs, then reads the process's resident set size
(VmRSS, /proc/self/status), resets the kernel's high-water mark to it (writing 5 to
/proc/self/clear_refs), calls the function once and reads the high-water mark (VmHWM). Peak extra
memory = VmHWM − VmRSS before the call: everything the call touched, torch's allocator included.
Where /proc is missing or read-only, the fallback is getrusage's ru_maxrss, said so in the output.

Time: both variants in this process, alternated, median of several calls each, after a warm-up;
once on one CPU thread and once on torch's default number of threads (on a machine shared with
other jobs, multi-threaded timings drift with their load; the one-thread ratio is the steadier).

    python bench/bench_sequence_logprobs.py            # the table
    python bench/bench_sequence_logprobs.py --memory naive|chunked   # one child measurement (JSON)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from lab.core.sequences import plain_sequence_logprobs, sequence_logprobs, token_logprobs

BATCH, LENGTH, VOCAB = 8, 512, 50_257
PROMPT_TOKENS = 64
REPEATS = 7
MEMORY_GOAL, TIME_GOAL = 0.1, 1.0


VARIANTS = {"naive": plain_sequence_logprobs, "chunked": sequence_logprobs}


def make_inputs(seed: int = 0):
    """Random logits, token ids, and a completion mask: a 64-token prompt, then a response of
    random length (the rest is padding)."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(BATCH, LENGTH, VOCAB, generator=generator)
    input_ids = torch.randint(VOCAB, (BATCH, LENGTH), generator=generator)
    ends = torch.randint(PROMPT_TOKENS + 1, LENGTH + 1, (BATCH,), generator=generator)
    positions = torch.arange(LENGTH)
    mask = ((positions >= PROMPT_TOKENS) & (positions < ends[:, None])).long()
    return logits, input_ids, mask


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def measure_memory(variant: str) -> dict:
    """Run in a fresh process: peak extra resident memory of one call of ``variant``."""
    inputs = make_inputs()
    try:
        before = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # high-water mark := current RSS
        method = "VmHWM − VmRSS (peak reset through /proc/self/clear_refs)"
        VARIANTS[variant](*inputs)
        peak = _status_kib("VmHWM")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        method = "ru_maxrss after − ru_maxrss before (a fresh process: the inputs set the mark)"
        VARIANTS[variant](*inputs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"variant": variant, "peak_extra_bytes": (peak - before) * 1024, "method": method}


def memory_in_subprocess(variant: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--memory", variant],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def median_seconds(inputs, threads: int) -> dict[str, float]:
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _median_seconds(inputs)
    finally:
        torch.set_num_threads(default_threads)


def _median_seconds(inputs) -> dict[str, float]:
    for fn in VARIANTS.values():  # warm-up: first calls pay for page faults and thread start
        fn(*inputs)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(REPEATS):
        for name, fn in VARIANTS.items():  # alternated, so that load drifts hit both alike
            start = time.perf_counter()
            fn(*inputs)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(measure_memory(args.memory)))
        return 0

    threads = sorted({1, torch.get_num_threads()})
    print(f"sequence_logprobs vs naive log_softmax+gather: B={BATCH}, T={LENGTH}, V={VOCAB}, "
          f"float32, CPU")  # fmt: skip
    logits_bytes = BATCH * LENGTH * VOCAB * 4
    print(f"the logits themselves: {logits_bytes / 1e6:.0f} MB (inputs of both variants)")
    memory = {name: memory_in_subprocess(name) for name in VARIANTS}
    inputs = make_inputs()
    logits, input_ids, _ = inputs
    per_token = token_logprobs(logits[:, :-1], input_ids[:, 1:])
    naive_per_token = logits[:, :-1].log_softmax(-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    token_difference = (per_token - naive_per_token).abs().max().item()
    del per_token, naive_per_token
    chunked, naive = VARIANTS["chunked"](*inputs), VARIANTS["naive"](*inputs)
    relative_difference = ((chunked - naive).abs() / naive.abs()).max().item()
    seconds = {n: median_seconds(inputs, n) for n in threads}

    header = f"{'variant':<9} {'peak extra memory':>18}"
    header += "".join(f" {f'time, {n} thread' + ('s' if n > 1 else ''):>16}" for n in threads)
    print(header)
    for name in VARIANTS:
        row = f"{name:<9} {memory[name]['peak_extra_bytes'] / 1e6:>15.1f} MB"
        row += "".join(f" {seconds[n][name] * 1e3:>13.1f} ms" for n in threads)
        print(row)
    memory_ratio = memory["chunked"]["peak_extra_bytes"] / memory["naive"]["peak_extra_bytes"]
    print(f"memory ratio chunked/naive: {memory_ratio:.3f} (goal ≤ {MEMORY_GOAL}) "
          f"{'met' if memory_ratio <= MEMORY_GOAL else 'NOT met'}")  # fmt: skip
    for n in threads:
        ratio = seconds[n]["chunked"] / seconds[n]["naive"]
        print(f"time ratio chunked/naive, {n} thread{'s' if n > 1 else ''}: {ratio:.3f} "
              f"(goal ≤ {TIME_GOAL}) {'met' if ratio <= TIME_GOAL else 'NOT met'}")  # fmt: skip
    print(f"agreement (float32): per token max |Δ| = {token_difference:.2e}; per sequence "
          f"max |Δ|/|log π| = {relative_difference:.2e} (sums of ~450 terms of ~−11)")  # fmt: skip
    print(f"memory method: each variant in a fresh subprocess; {memory['naive']['method']}")
    print(f"time method: median of {REPEATS} alternated calls after one warm-up call each")
    return 0


if __name__ == "__main__":
    sys.exit(main())

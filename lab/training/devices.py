"""Where training runs: the device, the CPU thread count, and whether to draw a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from tqdm import tqdm

DEVICE_TYPES = ("cpu", "cuda")
# Where a run says what it is doing, a line per phase: ``stderr_line`` from the command line, so
# that a run whose output is piped is not silent; None (the default) says nothing.
Log = Callable[[str], None] | None


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` ("cpu", "cuda", "cuda:1") if given, else cuda when present, else cpu."""
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_TYPES)}, got {requested!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but torch sees no GPU")
    return device


@contextmanager
def single_cpu_thread() -> Iterator[None]:
    """Run torch's CPU work on one thread inside the block, then restore the caller's setting.

    The lab's tensors are tiny: with two threads, OpenMP's hand-offs cost more than the arithmetic,
    and on a machine shared with other jobs the threads wait for each other — a 150-step warm-up
    of the tiny transformer measured 0.3 s on one thread and 14–56 s on two.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def progress_bar(iterable: Iterable, description: str, progress: bool | None) -> tqdm:
    """A tqdm bar on stderr. ``progress`` True or False forces it on or off; None draws it only
    when stderr is a terminal."""
    disable = None if progress is None else not progress
    return tqdm(iterable, desc=description, disable=disable, leave=False, file=sys.stderr)


def stderr_line(message: str) -> None:
    """A progress line on stderr, flushed at once (a ``Log``)."""
    print(message, file=sys.stderr, flush=True)


def say(log: Log, message: str) -> None:
    if log is not None:
        log(message)

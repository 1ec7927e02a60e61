"""What the command line checks before it trains: the device, that the output folders can be
written, and that the run fits in memory. A run that would fail after minutes of training fails
at once instead, with a usage error (exit 2) that names the option."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from lab.training import budget
from lab.training.devices import pick_device


def check_device(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """--device names a device torch has: cpu, or cuda with a GPU present."""
    if args.device is None:
        return
    try:
        pick_device(args.device)
    except ValueError as error:
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            parser.error(
                f"--device {args.device}: torch sees no GPU; use --device cpu, or leave --device "
                "out (cuda when present)"
            )
        parser.error(f"--{error}")  # "device must be one of …"


def check_output_folder(
    folder: str | Path,
    option: str,
    parser: argparse.ArgumentParser,
    subfolders: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
) -> Path:
    """Make ``folder`` (and ``subfolders`` in it) now, and write and remove a probe file there,
    so that a path that cannot be written fails before training rather than after it. ``files``
    are the names the command will write: none may be a folder."""
    folder = Path(folder)
    where = f"{option} {folder}"
    if folder.exists() and not folder.is_dir():
        parser.error(f"{where}: is a file, not a folder; give a folder (it is made if missing)")
    for name in subfolders:
        if (folder / name).exists() and not (folder / name).is_dir():
            what = f"{folder / name} is a file, not a folder"
            parser.error(f"{where}: {what}; move it or pick another folder")
    for name in files:
        if (folder / name).is_dir():
            parser.error(f"{where}: {folder / name} is a folder where a file will be written")
    try:
        for path in (folder, *(folder / name for name in subfolders)):
            path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        doing = "create the folder" if not folder.is_dir() else "write in the folder"
        parser.error(f"{where}: cannot {doing} ({error.strerror or error})")
    return folder


def check_tabular_fits(
    world: dict[str, int] | None,
    sample_sizes: tuple[int, ...],
    parser: argparse.ArgumentParser,
) -> None:
    """A tabular run on a world of that size (``world``: the random world's options; None: the
    default world, 3 × 5) must fit in memory, and samples mode must draw from at most 2^24 pairs."""
    prompts, responses = (3, 5) if world is None else (world["prompts"], world["responses"])
    what = "" if world is None else f"--prompts {prompts} --responses {responses}"
    entries = prompts * responses * responses
    largest = max(sample_sizes, default=0)
    shortfall = budget.memory_shortfall(budget.tabular_bytes(prompts, responses, largest))
    if shortfall is not None:
        _refuse_tabular_memory(shortfall, what, entries, largest, parser)
    if sample_sizes and entries > budget.MAX_CATEGORIES:
        parser.error(
            f"{what}: samples mode draws from prompts × responses² = {entries:,} ordered pairs, "
            f"and torch.multinomial from at most 2^24 = {budget.MAX_CATEGORIES:,}: use fewer "
            "--responses or --prompts, or --mode population"
        )


def _refuse_tabular_memory(shortfall, what, entries, largest, parser) -> None:
    """Name what takes the memory: the sampled pairs, or the world's pair tables."""
    if budget.BYTES_PER_SAMPLED_PAIR * largest >= budget.BYTES_PER_PAIR_ENTRY * entries:
        parser.error(f"--n-pairs {largest}: {shortfall}: use fewer pairs")
    parser.error(
        f"{what}: {shortfall} (its pair tables hold prompts × responses² = {entries:.3g} "
        "entries, about 320 bytes each): use fewer --prompts or --responses"
    )


def check_transformer_fits(
    sample_sizes: tuple[int, ...], batch_pairs: int | None, parser: argparse.ArgumentParser
) -> None:
    """The largest sample of a transformer run, and the pairs each step draws, must fit in
    memory."""
    for option, pairs in (
        ("--n-pairs", max(sample_sizes, default=0)),
        ("--batch-pairs", batch_pairs),
    ):
        shortfall = budget.memory_shortfall(budget.transformer_bytes(pairs or 0))
        if shortfall is not None:
            parser.error(f"{option} {pairs}: {shortfall}: use fewer pairs")

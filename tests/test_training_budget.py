"""lab.training.budget: the memory a run needs, estimated before it starts, against what is
available."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.training import budget


def test_available_memory_is_read_from_the_machine() -> None:
    available = budget.available_memory_bytes()
    assert available is not None and available > 2**20
    if Path("/proc/meminfo").exists():  # the fallback when psutil is missing: close to it
        text = Path("/proc/meminfo").read_text()
        line = next(line for line in text.splitlines() if line.startswith("MemAvailable:"))
        assert abs(available - int(line.split()[1]) * 1024) < 0.1 * available


def test_estimates_grow_with_the_world_and_the_sample() -> None:
    small = budget.tabular_bytes(3, 5)
    assert budget.tabular_bytes(3, 50) > small and budget.tabular_bytes(30, 5) > small
    assert budget.tabular_bytes(3, 5, 10**6) - small == 80 * 10**6
    assert budget.transformer_bytes(10**6) - budget.transformer_bytes() == 80 * 10**6


def test_an_estimate_that_fits_has_no_shortfall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_memory_bytes", lambda: 2**30)
    assert budget.memory_shortfall(2**29) is None
    message = budget.memory_shortfall(3 * 2**30)
    assert message == "the run needs about 3 GiB of memory and 1 GiB is available"
    monkeypatch.setattr(budget, "available_memory_bytes", lambda: None)
    assert budget.memory_shortfall(10**30) is None  # unknown: not refused


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (170 * 2**20, "170 MiB"),
        (2**60, "1.02e+03 PiB"),
    ],
)
def test_byte_counts_read_in_binary_units(count: int, text: str) -> None:
    assert budget.human_bytes(count) == text

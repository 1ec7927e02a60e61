"""Devices, threads: tests run on the CPU, a missing GPU is named, one thread is restored."""

from __future__ import annotations

import pytest
import torch

from lab.training.devices import pick_device, single_cpu_thread


def test_tests_run_on_the_cpu_and_a_missing_gpu_is_named() -> None:
    assert pick_device().type == "cpu"  # conftest hides any GPU
    with pytest.raises(ValueError, match="no GPU"):
        pick_device("cuda")


def test_single_cpu_thread_restores_the_setting() -> None:
    threads = torch.get_num_threads()
    with single_cpu_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads

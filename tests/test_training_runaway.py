"""The gradient weight's effect beyond the registered claims: the shape of the runaway."""

from __future__ import annotations

import itertools
import math

import pytest

from lab.core.dpo import dpo_loss
from lab.training.runaway import runaway_margins, unweighted_loss


def test_without_the_weight_the_margin_grows_by_the_same_amount_every_step() -> None:
    margins = runaway_margins(unweighted_loss, steps=40)
    steps = [b - a for a, b in itertools.pairwise(margins)]
    assert min(steps) > 0
    assert max(steps) == pytest.approx(min(steps), rel=1e-9), "a constant push: linear growth"


def test_with_the_weight_the_margin_settles_whatever_the_step_size() -> None:
    for lr in (1.0, 5.0):
        margins = runaway_margins(lambda *args: dpo_loss(*args)[0], steps=600, lr=lr)
        assert margins[-1] == pytest.approx(math.log(3), abs=1e-9)

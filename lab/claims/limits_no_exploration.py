"""Beyond the steps — where DPO breaks: no exploration. The best response y⁺ of "What is 2 + 2?"
("4") is in π_ref's support but in no pair; DPO trained on those pairs does not raise it.

The check reads the TeX on the lab's numbers (``lab.experiments.no_exploration``): π_θ is DPO's
policy trained on pairs without y⁺, y⁺ the best response by the true reward, π_ref and π* the
world's. The lab-side evidence: the gradient y⁺'s logit received is zero (up to rounding) at
every step of DPO's run, since its log-prob cancels from every pair's difference; and the online
method, which samples its own policy and scores it with the reward, ends with π(y⁺) well above
π_ref(y⁺): the response was there to be found.

The refutation binds the misunderstanding that DPO "learns the reward and extrapolates to the best
answer": π_θ trained on pairs that do include y⁺ (what exploration would give). Its π_θ(y⁺) rises
above π_ref(y⁺), and y⁺'s logit gets a gradient, so the claim fails.
"""

from __future__ import annotations

import functools

import torch

from lab.claims.named import Binding, Named
from lab.claims.reading import joined, policy, symbols, tex_evidence
from lab.claims.registry import Claim, Evidence
from lab.claims.tex import Node
from lab.experiments.no_exploration import (
    MIN_RISE,
    PROMPT,
    NoExploration,
    no_exploration_experiment,
    train_dpo,
)
from lab.training.table_descent import Descent
from lab.worlds.tabular import DTYPE, default_world

ZERO_GRADIENT = 1e-15  # |∂L/∂θ(y⁺)|: 0 in exact arithmetic, a rounding residue in float64


@functools.cache
def _run() -> NoExploration:
    return no_exploration_experiment()


@functools.cache
def _dpo(with_best: bool) -> Descent:
    """DPO on the experiment's pairs without y⁺, or on pairs drawn from the whole π_ref."""
    return train_dpo(_run().config, default_world(), with_best)


def _check_no_exploration(reading: Node, with_best: bool) -> Evidence:
    """The TeX with π_θ from ``_dpo(with_best)``; the gradient y⁺'s logit got in that run, and
    how far the online method raised π(y⁺)."""
    run, dpo = _run(), _dpo(with_best)
    world = default_world()
    pi_star = torch.tensor([run.optimal], dtype=DTYPE)
    values = {
        r"\pi_\theta": policy(dpo.policy),
        r"\pi_{\mathrm{ref}}": policy(world.pi_ref[PROMPT : PROMPT + 1]),
        r"\pi^*": policy(pi_star),
        "y^+": Named(torch.tensor(run.best)),
    }
    binding = Binding(
        {"x": 1, "y": len(run.responses)}, symbols(values), tolerance=0.0, label=run.prompt
    )
    gradient = max(dpo.watched_gradients)
    online_rise = run.online[run.best] - run.pi_ref[run.best]
    lab = Evidence(
        {
            "max_abs_gradient_on_best_logit": gradient,
            "online_rise_of_best": online_rise,
            "dpo_best": float(dpo.policy[0, run.best]),
            "pi_ref_best": run.pi_ref[run.best],
            "online_best": run.online[run.best],
        },
        ZERO_GRADIENT,
        gradient <= ZERO_GRADIENT and online_rise >= MIN_RISE,
        note=f"|∂L/∂θ(y⁺)| at every one of DPO's {run.config.steps} steps; the online π(y⁺) "
        f"must end ≥ {MIN_RISE:g} above π_ref(y⁺)",
        bounds={"max_abs_gradient_on_best_logit": ZERO_GRADIENT, "online_rise_of_best": MIN_RISE},
    )
    return joined(lab, tex_evidence(reading, [binding]))


CLAIMS = (
    Claim(
        id="limits.no_exploration",
        step=8,
        tex=r"\pi_\theta(y^+ \mid x) \le \pi_{\mathrm{ref}}(y^+ \mid x)",
        says="The best answer, in no pair, gets no gradient from DPO: its probability does not "
        "rise, while a method that samples its own answers and scores them finds it.",
        check=lambda tex: _check_no_exploration(tex, with_best=False),
        refute=lambda tex: _check_no_exploration(tex, with_best=True),
    ),
)

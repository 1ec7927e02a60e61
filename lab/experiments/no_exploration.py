"""Where DPO breaks — no exploration: a better response that no pair contains stays where it was.

The run: the default world's first prompt ("What is 2 + 2?"); its best response by the true
reward, y⁺ = "4", is π_ref's likeliest, yet the N pairs are drawn from π_ref restricted to the
other responses (π_ref with y⁺ removed, renormalised) and labelled by Bradley–Terry from the true
reward (seeded). DPO (full-batch gradient descent until converged, ``lab.training.table_descent``)
sees y⁺ in no pair's difference of log-probs, so its logit gets no gradient at all; π_θ(y⁺) only
moves through the normaliser, as the other responses' logits spread.

The contrast: an online method (GRPO-style, tabular) samples G responses per step from its own
policy and scores them with the reward; it meets y⁺ because π_ref gives it mass, and its π(y⁺)
rises. With the group's std in the advantage the reward is rescaled by 1/std, which grows as the
group agrees, so it may end beyond π*(y⁺), the optimum of J_β with the reward as it is.

``dpo_with_best``: DPO on pairs drawn from the whole of π_ref (the same N and seed): what pairs
that do contain y⁺ give; its π_θ(y⁺) rises toward π*(y⁺).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from lab.core.dpo import expected_reward, optimal_policy
from lab.data.pairs import mle_exists, sample_pairs
from lab.experiments import ExperimentFailed
from lab.training.table_descent import Descent, descend_pairs, group_policy_gradient
from lab.worlds.tabular import DTYPE, World, default_world

CONVERGED = 1e-9  # the largest |∂L/∂r̂| DPO's run may end with
MIN_RISE = 0.1  # how far the online π(y⁺) must end above π_ref(y⁺) to count as found
PROMPT = 0  # "What is 2 + 2?"
MAX_STEPS = 100_000
MAX_PAIRS = 1_000_000


def _check_count(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high:,}, got {value:,}")


def _check_rate(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


@dataclass(frozen=True)
class NoExplorationConfig:
    beta: float = 0.5  # the KL strength β of both methods (the default world's)
    n_pairs: int = 200  # pairs drawn from π_ref without y⁺
    seed: int = 0  # draws the pairs and labels, and the online method's samples
    steps: int = 500  # DPO's gradient-descent steps
    learning_rate: float = 5.0  # DPO's step on the implicit reward r̂ = β·θ (on θ: this / β²)
    online_steps: int = 300  # the online method's Adam steps
    group_size: int = 8  # responses it samples per step
    online_learning_rate: float = 0.1  # its Adam learning rate

    def __post_init__(self) -> None:
        _check_rate("beta", self.beta)
        _check_count("n_pairs", self.n_pairs, 2, MAX_PAIRS)
        if self.seed < 0:
            raise ValueError(f"seed must be ≥ 0, got {self.seed}")
        _check_count("steps", self.steps, 1, MAX_STEPS)
        _check_rate("learning_rate", self.learning_rate)
        _check_count("online_steps", self.online_steps, 10, MAX_STEPS)
        _check_count("group_size", self.group_size, 2, 10_000)
        _check_rate("online_learning_rate", self.online_learning_rate)


@dataclass(frozen=True)
class NoExploration:
    """A run's record, over the prompt's K responses: π_ref, DPO's π_θ, the online π and π*;
    ``dpo_with_best`` DPO's π_θ on pairs that include y⁺; ``counts[w][l]`` the pairs drawn;
    ``best_gradients`` |∂L/∂θ(y⁺)| at each DPO step; ``online_history`` the online π(y⁺)."""

    config: NoExplorationConfig
    prompt: str
    responses: list[str]
    best: int
    reward: list[float]
    pi_ref: list[float]
    dpo: list[float]
    online: list[float]
    optimal: list[float]
    dpo_with_best: list[float]
    counts: list[list[int]]
    best_gradients: list[float]
    online_history: list[float]
    reward_gradient: float

    def _expected(self, policy: list[float]) -> float:
        table = torch.tensor([policy, self.reward], dtype=DTYPE)
        return expected_reward(table[0], table[1]).item()

    def summary(self) -> dict:
        """π(y⁺) under each policy, DPO's π_θ(y⁺)/π_ref(y⁺), the expected rewards, and the
        largest gradient y⁺'s logit received in DPO's run."""
        b = self.best
        return {
            "pi_ref_best": self.pi_ref[b],
            "dpo_best": self.dpo[b],
            "online_best": self.online[b],
            "optimal_best": self.optimal[b],
            "dpo_with_best_best": self.dpo_with_best[b],
            "dpo_best_ratio": self.dpo[b] / self.pi_ref[b],
            "reference_reward": self._expected(self.pi_ref),
            "dpo_reward": self._expected(self.dpo),
            "online_reward": self._expected(self.online),
            "optimal_reward": self._expected(self.optimal),
            "max_best_gradient": max(self.best_gradients),
            "pairs_containing_best": float(sum(self.counts[b]) + sum(r[b] for r in self.counts)),
        }

    def as_dict(self) -> dict:
        return {**asdict(self), "summary": self.summary()}


def other_responses(world: World) -> torch.Tensor:
    """The proposal without y⁺: π_ref with the best response's mass removed, renormalised."""
    proposal = world.pi_ref[PROMPT : PROMPT + 1].clone()
    proposal[0, int(world.reward[PROMPT].argmax())] = 0
    return proposal / proposal.sum()


def pair_counts(config: NoExplorationConfig, world: World, with_best: bool) -> torch.Tensor:
    """The N pairs' counts (1, K, K), drawn without y⁺ (or from the whole π_ref). Raises
    ``ExperimentFailed`` when the responses drawn do not form a strongly connected graph."""
    pi_ref, reward = world.pi_ref[PROMPT : PROMPT + 1], world.reward[PROMPT : PROMPT + 1]
    proposal = pi_ref if with_best else other_responses(world)
    counts = sample_pairs(proposal, reward, config.n_pairs, config.seed).counts(1, pi_ref.shape[-1])
    seen = ((counts[0].sum(0) + counts[0].sum(1)) > 0).nonzero().flatten()
    compared = counts[0][seen][:, seen][None]
    if int(seen.numel()) < int((proposal > 0).sum()) or not bool(mle_exists(compared)[0]):
        raise ExperimentFailed(
            f"the {config.n_pairs} pairs drawn with seed {config.seed} leave a response that "
            "never wins or never loses: no finite reward fits them, and DPO cannot converge; "
            "draw more pairs (--n-pairs) or another --seed"
        )
    return counts


def train_dpo(config: NoExplorationConfig, world: World, with_best: bool) -> Descent:
    """DPO on the prompt's pairs (without y⁺, or from the whole π_ref), y⁺'s gradient watched.
    Raises ``ExperimentFailed`` when it has not converged."""
    counts = pair_counts(config, world, with_best)
    pi_ref = world.pi_ref[PROMPT : PROMPT + 1]
    watch = torch.zeros_like(pi_ref, dtype=torch.bool)
    watch[0, int(world.reward[PROMPT].argmax())] = True
    run = descend_pairs(
        pi_ref, counts / counts.sum(), config.beta, config.steps, config.learning_rate, watch
    )
    if not run.reward_gradient <= CONVERGED:
        raise ExperimentFailed(
            f"DPO had not converged after {config.steps} steps: the loss's gradient on the "
            f"implicit reward is still {run.reward_gradient:.2g} (at most {CONVERGED:g} counts "
            "as converged); give it more --steps, or a smaller --learning-rate if it diverged"
        )
    return run


def _checked(run: NoExploration) -> NoExploration:
    """The run, if it shows what it is for; else ``ExperimentFailed`` saying what it missed."""
    figures, config = run.summary(), run.config
    if figures["dpo_best"] > figures["pi_ref_best"]:
        raise ExperimentFailed(
            f"DPO's π_θ(y⁺) rose to {figures['dpo_best']:.4g} above π_ref(y⁺) = "
            f"{figures['pi_ref_best']:.4g} at these settings: the normaliser moved it up; "
            "try another --seed or --n-pairs"
        )
    tenth = max(1, config.online_steps // 10)
    late = sum(run.online_history[-tenth:]) / tenth
    if late < figures["pi_ref_best"] + MIN_RISE:
        raise ExperimentFailed(
            f"the online method's π(y⁺) ended at {late:.3g} (mean over its last {tenth} steps), "
            f"not {MIN_RISE:g} above π_ref(y⁺) = {figures['pi_ref_best']:.3g}: it did not "
            "measurably find the best response; give it more --online-steps, a larger "
            "--group-size or --online-learning-rate"
        )
    return run


def no_exploration_experiment(
    config: NoExplorationConfig = NoExplorationConfig(), world: World | None = None
) -> NoExploration:
    """DPO on pairs without y⁺, the online method, π*; and DPO on pairs with y⁺. Raises
    ``ExperimentFailed`` when a run cannot converge or the contrast is not there."""
    world = world or default_world()
    pi_ref, reward = world.pi_ref[PROMPT], world.reward[PROMPT]
    best = int(reward.argmax())
    dpo = train_dpo(config, world, with_best=False)
    with_best = train_dpo(config, world, with_best=True)
    online = group_policy_gradient(
        pi_ref,
        reward,
        config.beta,
        steps=config.online_steps,
        group_size=config.group_size,
        learning_rate=config.online_learning_rate,
        seed=config.seed,
        tracked=best,
    )
    counts = pair_counts(config, world, with_best=False)[0]
    run = NoExploration(
        config=config,
        prompt=world.prompts[PROMPT],
        responses=list(world.responses[PROMPT]),
        best=best,
        reward=reward.tolist(),
        pi_ref=pi_ref.tolist(),
        dpo=dpo.policy[0].tolist(),
        online=online.policy.tolist(),
        optimal=optimal_policy(pi_ref, reward, config.beta).tolist(),
        dpo_with_best=with_best.policy[0].tolist(),
        counts=[[int(n) for n in row] for row in counts.tolist()],
        best_gradients=dpo.watched_gradients,
        online_history=online.tracked_history,
        reward_gradient=dpo.reward_gradient,
    )
    return _checked(run)

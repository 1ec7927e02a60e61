"""β in practice: DPO trained at each β of a sweep, on the same sampled pairs, against the
closed-form optimum π* = π_ref exp(r/β)/Z at the same β.

The run: N pairs drawn from π_ref over the default world's three prompts and labelled by
Bradley–Terry from the true reward (seeded), the same pairs for every β; π_θ trained from π_ref by
full-batch gradient descent until the loss's gradient vanishes (``lab.training.table_descent``).
Population pairs would make every trained π_θ equal π* exactly; with finite pairs the trained
policy is π_ref·exp(r̂/β)/Z for the reward r̂ the pairs fit, so its errors grow as β falls, while
no policy, trained or not, can beat π* on J_β = E[r] − β KL(π ‖ π_ref). Small β: more reward, far
from π_ref (aggressive); large β: little change (conservative). 0.1 is a common default.

Each β needs the pairs' "beat" graph to be strongly connected for every prompt
(``lab.data.pairs.mle_exists``); otherwise no finite r̂ fits them and DPO cannot converge.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch

from lab.core.dpo import expected_reward, kl_divergence, optimal_policy
from lab.data.pairs import mle_exists, sample_pairs
from lab.experiments import ExperimentFailed
from lab.training.table_descent import descend_pairs
from lab.worlds.tabular import World, default_world

CONVERGED = 1e-9  # the largest |∂L/∂r̂| of any logit a trained policy may end with
MAX_BETAS = 20
MAX_STEPS = 100_000
MAX_PAIRS = 1_000_000
CURVE_POINTS = 60  # the closed form's dense curve, log-spaced from min β / 2 to max β · 2
DEFAULT_BETA = 0.1  # the common default the figure marks


@dataclass(frozen=True)
class BetaSweepConfig:
    betas: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    n_pairs: int = 300  # pairs drawn from π_ref over all prompts, the same for every β
    seed: int = 0  # draws the pairs and their labels
    steps: int = 500  # gradient-descent steps per β, from π_ref
    learning_rate: float = 5.0  # the step on the implicit reward r̂ = β·θ (on θ: this / β²)

    def __post_init__(self) -> None:
        betas = tuple(float(beta) for beta in self.betas)
        object.__setattr__(self, "betas", betas)
        if not 3 <= len(betas) <= MAX_BETAS:
            raise ValueError(f"betas must be 3 to {MAX_BETAS} values, got {len(betas)}")
        if not all(math.isfinite(beta) and beta > 0 for beta in betas):
            raise ValueError(f"betas must each be a finite number > 0, got {list(betas)}")
        if any(b <= a for a, b in itertools.pairwise(betas)):
            raise ValueError(f"betas must be strictly increasing, got {list(betas)}")
        if not 2 <= self.n_pairs <= MAX_PAIRS:
            raise ValueError(f"n_pairs must be in 2..{MAX_PAIRS:,}, got {self.n_pairs:,}")
        if self.seed < 0:
            raise ValueError(f"seed must be ≥ 0, got {self.seed}")
        if not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be in 1..{MAX_STEPS:,}, got {self.steps:,}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")


@dataclass(frozen=True)
class BetaSweep:
    """A sweep's record. ``trained`` and ``optimal``: π_θ and π* at each β, shape (B, P, K);
    ``reward_gradients``: each run's final largest |∂L/∂r̂|; ``counts``: how often each
    (x, y_w, y_l) was drawn, (P, K, K); ``curve_betas``: the dense closed-form curve's β."""

    config: BetaSweepConfig
    world: World
    counts: torch.Tensor
    trained: torch.Tensor
    optimal: torch.Tensor
    reward_gradients: list[float]
    curve_betas: list[float]

    def reward(self, policies: torch.Tensor) -> torch.Tensor:
        """E_π[r] per β and prompt, (B, P)."""
        return expected_reward(policies, self.world.reward)

    def kl(self, policies: torch.Tensor) -> torch.Tensor:
        """KL(π ‖ π_ref) per β and prompt, (B, P)."""
        return kl_divergence(policies, self.world.pi_ref.expand_as(policies))

    def objective(self, policies: torch.Tensor) -> torch.Tensor:
        """J_β(π) = E_π[r] − β KL(π ‖ π_ref) per β and prompt, (B, P)."""
        betas = torch.tensor(self.config.betas, dtype=policies.dtype)[:, None]
        return self.reward(policies) - betas * self.kl(policies)

    def curve(self) -> dict[str, list[float]]:
        """E_{π*}[r] and KL(π* ‖ π_ref), averaged over prompts, on the dense β grid."""
        stars = torch.stack([self._star(beta) for beta in self.curve_betas])
        return {
            "betas": self.curve_betas,
            "reward": self.reward(stars).mean(-1).tolist(),
            "kl": self.kl(stars).mean(-1).tolist(),
        }

    def _star(self, beta: float) -> torch.Tensor:
        return optimal_policy(self.world.pi_ref, self.world.reward, beta)

    def summary(self) -> dict:
        """Per β the trained and the closed-form reward and KL (means over prompts), the largest
        objective gap J(π*) − J(π_θ) over β and prompts, and the worst convergence."""
        figures = {}
        tables = {
            "reward": self.reward(self.trained).mean(-1),
            "kl": self.kl(self.trained).mean(-1),
            "optimal_reward": self.reward(self.optimal).mean(-1),
            "optimal_kl": self.kl(self.optimal).mean(-1),
        }
        for name, values in tables.items():
            for beta, value in zip(self.config.betas, values.tolist(), strict=True):
                figures[f"{name}_at_{beta:g}"] = value
        gap = self.objective(self.optimal) - self.objective(self.trained)
        figures["max_objective_gap"] = gap.max().item()
        figures["min_objective_gap"] = gap.min().item()
        figures["max_reward_gradient"] = max(self.reward_gradients)
        figures["n_pairs"] = float(self.config.n_pairs)
        return figures

    def as_dict(self) -> dict:
        def table(policies: torch.Tensor) -> dict:
            values = {
                "reward": self.reward(policies),
                "kl": self.kl(policies),
                "objective": self.objective(policies),
            }
            return {
                "mean": {name: _rounded(v.mean(-1)) for name, v in values.items()},
                "per_prompt": {name: _rounded(v) for name, v in values.items()},
                "policies": _rounded(policies),
            }

        return {
            "config": asdict(self.config),
            "prompts": list(self.world.prompts),
            "responses": [list(names) for names in self.world.responses],
            "n_pairs": self.config.n_pairs,
            "pairs_per_prompt": [int(n) for n in self.counts.sum((1, 2)).tolist()],
            "betas": list(self.config.betas),
            "summary": self.summary(),
            "trained": table(self.trained),
            "optimal": table(self.optimal),
            "objective_gap": _rounded(self.objective(self.optimal) - self.objective(self.trained)),
            "reward_gradients": self.reward_gradients,
            "curve": {name: _rounded(torch.tensor(v)) for name, v in self.curve().items()},
        }


def _rounded(values: torch.Tensor) -> list:
    return torch.round(values, decimals=10).tolist()


def _pair_counts(config: BetaSweepConfig, world: World) -> torch.Tensor:
    pairs = sample_pairs(world.pi_ref, world.reward, config.n_pairs, config.seed)
    counts = pairs.counts(world.n_prompts, world.n_responses)
    connected = mle_exists(counts)
    if not bool(connected.all()):
        missing = ", ".join(repr(world.prompts[x]) for x in (~connected).nonzero().flatten())
        raise ExperimentFailed(
            f"the {config.n_pairs} pairs drawn with seed {config.seed} leave a response that "
            f"never wins or never loses (prompts: {missing}): no finite reward fits them, and "
            "DPO cannot converge; draw more pairs (--n-pairs) or another --seed"
        )
    return counts


def dense_betas(betas: tuple[float, ...]) -> list[float]:
    """CURVE_POINTS log-spaced β from min(betas) / 2 to max(betas) · 2."""
    low, high = math.log(min(betas) / 2), math.log(max(betas) * 2)
    return [math.exp(low + (high - low) * i / (CURVE_POINTS - 1)) for i in range(CURVE_POINTS)]


def beta_sweep_experiment(
    config: BetaSweepConfig = BetaSweepConfig(), world: World | None = None
) -> BetaSweep:
    """Train π_θ at each β on the same pairs; π* beside it. Raises ``ExperimentFailed`` when no
    finite reward fits the pairs, or a run has not converged within ``config.steps``."""
    world = world or default_world()
    counts = _pair_counts(config, world)
    weights = counts / counts.sum()
    trained, gradients = [], []
    for beta in config.betas:
        run = descend_pairs(world.pi_ref, weights, beta, config.steps, config.learning_rate)
        if not run.reward_gradient <= CONVERGED:
            raise ExperimentFailed(
                f"DPO at β = {beta:g} had not converged after {config.steps} steps: the loss's "
                f"gradient on the implicit reward is still {run.reward_gradient:.2g} (at most "
                f"{CONVERGED:g} counts as converged); give it more --steps, or a smaller "
                "--learning-rate if it diverged"
            )
        trained.append(run.policy)
        gradients.append(run.reward_gradient)
    optimal = [optimal_policy(world.pi_ref, world.reward, beta) for beta in config.betas]
    return BetaSweep(
        config=config,
        world=world,
        counts=counts,
        trained=torch.stack(trained),
        optimal=torch.stack(optimal),
        reward_gradients=gradients,
        curve_betas=dense_betas(config.betas),
    )

"""What the scenes take from the lab: the toy world's numbers, computed at render time.

Every number a scene puts on screen comes through here, from the lab's own functions on the lab's
default world ("What is 2 + 2?"), as plain floats. Each lab call is tagged with the claim it
illustrates: if the lab computation fails, the render stops with a ``LabComputationError`` that
names that claim, instead of a traceback from deep inside a scene.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lab import implicit_reward, log_partition, optimal_policy, preference_prob
from lab.data.pairs import population_pair_weights
from lab.files import source_digest, write_text_atomically
from lab.training.solvers import rlhf_policy
from lab.training.tabular import TabularConfig, train_tabular, weighted_pair_loss
from lab.worlds.tabular import default_world
from scenes.caches import read_cache

ROOT = Path(__file__).resolve().parents[1]
# Trained policies are cached here, keyed by everything that decides them: re-renders are fast.
CACHE_DIR = ROOT / "build" / "cache"
# The lab code that decides the training: the maths, the world, the pairs, the trainers.
TRAINING_SOURCES = tuple(ROOT / "lab" / part for part in ("core", "worlds", "data", "training"))


class LabComputationError(RuntimeError):
    """A lab computation a scene needs failed; the message names the claim it backs."""

    def __init__(self, claim_id: str, error: BaseException) -> None:
        self.claim_id = claim_id
        super().__init__(
            f"the lab computation behind claim {claim_id} failed: {type(error).__name__}: {error}"
        )


@contextmanager
def backed_by(claim_id: str) -> Iterator[None]:
    """Run a lab computation on behalf of ``claim_id``; a failure is reported under that id."""
    try:
        yield
    except LabComputationError:
        raise
    except Exception as error:
        raise LabComputationError(claim_id, error) from error


@dataclass(frozen=True)
class Prompt:
    """One prompt of the lab's default world, as plain numbers for the scenes."""

    index: int
    text: str
    responses: tuple[str, ...]
    pi_ref: tuple[float, ...]
    reward: tuple[float, ...]
    beta: float  # the β the world is studied at

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.tensor(self.pi_ref, dtype=torch.float64),
            torch.tensor(self.reward, dtype=torch.float64),
        )

    @property
    def best(self) -> int:
        """The response with the highest reward (where π* goes as β → 0)."""
        return max(range(len(self.reward)), key=self.reward.__getitem__)

    @property
    def worst(self) -> int:
        return min(range(len(self.reward)), key=self.reward.__getitem__)


def prompt(index: int = 0) -> Prompt:
    """Prompt ``index`` of the lab's default world (0 is "What is 2 + 2?")."""
    with backed_by("step1.objective"):
        world = default_world()
        return Prompt(
            index=index,
            text=world.prompts[index],
            responses=tuple(world.responses[index]),
            pi_ref=tuple(world.pi_ref[index].tolist()),
            reward=tuple(world.reward[index].tolist()),
            beta=float(world.beta),
        )


def optimal(p: Prompt, beta: float) -> list[float]:
    """π*(y | x) = π_ref exp(r/β) / Z(x), from the lab."""
    with backed_by("step2.closed_form"):
        pi_ref, reward = p.tensors()
        return optimal_policy(pi_ref, reward, beta).tolist()


def tilt(p: Prompt, beta: float) -> list[float]:
    """exp(r(x, y)/β) relative to its largest value (the factor π_ref is reweighted by), in
    [0, 1]; computed in log space so that a small β does not overflow."""
    with backed_by("step2.closed_form"):
        _, reward = p.tensors()
        return torch.exp((reward - reward.max()) / beta).tolist()


def log_z(p: Prompt, beta: float) -> float:
    """log Z(x) for this prompt, from the lab."""
    with backed_by("step2.partition"):
        pi_ref, reward = p.tensors()
        return float(log_partition(pi_ref, reward, beta))


def log_ratio_reward(p: Prompt, beta: float) -> list[float]:
    """β log π*(y | x)/π_ref(y | x): the reward without its β log Z(x) term (step 3)."""
    with backed_by("step3.reparameterisation"):
        pi_ref, reward = p.tensors()
        pi_star = optimal_policy(pi_ref, reward, beta)
        return implicit_reward(pi_star, pi_ref, beta).tolist()


def preference_from_reward(p: Prompt, chosen: int, rejected: int) -> float:
    """p*(y_w ≻ y_l) = σ(r_w − r_l) from the true reward."""
    with backed_by("step4.bradley_terry"):
        _, reward = p.tensors()
        return float(preference_prob(reward[chosen], reward[rejected]))


def preference_from_policies(p: Prompt, chosen: int, rejected: int, beta: float) -> float:
    """p*(y_w ≻ y_l) from π* and π_ref alone, Z(x) cancelled (step 4's conclusion)."""
    with backed_by("step4.z_cancels"):
        pi_ref, reward = p.tensors()
        implicit = implicit_reward(optimal_policy(pi_ref, reward, beta), pi_ref, beta)
        return float(preference_prob(implicit[chosen], implicit[rejected]))


# --- step 5: DPO training on the default world, cached ---------------------------------------
# π_θ is shown after each of these numbers of training steps (one run per number, each with the
# lab's own schedule); the last is the lab's default full run.
TRAINING_STEPS: tuple[int, ...] = (10, 30, 100, 300, 1000)


@dataclass(frozen=True)
class Snapshot:
    """π_θ after ``steps`` steps of DPO on the population of preference pairs."""

    steps: int
    policy: list[list[float]]  # (prompts, responses)
    loss: float  # the expected DPO loss
    max_abs_error: float  # max over (x, y) of |π_θ − π*|


@dataclass(frozen=True)
class Training:
    """What step 5 shows of the lab's training, as plain numbers (JSON-cacheable)."""

    beta: float
    optimal: list[list[float]]  # the closed-form π*
    loss_at_reference: float  # the expected DPO loss at π_θ = π_ref
    snapshots: list[Snapshot]  # the first at step 0: π_θ = π_ref
    rlhf_max_abs_difference: float  # max |π_θ(DPO) − π(reward model + KL-RL)|

    @property
    def final(self) -> Snapshot:
        return self.snapshots[-1]


def training_key(settings: dict) -> str:
    """A cache key for a training run: a digest of its ``settings``, torch's version and the
    source of the lab code that trains (``TRAINING_SOURCES``)."""
    digest = hashlib.sha256()
    settings = {**settings, "torch": torch.__version__}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(source_digest(*TRAINING_SOURCES).encode())
    return digest.hexdigest()[:16]


def _training_key() -> str:
    """The key of step 5's trained policies: the world and the steps."""
    world = default_world()
    return training_key(
        {
            "pi_ref": world.pi_ref.tolist(),
            "reward": world.reward.tolist(),
            "beta": world.beta,
            "steps": TRAINING_STEPS,
        }
    )


def _train() -> Training:
    world = default_world()
    weights = population_pair_weights(world.pi_ref, world.reward)
    star = optimal_policy(world.pi_ref, world.reward, world.beta)
    log_ref = torch.log(world.pi_ref)
    at_reference, _ = weighted_pair_loss(log_ref, log_ref, weights, world.beta)
    start = Snapshot(
        steps=0,
        policy=world.pi_ref.tolist(),
        loss=float(at_reference),
        max_abs_error=(world.pi_ref - star).abs().max().item(),
    )
    snapshots = [start]
    for steps in TRAINING_STEPS:
        config = TabularConfig(steps=steps, device="cpu")
        trained = train_tabular(world.pi_ref, weights, world.beta, config)
        snapshots.append(
            Snapshot(
                steps=steps,
                policy=trained.policy.tolist(),
                loss=trained.final_loss,
                max_abs_error=(trained.policy - star).abs().max().item(),
            )
        )
    pipeline = TabularConfig(steps=TRAINING_STEPS[-1], device="cpu")
    rlhf, _ = rlhf_policy(world.pi_ref, weights, world.beta, pipeline)
    final = torch.tensor(snapshots[-1].policy, dtype=torch.float64)
    return Training(
        beta=float(world.beta),
        optimal=star.tolist(),
        loss_at_reference=float(at_reference),
        snapshots=snapshots,
        rlhf_max_abs_difference=(final - rlhf).abs().max().item(),
    )


def training(cache_dir: Path = CACHE_DIR) -> Training:
    """The lab's DPO training on the default world, from the cache when it is up to date (an
    entry that does not read is discarded, saying so, and the training runs again)."""
    path = cache_dir / f"step5-training-{_training_key()}.json"
    cached = read_cache(path, _training_from_json)
    if cached is not None:
        return cached
    with backed_by("step5.converges_to_optimal"):
        result = _train()
    write_text_atomically(path, json.dumps(asdict(result)))  # racing renders: whole files
    return result


def _training_from_json(data: dict) -> Training:
    snapshots = [Snapshot(**snapshot) for snapshot in data["snapshots"]]
    return Training(**{**data, "snapshots": snapshots})

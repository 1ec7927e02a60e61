"""Solvers that know nothing of the closed form: the numerical maximiser of the RLHF objective, and
the two-stage pipeline DPO replaces (a Bradley–Terry reward model, then KL-regularised RL).

The claims hold the closed form against them (step 2: π* is the maximiser; step 5: DPO lands on
the pipeline's policy), and the reports run the pipeline beside DPO on the same data.
"""

from __future__ import annotations

import torch

from lab.core.dpo import reward_model_loss
from lab.core.validation import check_reference_and_reward
from lab.training.devices import pick_device
from lab.training.tabular import TabularConfig
from lab.worlds.tabular import DTYPE

NEWTON_STOP = 1e-14  # a logit step this small moves π by float64 rounding


def _objective_of_logits(
    logits: torch.Tensor, reward: torch.Tensor, log_ref: torch.Tensor, beta: float
) -> torch.Tensor:
    """J(softmax(logits)) per prompt, written out from the definition. Shapes: (..., K) → (...)."""
    log_pi = torch.log_softmax(logits, dim=-1)
    pi = log_pi.exp()
    return (pi * reward).sum(-1) - beta * (pi * (log_pi - log_ref)).sum(-1)


def maximise_objective(
    pi_ref: torch.Tensor,
    reward: torch.Tensor,
    beta: float,
    ascent_steps: int = 300,
    lr: float = 0.1,
    newton_steps: int = 30,
) -> torch.Tensor:
    """A numerical maximiser of J(π) = E_π[r] − β KL(π‖π_ref) that knows nothing of the closed
    form: Adam ascent on the logits of a softmax policy from π_ref, then Newton steps on the same
    logits (Hessian by autograd, one block per prompt) to polish.

    Why Newton: J's curvature along the logit of response y is about β·π(y), so plain gradient
    ascent crawls wherever π is small, and its error falls only like 1/steps.
    This is also the "RL" half of the reward-model pipeline: the exact policy gradient of J, which a
    sampling RL method (PPO) would estimate. Needs π_ref > 0 (finite logits).
    Shapes: (..., n_responses) in and out.
    """
    beta = check_reference_and_reward(pi_ref, reward, beta)
    if bool((pi_ref == 0).any()):
        raise ValueError("pi_ref has zeros: the logit maximiser needs π_ref > 0 everywhere")
    pi_ref, reward = torch.broadcast_tensors(pi_ref.detach(), reward.detach())
    shape = pi_ref.shape
    log_ref = torch.log(pi_ref).reshape(-1, shape[-1])
    reward = reward.reshape(-1, shape[-1])

    logits = log_ref.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([logits], lr=lr)
    for _ in range(ascent_steps):
        optimiser.zero_grad()
        (-_objective_of_logits(logits, reward, log_ref, beta).sum()).backward()
        optimiser.step()

    def row_objective(row, row_reward, row_log_ref):
        return _objective_of_logits(row, row_reward, row_log_ref, beta)

    gradient = torch.func.vmap(torch.func.grad(row_objective))
    # reverse over reverse: torch.func.hessian's forward mode loads deprecated TorchScript code
    hessian = torch.func.vmap(torch.func.jacrev(torch.func.jacrev(row_objective)))
    theta = logits.detach()
    for _ in range(newton_steps):
        g = gradient(theta, reward, log_ref)
        h = hessian(theta, reward, log_ref)
        # the Hessian is singular along (1, …, 1) (softmax ignores a shift): pseudo-inverse
        step = (torch.linalg.pinv(h, hermitian=True, rtol=1e-12) @ g[..., None])[..., 0]
        theta = theta - step
        if step.abs().max() <= NEWTON_STOP:  # converged: more steps only jitter the last bit
            break
    return torch.softmax(theta, dim=-1).reshape(shape)


def fit_reward_model(
    weights: torch.Tensor, config: TabularConfig = TabularConfig()
) -> torch.Tensor:
    """A reward table r̂(x, y) fitted by Bradley–Terry maximum likelihood: minimise
    Σ W[x, w, l] · (−log σ(r̂(x, w) − r̂(x, l))) (``reward_model_loss``) with Adam from r̂ = 0, its
    learning rate cosine-decayed. r̂ is identified only up to a per-prompt shift f(x), which step 3
    shows does not matter. Shapes: weights (P, K, K) → reward (P, K), on the cpu.
    """
    device = pick_device(config.device)
    weights = weights.to(device, DTYPE)
    x, w, l = weights.nonzero(as_tuple=True)  # noqa: E741
    pair_weights = weights[x, w, l]
    reward = torch.zeros(weights.shape[:-1], dtype=DTYPE, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([reward], lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps)
    for _ in range(config.steps):
        optimiser.zero_grad()
        nll = (pair_weights * reward_model_loss(reward[x, w], reward[x, l])).sum()
        nll.backward()
        optimiser.step()
        schedule.step()
    return reward.detach().cpu()


def rlhf_policy(
    pi_ref: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
    config: TabularConfig = TabularConfig(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two-stage pipeline DPO replaces: a Bradley–Terry reward model, then the policy that
    maximises E_π[r̂] − β KL(π‖π_ref), found numerically (``maximise_objective``).
    Returns (policy, fitted reward), both (P, K)."""
    reward = fit_reward_model(weights, config)
    return maximise_objective(pi_ref, reward, beta), reward


def score_function_surrogate(
    log_probs: torch.Tensor, samples: torch.Tensor, reward: torch.Tensor
) -> torch.Tensor:
    """The REINFORCE estimate of ∇_θ E_{y∼π_θ}[r(x, y)] from sampled responses: the mean over
    samples of r(x, y) ∇_θ log π_θ(y | x) (step 1), what a sampling RL method (PPO) estimates.

    Args:
        log_probs: log π_θ(y | x), differentiable in θ. Shape: (prompts, responses)
        samples: responses drawn from π_θ, per prompt. Shape: (prompts, n), int64
        reward: r(x, y). Shape: (prompts, responses)
    Returns:
        The surrogate Σ_x mean_n r(x, y_n) log π_θ(y_n | x), whose gradient in θ is the estimate
        (summed over prompts): call ``torch.autograd.grad`` on it.
    """
    picked = log_probs.gather(1, samples)
    return (reward.gather(1, samples) * picked).mean(dim=1).sum()

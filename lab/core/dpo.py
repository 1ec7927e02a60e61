"""The mathematics of DPO, as pure torch functions, in the order of the derivation (DPO paper, §4).

    1. the RLHF objective (eq. 3)       J(π) = E_{y∼π}[r(x, y)] − β KL(π ‖ π_ref)
    2. its maximiser (eq. 4)            π*(y|x) = π_ref(y|x) exp(r(x, y)/β) / Z(x)
    3. the reward solved for (eq. 5)    r(x, y) = β log π*(y|x)/π_ref(y|x) + β log Z(x)
    4. Bradley–Terry (eq. 6): Z cancels P(y_w ≻ y_l | x) = σ(r(x, y_w) − r(x, y_l))
    5. the DPO loss (eq. 7)             −log σ(β log π_θ/π_ref (y_w) − β log π_θ/π_ref (y_l))
       and its gradient's weight (eq. 8)  σ(r̂_l − r̂_w)

and the loss DPO replaces: the reward model's −log σ(r_φ(x, y_w) − r_φ(x, y_l)).

Tables have the response dimension last and broadcast over leading (prompt) dimensions. Bad input
raises ValueError naming the argument (``lab.core.validation``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lab.core.validation import (
    check_all_finite,
    check_beta,
    check_broadcastable,
    check_distribution,
    check_finite,
    check_reference_and_reward,
    check_same_responses,
    check_same_shape,
    check_support,
)

# ---- step 1: the objective ----------------------------------------------------------------------


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p ‖ q) = Σ_y p(y) log(p(y)/q(y)) over the last dimension, with 0·log 0 = 0.

    Shapes: (..., n_responses) → the broadcast leading dims. Raises ValueError if either is not a
    distribution, the shapes differ, or q is 0 where p is not (the divergence is infinite there).
    """
    _check_divergence_inputs("p", p, "q", q)
    return _kl(p, q)


def _check_divergence_inputs(name: str, p: torch.Tensor, other_name: str, q: torch.Tensor) -> None:
    check_distribution(name, p)
    check_distribution(other_name, q)
    check_same_responses(name, p, other_name, q)
    check_support(name, p, other_name, q)


def kl_divergence_to_log(p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p ‖ q) with q given by its logarithm: finite where q underflows to 0 but log q does not
    (π* at a small β: e^{−800} is 0 in float64, −800 is a number). Shapes as ``kl_divergence``;
    raises ValueError for a NaN or +inf in log q, or log q = −inf where p is positive."""
    check_distribution("p", p)
    check_same_responses("p", p, "log_q", log_q)
    if bool((log_q.isnan() | (log_q == float("inf"))).any()):
        raise ValueError("log_q must be a log-probability: no NaN, no +inf")
    check_support("p", p, "q", (log_q > float("-inf")).to(p.dtype))  # q = 0 exactly where −inf
    return _kl_to_log(p, log_q)


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return _kl_to_log(p, torch.log(q))


def _kl_to_log(p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    # where p = 0 the term is 0 whatever q is; torch.where keeps log(0) out of the sum
    terms = torch.where(p > 0, p * (torch.log(p) - log_q), torch.zeros_like(p))
    return terms.sum(dim=-1)


def expected_reward(pi: torch.Tensor, reward: torch.Tensor) -> torch.Tensor:
    """E_{y∼π}[r(x, y)]. Shapes: (..., n_responses) → (...)."""
    check_distribution("pi", pi)
    check_finite("reward", reward)
    check_same_responses("pi", pi, "reward", reward)
    return (pi * reward).sum(dim=-1)


def rlhf_objective(
    pi: torch.Tensor, pi_ref: torch.Tensor, reward: torch.Tensor, beta: float
) -> torch.Tensor:
    """J(π) = E_π[r] − β KL(π ‖ π_ref), per prompt (step 1, eq. 3).

    Args:
        pi, pi_ref, reward: π(y|x), π_ref(y|x) and r(x, y). Shape: (..., n_responses)
        beta: the KL strength β > 0.
    Returns:
        J per prompt. Shape: the broadcast leading dims.
    """
    beta = check_beta(beta)
    _check_divergence_inputs("pi", pi, "pi_ref", pi_ref)
    return expected_reward(pi, reward) - beta * _kl(pi, pi_ref)


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """TV(p, q) = ½ Σ_y |p(y) − q(y)| over the last dimension: how far a policy is from π*.
    Raises ValueError if either is not a distribution or the shapes differ."""
    check_distribution("p", p)
    check_distribution("q", q)
    check_same_responses("p", p, "q", q)
    return 0.5 * (p - q).abs().sum(dim=-1)


# ---- step 2: the optimal policy -----------------------------------------------------------------


def log_partition(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """log Z(x) = log Σ_y π_ref(y|x) exp(r(x, y)/β), as a log-sum-exp (step 2, eq. 4): finite even
    where exp(r/β) overflows. Shapes: (..., n_responses) → the broadcast leading dims."""
    beta = check_reference_and_reward(pi_ref, reward, beta)
    return torch.logsumexp(torch.log(pi_ref) + reward / beta, dim=-1)


def log_optimal_policy(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """log π*(y|x) = log π_ref(y|x) + r(x, y)/β − log Z(x) (step 3's first line). −inf where
    π_ref is 0. Shape: the broadcast of the inputs' shapes, (..., n_responses)."""
    beta = check_reference_and_reward(pi_ref, reward, beta)
    return torch.log_softmax(torch.log(pi_ref) + reward / beta, dim=-1)


def optimal_policy(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """π* = π_ref exp(r/β) / Z, the maximiser of J (step 2, eq. 4), computed in log space.
    Shapes as ``log_optimal_policy``."""
    return torch.exp(log_optimal_policy(pi_ref, reward, beta))


# ---- step 3: the reward in terms of its optimal policy ------------------------------------------


def implicit_reward(pi: torch.Tensor, pi_ref: torch.Tensor, beta: float) -> torch.Tensor:
    """r̂(x, y) = β log π(y|x)/π_ref(y|x): the reward that π is optimal for, up to β log Z(x)
    (step 3, eq. 5; DPO's "implicit reward").

    Shapes: (..., n_responses), leading dims broadcast. −inf where π is 0 (a response π never
    gives). Raises ValueError where π_ref is 0: the log-ratio is infinite or undefined there.
    """
    beta = check_beta(beta)
    _check_divergence_inputs("pi", pi, "pi_ref", pi_ref)
    if bool((pi_ref == 0).any()):
        raise ValueError("pi_ref has zeros: β log(π/π_ref) is undefined where both are 0")
    return beta * (torch.log(pi) - torch.log(pi_ref))


# ---- step 4: Bradley–Terry ----------------------------------------------------------------------


def preference_prob(reward_w: torch.Tensor, reward_l: torch.Tensor) -> torch.Tensor:
    """P(y_w ≻ y_l) = σ(r_w − r_l) under Bradley–Terry (step 4, eq. 6). Shapes broadcast.
    Raises ValueError for a NaN or infinite reward, or shapes that do not broadcast."""
    _check_reward_pair(reward_w, reward_l)
    return torch.sigmoid(reward_w - reward_l)


def _check_reward_pair(reward_w: torch.Tensor, reward_l: torch.Tensor) -> None:
    rewards = {"reward_w": reward_w, "reward_l": reward_l}
    check_broadcastable(rewards)
    check_all_finite(rewards)


def bradley_terry_choice(reward_w: torch.Tensor, reward_l: torch.Tensor) -> torch.Tensor:
    """P(y_w ≻ y_l) written as Bradley–Terry defines it, e^{r_w} / (e^{r_w} + e^{r_l}), computed
    as a two-way softmax so that rewards of ±1e3 neither overflow nor give NaN. Shapes broadcast;
    bad input as ``preference_prob``."""
    _check_reward_pair(reward_w, reward_l)
    both = torch.stack(torch.broadcast_tensors(reward_w, reward_l))
    return torch.softmax(both, dim=0)[0]


def reward_model_loss(reward_chosen: torch.Tensor, reward_rejected: torch.Tensor) -> torch.Tensor:
    """−log σ(r_φ(x, y_w) − r_φ(x, y_l)) per pair: the Bradley–Terry negative log-likelihood that
    RLHF fits its reward model r_φ with. DPO's loss is this loss with the implicit reward in
    place of r_φ. Shapes broadcast; returns the per-pair losses."""
    check_finite("reward_chosen", reward_chosen)
    check_finite("reward_rejected", reward_rejected)
    check_broadcastable({"reward_chosen": reward_chosen, "reward_rejected": reward_rejected})
    return -F.logsigmoid(reward_chosen - reward_rejected)


# ---- step 5: the DPO loss -----------------------------------------------------------------------


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The DPO loss for a batch of preference pairs (step 5, eq. 7), with the arguments and
    returns of the DPO authors' ``preference_loss`` (eric-mitchell/direct-preference-optimization,
    trainers.py).

    Args:
        policy_chosen_logps: log π_θ(y_w | x), a sum over y_w's tokens. Shape: (batch_size,)
        policy_rejected_logps: log π_θ(y_l | x). Shape: (batch_size,)
        reference_chosen_logps: log π_ref(y_w | x). Shape: (batch_size,)
        reference_rejected_logps: log π_ref(y_l | x). Shape: (batch_size,)
        beta: the KL strength β > 0.

    Returns:
        (losses, chosen_rewards, rejected_rewards), each of shape (batch_size,): the per-pair loss
        −log σ(β·h), h the difference of the two log-ratios, and the detached implicit rewards
        β·log π_θ/π_ref of the chosen and of the rejected response (for logging). An empty
        batch gives empty tensors. float16 and bfloat16 log-probs are computed, and returned, in
        float32: β·h overflows float16 at 65 504 and the loss would be inf.

    Raises:
        ValueError for β ≤ 0 or not finite, a NaN or infinite log-prob, or log-prob tensors of
        different shapes (no broadcasting: a (B,) and a (B, 1) would make a (B, B) loss).
        Log-ratios of ±1e4 are fine: the loss is a logsigmoid, never log(σ(·)).
    """
    beta = check_beta(beta)
    logps = {
        "policy_chosen_logps": policy_chosen_logps,
        "policy_rejected_logps": policy_rejected_logps,
        "reference_chosen_logps": reference_chosen_logps,
        "reference_rejected_logps": reference_rejected_logps,
    }
    check_same_shape(logps)
    check_all_finite(logps)
    policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps = (
        _at_least_float32(logps.values())
    )
    pi_logratios = policy_chosen_logps - policy_rejected_logps
    ref_logratios = reference_chosen_logps - reference_rejected_logps
    logits = pi_logratios - ref_logratios
    # logsigmoid, not log(sigmoid(·)), which is −inf for large negative arguments; and not
    # softplus, whose default threshold of 20 switches to a linear approximation.
    losses = -F.logsigmoid(beta * logits)
    chosen_rewards = beta * (policy_chosen_logps - reference_chosen_logps).detach()
    rejected_rewards = beta * (policy_rejected_logps - reference_rejected_logps).detach()
    return losses, chosen_rewards, rejected_rewards


def _at_least_float32(tensors) -> list[torch.Tensor]:
    """float16 and bfloat16 tensors as float32 (autograd casts their gradients back); others as
    they are."""
    return [t.float() if torch.finfo(t.dtype).bits < 32 else t for t in tensors]


def gradient_weight(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """σ(r̂_l − r̂_w): how strongly each pair pulls on the policy (eq. 8, in
    ∇L = −β E[σ(r̂_l − r̂_w)(∇log π_θ(y_w) − ∇log π_θ(y_l))]).

    Large when the implicit reward ranks the rejected response above the chosen one; it fades as
    the policy ranks the pair right. Arguments as ``dpo_loss``; returns shape (batch_size,).
    """
    _, chosen_rewards, rejected_rewards = dpo_loss(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return torch.sigmoid(rejected_rewards - chosen_rewards)

"""The numerical lab: each step of the DPO derivation, computed and checked. Never imports manim.

The public functions are the maths core's (``lab.core``); importing them registers no claim and
loads neither sympy nor transformers. Claims load when asked for (``lab.claims.all_claims``).
"""

from lab.core.dpo import (
    bradley_terry_choice,
    dpo_loss,
    gradient_weight,
    implicit_reward,
    kl_divergence,
    log_optimal_policy,
    log_partition,
    optimal_policy,
    preference_prob,
    reward_model_loss,
    rlhf_objective,
    total_variation,
)
from lab.core.sequences import plain_sequence_logprobs, sequence_logprobs

__all__ = [
    "bradley_terry_choice",
    "dpo_loss",
    "gradient_weight",
    "implicit_reward",
    "kl_divergence",
    "log_optimal_policy",
    "log_partition",
    "optimal_policy",
    "plain_sequence_logprobs",
    "preference_prob",
    "reward_model_loss",
    "rlhf_objective",
    "sequence_logprobs",
    "total_variation",
]

"""The numerical lab: each step of the DPO derivation, computed and checked. Never imports manim."""

from lab.sequences import sequence_logprobs
from lab.step1_objective import kl_divergence, rlhf_objective
from lab.step2_optimal_policy import log_partition, optimal_policy
from lab.step3_reparameterisation import implicit_reward
from lab.step4_bradley_terry import bradley_terry_choice, preference_prob
from lab.step5_dpo_loss import dpo_loss, gradient_weight

__all__ = [
    "bradley_terry_choice",
    "dpo_loss",
    "gradient_weight",
    "implicit_reward",
    "kl_divergence",
    "log_partition",
    "optimal_policy",
    "preference_prob",
    "rlhf_objective",
    "sequence_logprobs",
]

"""Training: the tabular and transformer DPO trainers (one config dataclass each), the solvers
that know nothing of the closed form (J's maximiser, the reward-model + KL-RL pipeline), the tiny
GPT-2 and its π_ref, and runs compared with π*."""

"""Input checks shared by the lab's public functions.

Each raises ``ValueError`` naming the argument and the problem, so that a bad β or a π_ref that does
not sum to one fails loudly at the call instead of turning into a NaN three functions later.
"""

from __future__ import annotations

import math

import torch


def check_beta(beta: float) -> float:
    """β must be a finite number > 0 (the KL strength; it divides the reward in π*)."""
    value = float(beta.item() if isinstance(beta, torch.Tensor) else beta)
    if not math.isfinite(value):
        raise ValueError(f"beta must be finite, got {value}")
    if value <= 0:
        raise ValueError(f"beta must be > 0, got {value}")
    return value


def _first_index(mask: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in mask.nonzero()[0])


def check_finite(name: str, values: torch.Tensor) -> None:
    """No NaN or ±inf anywhere in ``values``."""
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        index = _first_index(bad)
        raise ValueError(
            f"{name} must be finite: {int(bad.sum())} entries are not, "
            f"e.g. {values[index].item()} at index {index}"
        )


def check_all_finite(tensors: dict[str, torch.Tensor]) -> None:
    """``check_finite`` for each of ``tensors`` (which must broadcast), in one pass when they are
    all finite: a NaN or ±inf anywhere makes their sum non-finite, so a finite sum clears them
    all with one device sync. A non-finite sum (or an overflow) gets the per-tensor check."""
    if bool(torch.isfinite(sum(tensors.values())).all()):
        return
    for name, values in tensors.items():
        check_finite(name, values)


def sum_tolerance(dtype: torch.dtype) -> float:
    """How far from 1 a distribution may sum: √eps of its dtype (1.5e-8 for float64, 3.5e-4 for
    float32), loose enough for rounding, tight enough to catch a forgotten normalisation."""
    return math.sqrt(torch.finfo(dtype).eps) if dtype.is_floating_point else 0.0


def check_responses(name: str, table: torch.Tensor) -> None:
    """A table over responses: a last dimension, and at least one response in it. Zero rows (an
    empty batch of prompts) are fine: the result has zero rows too."""
    if table.dim() == 0:
        raise ValueError(f"{name} must have a response dimension (the last); got a scalar")
    if table.shape[-1] == 0:
        raise ValueError(
            f"{name} must have at least one response: its last dimension is 0 "
            f"(shape {tuple(table.shape)})"
        )


def check_distribution(name: str, probs: torch.Tensor) -> None:
    """``probs`` holds distributions over its last dimension: finite, ≥ 0, each summing to 1."""
    if not probs.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {probs.dtype}")
    check_responses(name, probs)
    if probs.numel() == 0:  # no prompts: nothing to check
        return
    check_finite(name, probs)
    negative = probs < 0
    if bool(negative.any()):
        index = _first_index(negative)
        raise ValueError(
            f"{name} has negative entries: {probs[index].item():.6g} at index {index} "
            "(probabilities must be ≥ 0)"
        )
    totals = probs.sum(dim=-1)
    deviation = (totals - 1).abs()
    worst = int(deviation.argmax()) if deviation.numel() > 1 else 0
    worst_deviation = deviation.flatten()[worst].item()
    if worst_deviation > sum_tolerance(probs.dtype):
        total = totals.flatten()[worst].item()
        raise ValueError(
            f"{name} must sum to 1 over its last dimension: one row sums to {total:.10g}, "
            f"off by {total - 1:+.3g}"
        )


def check_same_responses(
    name: str, tensor: torch.Tensor, other_name: str, other: torch.Tensor
) -> None:
    """Two tables over the same responses: equal last dimension, leading dimensions broadcast."""
    check_responses(name, tensor)
    check_responses(other_name, other)
    if tensor.shape[-1] != other.shape[-1]:
        raise ValueError(
            f"{name} has shape {tuple(tensor.shape)} but {other_name} has shape "
            f"{tuple(other.shape)}: the response dimension (the last) must match"
        )
    try:
        torch.broadcast_shapes(tensor.shape, other.shape)
    except RuntimeError:
        raise ValueError(
            f"{name} has shape {tuple(tensor.shape)} and {other_name} has shape "
            f"{tuple(other.shape)}: their leading (prompt) dimensions do not broadcast"
        ) from None


def check_same_shape(tensors: dict[str, torch.Tensor]) -> None:
    """Tensors that hold one entry per pair each: the same shape, no broadcasting (a (B,) and a
    (B, 1) would broadcast into a (B, B) table of every pair with every other)."""
    (first, first_tensor), *others = tensors.items()
    for name, tensor in others:
        if tensor.shape != first_tensor.shape:
            raise ValueError(
                f"{name} has shape {tuple(tensor.shape)} but {first} has shape "
                f"{tuple(first_tensor.shape)}: one entry per pair, the same shape for all"
            )


def check_broadcastable(tensors: dict[str, torch.Tensor]) -> None:
    """Tensors used together element-wise (one entry per pair, say) must broadcast."""
    if len({t.shape for t in tensors.values()}) == 1:  # the usual case, and the cheap one
        return
    try:
        torch.broadcast_shapes(*(t.shape for t in tensors.values()))
    except RuntimeError:
        shapes = ", ".join(f"{name} {tuple(t.shape)}" for name, t in tensors.items())
        raise ValueError(f"shapes do not broadcast: {shapes}") from None


def check_support(name: str, probs: torch.Tensor, other_name: str, other: torch.Tensor) -> None:
    """``other`` must be positive wherever ``probs`` is: otherwise KL(probs ‖ other) and
    log(probs/other) are infinite."""
    probs, other = torch.broadcast_tensors(probs, other)
    uncovered = (other == 0) & (probs > 0)
    if bool(uncovered.any()):
        index = _first_index(uncovered)
        raise ValueError(
            f"{other_name} is 0 where {name} is positive ({name}={probs[index].item():.6g} at "
            f"index {index}): KL({name} ‖ {other_name}) is infinite there"
        )


def check_positive(name: str, value: float) -> float:
    """A finite number > 0 (a learning rate, a scale)."""
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_count(name: str, value: int, minimum: int = 1) -> int:
    """A whole number ≥ ``minimum`` (steps, pairs, seeds)."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value}")
    return int(value)


def check_reference_and_reward(pi_ref: torch.Tensor, reward: torch.Tensor, beta: float) -> float:
    """The inputs of π* and of J's maximiser: π_ref a distribution, r finite over the same
    responses, β > 0. Returns β as a float."""
    check_distribution("pi_ref", pi_ref)
    check_finite("reward", reward)
    check_same_responses("reward", reward, "pi_ref", pi_ref)
    beta = check_beta(beta)
    check_reward_over_beta(reward, beta)
    return beta


def check_reward_over_beta(reward: torch.Tensor, beta: float) -> None:
    """r/β, the exponent of π* = π_ref exp(r/β)/Z, must be a finite number of the reward's dtype:
    a reward of 1e308 or a β of 1e-320 overflows it to ±inf, and π* to NaN."""
    scaled = reward / beta
    bad = ~torch.isfinite(scaled)
    if bool(bad.any()):
        index = _first_index(bad)
        largest = torch.finfo(scaled.dtype).max
        raise ValueError(
            f"reward / beta is out of range: r/β = {scaled[index].item()} at index {index} "
            f"(reward {reward[index].item():.6g}, beta {beta:.6g}); it must be finite in "
            f"{scaled.dtype} (|r/β| ≤ {largest:.3g}): use a larger beta or rescale the reward"
        )

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


def check_distribution(name: str, probs: torch.Tensor) -> None:
    """``probs`` holds distributions over its last dimension: finite, ≥ 0, each summing to 1."""
    if not probs.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {probs.dtype}")
    if probs.dim() == 0:
        raise ValueError(f"{name} must have a response dimension (the last); got a scalar")
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
    if tensor.dim() == 0 or other.dim() == 0:
        scalar = name if tensor.dim() == 0 else other_name
        raise ValueError(f"{scalar} must have a response dimension (the last); got a scalar")
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
    return check_beta(beta)

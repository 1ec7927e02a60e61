"""Tensors whose dimensions are named by the variables they range over, and what a TeX symbol
can stand for when a claim's equation is evaluated (``lab.claims.evaluate``).

π(y_w | x) over every pair is a tensor with dimensions ("x", "y_w"); Σ_y sums the dimension "y";
two tensors combine by aligning their names, so a free variable of an equation ranges over its
whole domain and the equation must hold at every point of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

DTYPE = torch.float64


@dataclass(frozen=True)
class Named:
    """A tensor with one name per dimension. ``error``: the standard error of an estimate (a
    sampled frequency, say), which an equality may allow for."""

    values: torch.Tensor
    dims: tuple[str, ...] = ()
    error: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.values.dim() != len(self.dims) or len(set(self.dims)) != len(self.dims):
            raise ValueError(f"dims {self.dims} do not name a tensor of shape {self.shape}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def size(self, dim: str) -> int:
        return self.values.shape[self.dims.index(dim)]

    def to_dims(self, dims: tuple[str, ...]) -> torch.Tensor:
        """The values arranged along ``dims`` (a superset of its own), size 1 where it has none."""
        order = [self.dims.index(d) for d in dims if d in self.dims]
        values = self.values.permute(order) if order else self.values
        shape = [self.size(d) if d in self.dims else 1 for d in dims]
        return values.reshape(shape)

    def error_along(self, dims: tuple[str, ...]) -> torch.Tensor:
        """The standard error arranged like ``to_dims`` (0 for an exact value)."""
        if self.error is None:
            return torch.zeros(())
        return Named(self.error, self.dims).to_dims(dims)

    def summed(self, dim: str) -> Named:
        keep = tuple(d for d in self.dims if d != dim)
        return Named(self.values.sum(self.dims.index(dim)), keep)


def scalar(value: float | torch.Tensor) -> Named:
    return Named(torch.as_tensor(value, dtype=DTYPE))


def aligned(*tensors: Named) -> tuple[tuple[str, ...], list[torch.Tensor]]:
    """The union of the dimension names (in order of first appearance), and each tensor's values
    arranged along it, ready to broadcast."""
    dims: list[str] = []
    for tensor in tensors:
        dims += [d for d in tensor.dims if d not in dims]
    return tuple(dims), [t.to_dims(tuple(dims)) for t in tensors]


def combine(function: Callable[..., torch.Tensor], *tensors: Named) -> Named:
    """``function`` applied element by element, the dimensions aligned by name."""
    dims, values = aligned(*tensors)
    result = function(*values)
    return Named(result.expand(torch.broadcast_shapes(*(v.shape for v in values))), dims)


def variable(name: str, size: int) -> Named:
    """A variable that runs over 0 … size − 1: the index of its own dimension."""
    return Named(torch.arange(size), (name,))


# ---- what a symbol can stand for ---------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A function given by its table of values, called as the TeX calls it: π(y | x) is
    ``Table(values, dims=("x", "y"), call=("y", "x"))`` — the call's arguments, ``args`` then
    ``given``, index the dimensions named in ``call``. A dimension of the table not in ``call``
    is carried along, or, when an argument runs over it too, matched to it (the same row)."""

    values: Named
    call: tuple[str, ...]
    origins: dict[str, int] = field(default_factory=dict)  # a dim whose first index is t = 1

    def __post_init__(self) -> None:
        missing = [d for d in self.call if d not in self.values.dims]
        if missing:
            raise ValueError(f"call dimensions {missing} are not among {self.values.dims}")

    def canonical(self) -> Named:
        """The table with its own dimension names: π written without arguments."""
        return self.values

    def __call__(self, *arguments: Named) -> Named:
        if len(arguments) != len(self.call):
            raise ValueError(f"called with {len(arguments)} arguments, takes {len(self.call)}")
        dims, indices = aligned(*arguments)
        rest = [d for d in self.values.dims if d not in self.call]
        shared = [d for d in rest if d in dims]  # the same row on both sides
        carried = [d for d in rest if d not in dims]
        index_of = {
            d: index - self.origins.get(d, 0) for d, index in zip(self.call, indices, strict=True)
        }
        for d in shared:
            index_of[d] = variable(d, self.values.size(d)).to_dims(dims)
        order = [self.values.dims.index(d) for d in (*index_of, *carried)]
        at = tuple(index.long() for index in index_of.values())
        picked = self.values.values.permute(order)[at]
        error = None if self.values.error is None else self.values.error.permute(order)[at]
        return Named(picked, (*dims, *carried), error)


@dataclass(frozen=True)
class Function:
    """A function the lab computes, applied to the evaluated arguments: J(π), L(π, λ)."""

    apply: Callable[..., Named]


@dataclass(frozen=True)
class Derived:
    """A value computed from the others at the time it is read, so that a premise that changes
    one (π_θ = π_ref ⇒ …) changes what depends on it: ``compute(binding)``."""

    compute: Callable[[Binding], object]


@dataclass(frozen=True)
class Search:
    """What a max or argmax over a policy is checked against: the lab's answer (``candidate``,
    a Table) and other policies it must beat (``probes``, a Table with a "probe" dimension)."""

    candidate: Table
    probes: Table


@dataclass
class Binding:
    """What each symbol of one claim's TeX stands for, in one context (a world, a β …).

    variables: each index variable's domain, a size (values 0 … size − 1) or a range (positions
        t = 1 … T are range(1, T + 1)).
    values: canonical symbol name (``lab.claims.tex.symbol_name``) → a Named, a Table, a
        Function, a Derived or a Search.
    limits: (variable, "inf" or "0") → the value that stands for that limit.
    tolerance, limit_tolerance, z: how close two sides must be for "=", for "→", and how many
        standard errors an estimate may be off.
    subject: the symbol that a premise "E ⇒ the same S" gives the new value E (the reward, say).
    """

    variables: dict[str, int | range]
    values: dict[str, object]
    limits: dict[tuple[str, str], float] = field(default_factory=dict)
    tolerance: float = 1e-10
    relative: bool = True
    limit_tolerance: float = 1e-3
    z: float = 5.0
    label: str = ""
    subject: str = ""

    def lookup(self, name: str) -> object:
        if name in self.values:
            entry = self.values[name]
            return entry.compute(self) if isinstance(entry, Derived) else entry
        if name in self.variables:
            domain = self.variables[name]
            domain = range(domain) if isinstance(domain, int) else domain
            return Named(torch.tensor(domain), (name,))
        raise KeyError(name)

    def with_values(self, overrides: dict[str, object]) -> Binding:
        return Binding(
            self.variables,
            {**self.values, **overrides},
            self.limits,
            self.tolerance,
            self.relative,
            self.limit_tolerance,
            self.z,
            self.label,
            self.subject,
        )

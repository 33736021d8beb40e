"""Matrix expansion with GitHub's ``include``/``exclude`` semantics. See docs/model.md."""

from __future__ import annotations

import itertools
from typing import Any

from .pipeline import Matrix, Scalar

Combination = dict[str, Scalar]


def expand_matrix(matrix: Matrix) -> list[Combination]:
    """The job instances a matrix stands for, each as axis -> value."""
    axes = matrix.axes
    names = list(axes)
    combos: list[Combination] = (
        [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]
        if names
        else []
    )
    combos = [c for c in combos if not any(_matches(c, ex) for ex in matrix.exclude)]
    originals = [dict(c) for c in combos]
    extra: list[Combination] = []
    for entry in matrix.include:
        fitted = False
        for original, combo in zip(originals, combos, strict=True):
            if all(original.get(k, v) == v for k, v in entry.items() if k in axes):
                combo.update(entry)
                fitted = True
        if not fitted:
            extra.append(dict(entry))
    return combos + extra


def _matches(combo: Combination, pattern: dict[str, Any]) -> bool:
    return all(combo.get(k) == v for k, v in pattern.items())


def is_plain(matrix: Matrix) -> bool:
    """True when the matrix is a bare cross product (no include, no exclude)."""
    return not matrix.include and not matrix.exclude

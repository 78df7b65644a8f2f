"""Percentiles by linear interpolation, exactly as PostgreSQL's `percentile_cont` computes them,
so a report reads the same whether the database or Python did the arithmetic."""

import math
from collections.abc import Sequence


def percentile_cont(ordered: Sequence[float], fraction: float) -> float | None:
    """The `fraction` percentile of `ordered` (ascending); None when it is empty.

    Same steps and float operations as PostgreSQL (orderedsetaggs.c): the row at
    fraction * (n - 1), interpolated between its floor and ceiling rows as lo + (hi - lo) * p.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    first, second = math.floor(position), math.ceil(position)
    low = float(ordered[first])
    if second == first:
        return low
    return low + (float(ordered[second]) - low) * (position - first)

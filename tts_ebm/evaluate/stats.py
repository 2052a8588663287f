"""Means with 95% confidence intervals (Student t), the form every number in a report takes.

Test sets are small (tens to a few hundred utterances), so the interval uses the t quantile with
n − 1 degrees of freedom rather than 1.96; utterances are treated as independent draws. Missing
values (None/NaN: e.g. no voiced frame for F0) are left out and the count says how many remain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class MeanCI:
    """Mean, half-width of its 95% interval (None below 2 values), standard deviation, count."""

    mean: float | None
    ci95: float | None
    std: float | None
    n: int

    @property
    def low(self) -> float | None:
        return None if self.mean is None or self.ci95 is None else self.mean - self.ci95

    @property
    def high(self) -> float | None:
        return None if self.mean is None or self.ci95 is None else self.mean + self.ci95

    def to_dict(self) -> dict:
        return {**asdict(self), "ci95_low": self.low, "ci95_high": self.high}


def mean_ci(values: Iterable[float | None], confidence: float = 0.95) -> MeanCI:
    """Mean and t-interval half-width of the finite values."""
    from scipy.stats import t

    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return MeanCI(None, None, None, 0)
    if len(x) == 1:
        return MeanCI(float(x[0]), None, None, 1)
    std = float(x.std(ddof=1))
    half = float(t.ppf(0.5 + confidence / 2, len(x) - 1) * std / math.sqrt(len(x)))
    return MeanCI(float(x.mean()), half, std, len(x))

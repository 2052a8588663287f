"""How well a score separates planted defects from clean pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Probability that a random positive scores above a random negative (ties count half):
    the Mann-Whitney U statistic over n₊·n₋."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        raise ValueError("ROC-AUC needs at least one positive and one negative")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def precision_at(scores: Sequence[float], positive: Sequence[bool], k: int) -> float:
    """Share of positives among the ``k`` highest scores (ties broken by order, stably)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return float(np.asarray(positive, dtype=bool)[order[:k]].mean())


def per_kind(
    scores: Sequence[float], kinds: Sequence[str], kind: str | None, clean: str = "clean"
) -> tuple[float, float]:
    """(ROC-AUC, precision at the planted rate) of ``kind`` against the clean pairs alone; None
    pools every kind. The planted rate is the kind's count, so a perfect score reaches 1.0."""
    kinds = np.asarray(kinds)
    keep = (kinds == clean) | (kinds != clean if kind is None else kinds == kind)
    positive = kinds[keep] != clean
    values = np.asarray(scores, dtype=np.float64)[keep]
    return roc_auc(values, positive), precision_at(values, positive, int(positive.sum()))

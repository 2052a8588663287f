"""One combined score from the per-pair scores, with weights measured on planted defects.

Each score is first *oriented* (larger = more suspect: a low alignment log-likelihood is
negated, a duration residual taken in absolute value) and *standardised* within the scored
corpus by its median and MAD, so weights fitted on one corpus carry over to another whose
scores sit elsewhere (another voice's energies, another speaker). The combination is a logistic
regression on those standardised scores, fitted by ``tts-ebm score study`` on a corpus with
planted defects and stored per checkpoint (keyed by the fingerprint of its weights) in
``combinations.json`` beside this module. A checkpoint without a fit gets the mean of the
standardised scores, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from tts_ebm.scoring.pairs import SCORES, Score

STORE = "combinations.json"
_MAD_TO_STD = 1.4826  # MAD of a normal distribution is 0.6745 sigma


def oriented(values: np.ndarray, score: Score) -> np.ndarray:
    """``values`` of ``score`` turned so that larger means more suspect."""
    values = np.asarray(values, dtype=np.float64)
    if score.worse == "low":
        return -values
    if score.worse == "far":
        return np.abs(values)
    return values


def standardised(values: np.ndarray) -> np.ndarray:
    """(x − median) / (1.4826 · MAD): robust to the defective tail it is meant to expose."""
    values = np.asarray(values, dtype=np.float64)
    centre = np.median(values)
    spread = _MAD_TO_STD * np.median(np.abs(values - centre))
    if not spread > 0:
        spread = float(values.std()) or 1.0
    return (values - centre) / spread


def features(
    columns: Mapping[str, Sequence[float]], scores: Sequence[Score] = SCORES
) -> np.ndarray:
    """(N, S) oriented, standardised scores of a corpus, one column per score."""
    return np.stack([standardised(oriented(columns[s.name], s)) for s in scores], axis=1)


@dataclass(frozen=True)
class Combination:
    """Weights on the standardised scores (a logistic regression's, without its intercept, which
    does not change the order); ``source`` says where they come from."""

    weights: dict[str, float]
    source: str

    def apply(self, columns: Mapping[str, Sequence[float]]) -> np.ndarray:
        chosen = [s for s in SCORES if s.name in self.weights]
        matrix = features(columns, chosen)
        return matrix @ np.array([self.weights[s.name] for s in chosen])


UNFITTED = Combination(
    {s.name: 1.0 / len(SCORES) for s in SCORES},
    "unfitted: the mean of the standardised scores (no fit stored for this checkpoint)",
)


def fit_logistic(matrix: np.ndarray, labels: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights (S,) and intercept of an L2-regularised logistic regression (the intercept not
    penalised), by L-BFGS on the exact log-loss gradient."""
    from scipy.optimize import minimize

    x = np.hstack([matrix, np.ones((len(matrix), 1))])
    y = np.asarray(labels, dtype=np.float64)
    penalty = np.r_[np.full(matrix.shape[1], l2), 0.0]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        # log(1 + e^z) − y·z, stable for large |z|
        value = np.logaddexp(0.0, z).sum() - y @ z + 0.5 * (penalty * w * w).sum()
        gradient = x.T @ (1.0 / (1.0 + np.exp(-z)) - y) + penalty * w
        return float(value), gradient

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    return result.x


def fitted(matrix: np.ndarray, labels: np.ndarray, source: str) -> Combination:
    weights = fit_logistic(matrix, labels)[:-1]
    return Combination({s.name: float(w) for s, w in zip(SCORES, weights, strict=True)}, source)


def _store_path() -> Path:
    return Path(str(files("tts_ebm.scoring") / STORE))


def stored(key: str, path: Path | None = None) -> Combination:
    """The combination fitted for the checkpoint whose fingerprint is ``key``, or
    :data:`UNFITTED`."""
    path = path or _store_path()
    table = json.loads(path.read_text()) if path.is_file() else {}
    entry = table.get(key)
    if entry is None:
        return UNFITTED
    return Combination({k: float(v) for k, v in entry["weights"].items()}, entry["source"])


def store(key: str, combination: Combination, name: str, path: Path | None = None) -> None:
    """Write (or replace) the entry for ``key``; ``name`` labels it for a reader of the file."""
    path = path or _store_path()
    table = json.loads(path.read_text()) if path.is_file() else {}
    table[key] = {"voice": name, "weights": combination.weights, "source": combination.source}
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")

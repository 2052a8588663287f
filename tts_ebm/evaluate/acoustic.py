"""Mel-cepstral distortion and F0 errors between two utterances, after one DTW alignment.

Synthesised speech never has the reference's timing, so frames are paired by dynamic time
warping on the mel-cepstra (c₁..c_M, Euclidean distance, steps (1,1), (1,0), (0,1), exact DTW
by ``librosa.sequence.dtw``); the *same* path pairs the F0 frames, so all three numbers describe
the same frame pairs.

- MCD (dB) = mean over path pairs (i, j) of (10 / ln 10) · sqrt(2 · Σ_{d=1..M} (c_d,i − c'_d,j)²);
  c₀ (the log energy) is excluded, so a louder or quieter copy has MCD 0.
- log-F0 RMSE (cents) = 1200 · sqrt(mean (log₂ F0_i − log₂ F0'_j)²) over path pairs voiced in
  both; None when no pair is voiced in both.
- V/UV error = fraction of path pairs where exactly one side is voiced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tts_ebm.evaluate.world import WorldFeatures

MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)  # dB per unit of cepstral Euclidean distance


def dtw_path(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Optimal alignment of two (T, D) sequences: an (L, 2) array of (i, j) from start to end."""
    import librosa
    from scipy.spatial.distance import cdist

    cost = cdist(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    _, path = librosa.sequence.dtw(C=cost, backtrack=True)
    return np.ascontiguousarray(path[::-1])


def mel_cepstral_distortion(a: np.ndarray, b: np.ndarray, path: np.ndarray | None = None) -> float:
    """MCD in dB between mel-cepstra (T, M + 1) (c₀ first, ignored), paired along ``path``
    (default: frame by frame, which needs equal lengths)."""
    a, b = np.asarray(a)[:, 1:], np.asarray(b)[:, 1:]
    if path is None:
        if len(a) != len(b):
            raise ValueError(f"frame-by-frame MCD needs equal lengths, got {len(a)} and {len(b)}")
        path = np.stack([np.arange(len(a))] * 2, axis=1)
    diff = a[path[:, 0]] - b[path[:, 1]]
    return float(MCD_SCALE * np.sqrt((diff**2).sum(axis=1)).mean())


@dataclass(frozen=True)
class F0Errors:
    """F0 agreement along an alignment."""

    rmse_cents: float | None  # None when no frame pair is voiced on both sides
    vuv_error: float  # fraction of frame pairs with different voicing decisions
    voiced_pairs: int


def f0_errors(f0_a: np.ndarray, f0_b: np.ndarray, path: np.ndarray) -> F0Errors:
    """log-F0 RMSE in cents over pairs voiced in both, and the V/UV disagreement rate."""
    a, b = np.asarray(f0_a)[path[:, 0]], np.asarray(f0_b)[path[:, 1]]
    voiced_a, voiced_b = a > 0, b > 0
    both = voiced_a & voiced_b
    rmse = None
    if both.any():
        cents = 1200.0 * (np.log2(a[both]) - np.log2(b[both]))
        rmse = float(np.sqrt(np.mean(cents**2)))
    return F0Errors(rmse, float(np.mean(voiced_a != voiced_b)), int(both.sum()))


@dataclass(frozen=True)
class AcousticScores:
    """MCD and F0 errors of one synthesised utterance against its reference."""

    mcd_db: float
    f0: F0Errors
    aligned_frames: int


def compare(synth: WorldFeatures, reference: WorldFeatures) -> AcousticScores:
    """Align synthesised to reference frames by DTW on c₁..c_M and score the aligned pairs."""
    path = dtw_path(synth.mcep[:, 1:], reference.mcep[:, 1:])
    return AcousticScores(
        mcd_db=mel_cepstral_distortion(synth.mcep, reference.mcep, path),
        f0=f0_errors(synth.f0, reference.f0, path),
        aligned_frames=len(path),
    )

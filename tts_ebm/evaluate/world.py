"""WORLD/SPTK analysis: F0 and mel-cepstra on one frame grid, as MCD and F0 metrics need them.

What is computed (the pymcd / nnmnkwii recipe, with the order and warping ESPnet uses):

1. the waveform, already at the evaluation rate ``fs`` (22050 Hz by default), as float64;
2. F0 with WORLD ``harvest`` (default; ``dio`` + ``stonemask`` is 30× faster but misses voiced
   frames), floor 71 Hz, ceiling 800 Hz, one frame every 5 ms; unvoiced frames have F0 = 0;
3. the spectral envelope |X(ω)|² with WORLD ``cheaptrick`` at those F0s (F0-adaptive window,
   so harmonics do not leak into the envelope), FFT size from ``get_cheaptrick_fft_size``;
4. the mel-cepstrum of order M (24, i.e. c₀..c₂₄) with all-pass warping α (SPTK ``mcepalpha``:
   0.455 at 22050 Hz, 0.41 at 16 kHz) by ``pysptk.sp2mc``: c = IFFT(log |X|²) with c₀ halved,
   then the frequency transform ``freqt`` to the warped axis, so that
   log |X(ω)| = Σₘ c̃ₘ cos(m ω̃(ω)) with ω̃(ω) = ω + 2 atan(α sin ω / (1 − α cos ω)).

pyworld 0.3.5 and pysptk 1.0.1 import ``pkg_resources`` (setuptools < 82); its deprecation
warning is silenced here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from tts_ebm.evaluate.pairs import EvaluationError

FRAME_PERIOD_MS = 5.0
MCEP_ORDER = 24
F0_FLOOR = 71.0
F0_CEIL = 800.0
F0_METHODS = ("harvest", "dio")
INSTALL_HINT = "install the evaluation extra: pip install 'tts-ebm[eval]'"


def _import(name: str) -> ModuleType:
    """Import an optional evaluation dependency, or fail with one line saying what to install."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources deprecation, imported by both
            return __import__(name)
    except ImportError as exc:
        raise EvaluationError(f"{name} is not usable ({exc}); {INSTALL_HINT}") from exc


def mcep_alpha(sample_rate: int) -> float:
    """The all-pass constant whose warping best approximates the mel scale at this rate."""
    return float(_import("pysptk").util.mcepalpha(sample_rate))


@dataclass(frozen=True)
class WorldFeatures:
    """Per 5 ms frame: F0 in Hz (0 = unvoiced) and the mel-cepstrum c̃₀..c̃_M."""

    f0: np.ndarray  # (T,)
    mcep: np.ndarray  # (T, M + 1)


@dataclass(frozen=True)
class WorldConfig:
    """Analysis settings; ``alpha=None`` means :func:`mcep_alpha` of the rate."""

    sample_rate: int = 22050
    order: int = MCEP_ORDER
    alpha: float | None = None
    f0_method: str = "harvest"
    frame_period_ms: float = FRAME_PERIOD_MS

    def __post_init__(self) -> None:
        if self.f0_method not in F0_METHODS:
            raise EvaluationError(f"unknown F0 method {self.f0_method!r}; use one of {F0_METHODS}")
        if self.order < 1:
            raise EvaluationError(f"the mel-cepstral order must be at least 1, got {self.order}")

    def resolved_alpha(self) -> float:
        return mcep_alpha(self.sample_rate) if self.alpha is None else self.alpha


def analyse(wav: np.ndarray, config: WorldConfig | None = None) -> WorldFeatures:
    """F0 and mel-cepstra of a mono waveform sampled at ``config.sample_rate``."""
    config = config or WorldConfig()
    pyworld, pysptk = _import("pyworld"), _import("pysptk")
    x = np.ascontiguousarray(wav, dtype=np.float64)
    fs = config.sample_rate
    period = config.frame_period_ms
    if config.f0_method == "harvest":
        f0, times = pyworld.harvest(x, fs, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=period)
    else:
        f0, times = pyworld.dio(x, fs, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=period)
        f0 = pyworld.stonemask(x, f0, times, fs)
    envelope = pyworld.cheaptrick(x, f0, times, fs, f0_floor=F0_FLOOR)
    mcep = pysptk.sp2mc(envelope, config.order, config.resolved_alpha())
    return WorldFeatures(f0=np.asarray(f0), mcep=np.asarray(mcep))

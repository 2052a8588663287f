"""Objective evaluation of synthesised speech against references: ``tts-ebm evaluate``.

One module per job: ``pairs`` (which wav goes with which reference and text), ``options``
(what to compute), ``world`` (WORLD/SPTK analysis), ``acoustic`` (DTW, MCD, F0 errors), ``wer``
(edit distances), ``asr`` (offline recognisers), ``mos`` (MOS prediction), ``stats``
(confidence intervals), ``runner`` (all metrics over pairs), ``report`` and ``figures``
(outputs), ``sweep`` (quality against refinement steps). Definitions and measured costs:
``docs/evaluation.md``. The heavy dependencies are the ``eval`` extra and are imported only when
a metric needs them, and this package imports its modules only on first use, so
``tts-ebm evaluate`` can refuse bad arguments without loading torch.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "compare": "acoustic",
    "f0_errors": "acoustic",
    "mel_cepstral_distortion": "acoustic",
    "EvaluationError": "pairs",
    "Pair": "pairs",
    "Pairing": "pairs",
    "pair_folders": "pairs",
    "METRIC_FAMILIES": "options",
    "EvalOptions": "options",
    "EvaluationResult": "runner",
    "Evaluator": "runner",
    "MeanCI": "stats",
    "mean_ci": "stats",
    "ErrorCounts": "wer",
    "error_counts": "wer",
    "WorldConfig": "world",
    "WorldFeatures": "world",
    "analyse": "world",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"tts_ebm.evaluate.{_EXPORTS[name]}"), name)

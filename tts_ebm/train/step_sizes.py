"""The best refinement step size η for each step count K, from teacher-forced validation errors.

How far one step should go depends on the criterion, the energy form and K itself (a long chain
wants a smaller η), so a comparison of criteria "each at its best step size" and a user exporting
a model both need the same measurement: the masked mel MSE to the reference of μ refined by K
steps of each η in a grid, μ aligned to the reference (so durations play no part), on a prepared
split. A flow decoder has no η: :func:`flow_knob_table` chooses its knobs the same way — the
temperature τ of its source and its ODE solver — and ranks them by network evaluations, since a
second-order solver step costs two.

The same split also calibrates the durations: the duration predictor is trained on log-frames
(so it predicts a geometric mean) and inverted by ``ceil`` (a perfect prediction returns the
training durations, a noisy one gains half a frame per token on average), so at speaking rate 1
a voice may speak measurably slower or faster than its recordings; :func:`matched_speaking_rate`
finds the rate at which the predicted lengths add up to the recorded ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tts_ebm.checkpoint import InferenceCheckpoint, load_checkpoint
from tts_ebm.model import predict_durations
from tts_ebm.model.flow import VectorField
from tts_ebm.sampling import SOLVERS, SPEAKING_RATES, RefineConfig
from tts_ebm.text import TextFrontend
from tts_ebm.train.data import Batch, PreparedDataset, collate
from tts_ebm.train.refinement import flow_errors, pooled_errors, refinement_errors

DEFAULT_GRID = (0.125, 0.25, 0.5, 1.0, 2.0)
DEFAULT_TEMPERATURES = (0.0, 0.33, 0.667, 1.0)


def prepared_batches(
    checkpoint, prepared_dir: str | Path, split: str = "val", batch_size: int = 8
) -> list[Batch]:
    """A prepared split as batches for ``checkpoint``: its tokenizer and its mel statistics."""
    tokenizer = TextFrontend.from_config(checkpoint.frontend).tokenizer
    data = PreparedDataset(prepared_dir, split, tokenizer, checkpoint.stats)
    if not len(data):
        raise ValueError(f"{prepared_dir}: the {split!r} split has no utterances")
    return [
        collate([data[i] for i in range(j, min(j + batch_size, len(data)))])
        for j in range(0, len(data), batch_size)
    ]


def step_size_table(
    checkpoint: str | Path | InferenceCheckpoint,
    prepared_dir: str | Path,
    steps: Sequence[int],
    grid: Sequence[float] = DEFAULT_GRID,
    split: str = "val",
) -> dict:
    """``{"prior": mse, "errors": {"K@η": mse}, "best": {"K": {"step_size", "mse"}},
    "durations": matched_speaking_rate(...)}``, with the ``steps`` and ``grid`` measured
    (sorted)."""
    if not steps or min(steps) < 1:
        raise ValueError(f"step counts must be >= 1, got {list(steps)}")
    if not grid or min(grid) <= 0:
        raise ValueError(f"step sizes must be > 0, got {list(grid)}")
    steps, grid = sorted(set(steps)), sorted(set(grid))
    checkpoint = _loaded(checkpoint)
    batches = prepared_batches(checkpoint, prepared_dir, split)
    errors = refinement_errors(checkpoint.model.eval(), batches, steps, grid)
    prior = errors.pop((0, 0.0))
    best = {}
    for k in steps:
        eta = min(grid, key=lambda e: (errors[(k, e)], -e))  # ties (a flow: η unused): largest
        best[str(k)] = {"step_size": eta, "mse": errors[(k, eta)]}
    return {
        "steps": steps,
        "grid": grid,
        "prior": prior,
        "errors": {f"{k}@{eta:g}": value for (k, eta), value in sorted(errors.items())},
        "best": best,
        "durations": matched_speaking_rate(checkpoint, batches),
    }


def flow_knob_table(
    checkpoint: str | Path | InferenceCheckpoint,
    prepared_dir: str | Path,
    steps: Sequence[int],
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    solvers: Sequence[str] = ("euler",),
    split: str = "val",
) -> dict:
    """A flow decoder's teacher-forced errors for every (solver, K, τ):
    ``{"prior": mse, "errors": {"solver/K@τ": mse}, "best": {"NFE": {"solver", "steps",
    "temperature", "mse"}}, "durations": ...}``; ``best`` is keyed by network evaluations (K for
    Euler, 2K for midpoint and Heun), the unit in which flows and energies compare."""
    if not steps or min(steps) < 1:
        raise ValueError(f"step counts must be >= 1, got {list(steps)}")
    if not temperatures or min(temperatures) < 0:
        raise ValueError(f"temperatures must be >= 0, got {list(temperatures)}")
    unknown = sorted(set(solvers) - set(SOLVERS))
    if not solvers or unknown:
        raise ValueError(f"unknown solver(s) {unknown}; choose from {', '.join(SOLVERS)}")
    steps, temperatures = sorted(set(steps)), sorted(set(temperatures))
    solvers = [s for s in SOLVERS if s in solvers]
    checkpoint = _loaded(checkpoint)
    model = checkpoint.model.eval()
    if not is_flow(checkpoint):
        raise ValueError("not a flow decoder: an energy's knobs are its step sizes")
    batches = prepared_batches(checkpoint, prepared_dir, split)
    errors = pooled_errors(
        model,
        batches,
        lambda mu, y_ref, mask: flow_errors(
            model.energy, mu, y_ref, mask, steps, temperatures, solvers
        ),
    )
    prior = errors.pop(("", 0, 0.0))
    best: dict[str, dict] = {}
    for (solver, k, tau), mse in sorted(errors.items(), key=lambda item: item[1]):
        evaluations = str(RefineConfig(steps=k, solver=solver).network_evaluations(flow=True))
        best.setdefault(evaluations, {"solver": solver, "steps": k, "temperature": tau, "mse": mse})
    return {
        "steps": steps,
        "temperatures": temperatures,
        "solvers": solvers,
        "prior": prior,
        "errors": {f"{s}/{k}@{tau:g}": value for (s, k, tau), value in sorted(errors.items())},
        "best": dict(sorted(best.items(), key=lambda item: int(item[0]))),
        "durations": matched_speaking_rate(checkpoint, batches),
    }


def is_flow(checkpoint: InferenceCheckpoint) -> bool:
    return isinstance(checkpoint.model.energy, VectorField)


def _loaded(checkpoint: str | Path | InferenceCheckpoint) -> InferenceCheckpoint:
    return (
        checkpoint if isinstance(checkpoint, InferenceCheckpoint) else load_checkpoint(checkpoint)
    )


def matched_speaking_rate(checkpoint, batches: Sequence[Batch]) -> dict:
    """``{"recorded": frames of ``batches``, "length_ratio": predicted / recorded frames at rate
    1, "speaking_rate": the rate (3 decimals) whose predicted frames come closest}``."""
    model = checkpoint.model.eval()
    with torch.no_grad():
        encoded = [model.encoder(b.tokens, b.token_lengths) for b in batches]
    recorded = sum(int(b.mel_lengths.sum()) for b in batches)

    def predicted(rate: float) -> int:
        return sum(int(predict_durations(e.log_durations, e.mask, rate).sum()) for e in encoded)

    low, high = SPEAKING_RATES  # the total only grows with the rate: bisect it
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if predicted(middle) < recorded else (low, middle)
    rate = min((round(low, 3), round(high, 3)), key=lambda r: abs(predicted(r) - recorded))
    return {"recorded": recorded, "length_ratio": predicted(1.0) / recorded, "speaking_rate": rate}

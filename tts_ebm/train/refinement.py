"""Teacher-forced refinement errors: how far μ, and μ refined by K steps, are from Y⁺.

μ is aligned to the reference (MAS or stored durations), so the error measures the energy's
refinement alone, free of duration errors. Validation logs it during training; the criteria
benchmark and the voice's model card compute it at several step counts and step sizes from a
finished checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from tts_ebm.model.tts import EBMTTS
from tts_ebm.sampling import RefineConfig, refine
from tts_ebm.train.data import Batch


def masked_mse(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over valid (frame, bin) elements of (B, n_mels, T) tensors."""
    return ((a - b) ** 2 * mask).sum() / (mask.sum() * a.shape[1])


def refinement_errors(
    model: EBMTTS,
    batches: Iterable[Batch],
    steps: Sequence[int],
    step_sizes: Sequence[float],
) -> dict[tuple[int, float], float]:
    """Masked MSE to Y⁺ over all batches for every (steps, η); (0, 0.0) is μ itself.

    Errors are pooled over elements (sum of squares / number of elements), so batches of
    different sizes weigh by their frames, as one big batch would.
    """
    totals: dict[tuple[int, float], float] = {}
    elements = 0.0
    for batch in batches:
        with torch.no_grad():
            aligned = model.align(
                batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths, batch.durations
            )
        mu, mask = aligned.mu, aligned.frame_mask
        count = float(mask.sum()) * mu.shape[1]
        elements += count
        results = {(0, 0.0): mu}
        for eta in step_sizes:
            for k in steps:
                if k > 0:
                    results[(k, eta)] = refine(
                        model.energy, mu, mask, RefineConfig(steps=k, step_size=eta)
                    )
        for key, y in results.items():
            totals[key] = totals.get(key, 0.0) + float(masked_mse(y, batch.mel, mask)) * count
    return {key: total / elements for key, total in totals.items()}

"""Teacher-forced refinement errors: how far μ, and μ refined by K steps, are from Y⁺.

μ is aligned to the reference (MAS or stored durations), so the error measures the energy's
refinement alone, free of duration errors. Validation logs it during training; the criteria
benchmark and the voice's model card compute it at several step counts and step sizes from a
finished checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from tts_ebm.model.energy import EnergyModel
from tts_ebm.model.flow import VectorField
from tts_ebm.model.tts import EBMTTS
from tts_ebm.sampling import RefineConfig, refine
from tts_ebm.train.data import Batch


def masked_mse(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over valid (frame, bin) elements of (B, n_mels, T) tensors."""
    return ((a - b) ** 2 * mask).sum() / (mask.sum() * a.shape[1])


def refined_errors(
    energy: EnergyModel | VectorField,
    mu: Tensor,
    y_ref: Tensor,
    mask: Tensor,
    steps: Sequence[int],
    step_sizes: Sequence[float],
) -> dict[tuple[int, float], Tensor]:
    """Masked MSE to ``y_ref`` of μ, keyed (0, 0.0), and of μ refined by every (K, η), K > 0.

    Plain gradient descent (no noise) is deterministic, so each η runs one chain and reads the
    error off at every K on the way: K steps continue from the K' < K before them. A flow
    decoder's K Euler steps of 1/K are not a continuation of fewer, so each K runs on its own,
    once (η is not one of its knobs: its errors are keyed by every η asked for alike).
    """
    errors = {(0, 0.0): masked_mse(mu, y_ref, mask)}
    if isinstance(energy, VectorField):
        for k in sorted(set(steps) - {0}):
            error = masked_mse(refine(energy, mu, mask, RefineConfig(steps=k)), y_ref, mask)
            errors.update({(k, eta): error for eta in step_sizes})
        return errors
    for eta in step_sizes:
        y, done = mu, 0
        for k in sorted(set(steps) - {0}):
            y = refine(energy, mu, mask, RefineConfig(steps=k - done, step_size=eta), y0=y)
            errors[(k, eta)] = masked_mse(y, y_ref, mask)
            done = k
    return errors


def flow_errors(
    field: VectorField,
    mu: Tensor,
    y_ref: Tensor,
    mask: Tensor,
    steps: Sequence[int],
    temperatures: Sequence[float],
    solvers: Sequence[str],
    seed: int = 0,
) -> dict[tuple[str, int, float], Tensor]:
    """Masked MSE to ``y_ref`` of a flow decoder's output for every (solver, K, τ), K > 0, and of
    μ keyed ("", 0, 0.0). Every (solver, K) starts from the same draw x₀ = μ + τε for a given τ
    (seeded), so they differ only in how they integrate; with τ > 0 the error also holds the
    sample's spread around the mean, which is what a temperature trades."""
    errors = {("", 0, 0.0): masked_mse(mu, y_ref, mask)}
    for tau in temperatures:
        noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed))
        start = (mu + tau * noise.to(mu)) * mask
        for solver in solvers:
            for k in sorted(set(steps) - {0}):
                out = refine(field, mu, mask, RefineConfig(steps=k, solver=solver), y0=start)
                errors[(solver, k, float(tau))] = masked_mse(out, y_ref, mask)
    return errors


def pooled_errors(
    model: EBMTTS,
    batches: Iterable[Batch],
    errors_of: Callable[[Tensor, Tensor, Tensor], dict[tuple, Tensor]],
) -> dict[tuple, float]:
    """``errors_of(μ, Y⁺, mask)`` pooled over batches, μ aligned to each reference.

    Errors are pooled over elements (sum of squares / number of elements), so batches of
    different sizes weigh by their frames, as one big batch would.
    """
    totals: dict[tuple, float] = {}
    elements = 0.0
    for batch in batches:
        with torch.no_grad():
            aligned = model.align(
                batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths, batch.durations
            )
        mask = aligned.frame_mask
        count = float(mask.sum()) * aligned.mu.shape[1]
        elements += count
        for key, error in errors_of(aligned.mu, batch.mel, mask).items():
            totals[key] = totals.get(key, 0.0) + float(error) * count
    return {key: total / elements for key, total in totals.items()}


def refinement_errors(
    model: EBMTTS,
    batches: Iterable[Batch],
    steps: Sequence[int],
    step_sizes: Sequence[float],
) -> dict[tuple[int, float], float]:
    """:func:`refined_errors` pooled over batches (:func:`pooled_errors`)."""
    return pooled_errors(
        model,
        batches,
        lambda mu, y_ref, mask: refined_errors(model.energy, mu, y_ref, mask, steps, step_sizes),
    )

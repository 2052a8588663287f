"""The scores a trained model gives a (text, recording) pair, each normalised per frame.

A pair whose audio does not say its text is improbable under p(Y | text) ∝ exp(−E_θ(Y; μ)):
its energy is high, one refinement step moves it far (the score is large away from the data),
MAS finds no good path from the text's token means to its frames, and its length disagrees with
the predicted durations. Everything is computed through the model's own interfaces (the
encoder, ``EBMTTS.align``, the energy's ``frame_energy``/``score``), nothing is added to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from tts_ebm.model.alignment import gaussian_log_likelihood, predict_durations
from tts_ebm.model.energy import EnergyModule
from tts_ebm.model.tts import EBMTTS
from tts_ebm.train.data import Batch

PEAK_FRAMES = 86  # one second at 22050 Hz / hop 256: about two or three words


@dataclass(frozen=True)
class Score:
    """One column of ``scores.tsv``; ``worse`` says which way a mismatch moves it."""

    name: str
    worse: Literal["high", "low", "far"]  # far: far from zero either way
    description: str


SCORES = (
    Score(
        "energy",
        "high",
        "energy E(Y; mu) of the recording under its text per frame (mu aligned to it by MAS)",
    ),
    Score(
        "energy_peak",
        "high",
        f"highest mean frame energy over {PEAK_FRAMES} frames (1 s): a local mismatch",
    ),
    Score(
        "step", "high", "RMS per element of one refinement step eta * s(Y; mu) from the recording"
    ),
    Score("alignment", "low", "MAS log-likelihood per frame, log N(y_t; mu_x, I) along the path"),
    Score(
        "duration",
        "far",
        "log(recorded / predicted frames) at the checkpoint's speaking rate",
    ),
)
NAMES = tuple(s.name for s in SCORES)


def energy_of(model: EBMTTS) -> EnergyModule:
    """The model's energy network; a flow decoder has no energy to judge a pair with."""
    if not isinstance(model.energy, EnergyModule):
        raise ValueError(
            "this checkpoint's decoder is a flow (a vector field, no energy): score pairs with "
            "an energy-based voice (default, v1, nce, sance, cd, ssm)"
        )
    return model.energy


def _peak_mean(frame_energy: Tensor, frames: Tensor, width: int) -> Tensor:
    """Per utterance, the largest mean of ``width`` consecutive valid frame energies (the whole
    utterance's mean when it is shorter)."""
    peaks = []
    for values, n in zip(frame_energy, frames.tolist(), strict=True):
        own = values[: int(n)]
        if len(own) <= width:
            peaks.append(own.mean())
        else:
            peaks.append(own.unfold(0, width, 1).mean(-1).max())
    return torch.stack(peaks)


def score_batch(
    model: EBMTTS, batch: Batch, step_size: float, speaking_rate: float
) -> list[dict[str, float]]:
    """The :data:`SCORES` of every utterance of a (normalised, padded) batch, in batch order."""
    energy = energy_of(model)
    with torch.no_grad():
        encoded = model.encoder(batch.tokens, batch.token_lengths)
        aligned = model.align(
            batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths, encoded=encoded
        )
        mask = aligned.frame_mask
        frames = mask.sum(dim=(1, 2))
        log_lik = gaussian_log_likelihood(encoded.mu_x, batch.mel) * aligned.path
        alignment = log_lik.sum(dim=(1, 2)) / frames
        frame_energy = energy.frame_energy(batch.mel, aligned.mu, mask)
        per_frame = frame_energy.sum(-1) / frames
        peak = _peak_mean(frame_energy, frames, PEAK_FRAMES)
        predicted = predict_durations(encoded.log_durations, encoded.mask, speaking_rate).sum(1)
    score = energy.score(batch.mel, aligned.mu, mask)
    n_elements = frames * batch.mel.shape[1]
    step = step_size * torch.sqrt(score.pow(2).sum(dim=(1, 2)) / n_elements)
    rows = []
    for k in range(len(batch.ids)):
        rows.append(
            {
                "energy": float(per_frame[k]),
                "energy_peak": float(peak[k]),
                "step": float(step[k]),
                "alignment": float(alignment[k]),
                "duration": math.log(float(frames[k]) / float(predicted[k])),
            }
        )
    return rows

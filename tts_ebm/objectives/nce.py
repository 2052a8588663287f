"""Noise-contrastive estimation (NCE; Gutmann & Hyvärinen 2010, as in Sun, Tu & Ragni 2023).

Binary form: classify the reference Y⁺ against ν noise samples Y⁻ ~ q with the logit

    h(Y) = −E_θ(Y; μ) − log q(Y) − log ν − c(μ)
    L = mean_B[ −log σ(h(Y⁺)) − Σ_i log σ(−h(Y⁻_i)) ]

whose minimiser is h = log p_data/(ν q), i.e. −E_θ − c = log p_data: the energy becomes a
normalised log density and c estimates log Z_θ (writing log ν out keeps c free of it). q must
have a density independent of Y⁺: the ``prior`` source N(μ, σ²I) with a fixed σ, evaluated
analytically on valid elements. (Noise around Y⁺ makes q depend on the positive itself; that
case is conditional NCE, which is the ranking form below with ν = 1.)

Ranking form, for negatives without a usable density (``langevin``, ``file``, ``noisy_ref``):
L = −log softmax over {h(Y⁺), h(Y⁻₁..ν)} at Y⁺, with h = −E_θ (− log q where the source has a
density). c cancels there, so there is no offset. With noise that is not symmetric the optimum
is a contrast, not a density: the energy learns "more data-like than these negatives".

The offset c(μ): ``scalar`` is one learned number per valid frame, c = c₀·T (the log partition of
a frame-local energy grows with the length; one constant would be right for one length only);
``text`` adds a small per-frame head on μ, since Z depends on the text.

Needs: a noise source (default μ + σε) and ν energy evaluations per positive. Cost: one forward
and backward of the energy on (1 + ν)·B utterances, no score, no second-order graph — the
cheapest criterion per step. What to expect: in 80 × T dimensions Gaussian noise is separated
from speech almost perfectly within a few steps (accuracy → 1), after which the loss carries
little gradient; and nothing trains the score *at μ*, so one refinement step from μ need not
improve on μ (DESIGN.md §3: NCE needed ~100 steps). Logs ``nce/accuracy``, ``nce/offset`` (c per
frame), mean energies per element, and the RMS distance ‖Y⁺ − Y⁻‖.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tts_ebm.model.energy import EnergyModel
from tts_ebm.objectives.base import (
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    masked_mean,
    register_objective,
)
from tts_ebm.objectives.hypotheses import PriorHypothesis, build_hypothesis_source


class LogPartitionOffset(nn.Module):
    """c(μ) per utterance (B,): c₀ per valid frame, plus a per-frame head on μ for ``text``.

    The head's last layer starts at zero, so both kinds start as c = 0.
    """

    def __init__(self, kind: str = "scalar", n_mels: int = 80, hidden: int = 64) -> None:
        super().__init__()
        if kind not in ("scalar", "text"):
            raise ValueError(f"offset must be 'scalar' or 'text', got {kind!r}")
        self.kind = kind
        self.per_frame = nn.Parameter(torch.zeros(()))
        self.head = None
        if kind == "text":
            self.head = nn.Sequential(
                nn.Conv1d(n_mels, hidden, 1), nn.SiLU(), nn.Conv1d(hidden, 1, 1)
            )
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)

    def forward(self, mu: Tensor, mask: Tensor) -> Tensor:
        frames = self.per_frame * mask.squeeze(1)
        if self.head is not None:
            frames = frames + self.head(mu).squeeze(1) * mask.squeeze(1)
        return frames.sum(dim=-1)


def binary_nce(h_pos: Tensor, h_neg: Tensor) -> tuple[Tensor, Tensor]:
    """Loss mean_B[−log σ(h⁺) − Σ_i log σ(−h⁻_i)] and accuracy; h_pos (B,), h_neg (ν, B)."""
    loss = -(F.logsigmoid(h_pos) + F.logsigmoid(-h_neg).sum(dim=0)).mean()
    with torch.no_grad():
        correct = (h_pos > 0).float().sum() + (h_neg < 0).float().sum()
        accuracy = correct / (h_pos.numel() + h_neg.numel())
    return loss, accuracy


def ranking_nce(h_pos: Tensor, h_neg: Tensor) -> tuple[Tensor, Tensor]:
    """Loss mean_B[−log softmax(h⁺, h⁻₁..ν)₀] and how often Y⁺ ranks first."""
    logits = torch.cat([h_pos[None], h_neg]).T  # (B, 1 + ν)
    loss = -torch.log_softmax(logits, dim=1)[:, 0].mean()
    with torch.no_grad():
        accuracy = (logits.argmax(dim=1) == 0).float().mean()
    return loss, accuracy


def energies_of(energy: EnergyModel, candidates: list[Tensor], mu: Tensor, mask: Tensor) -> Tensor:
    """E(Y; μ) of several (B, C, T) candidates in one batched call: (len(candidates), B)."""
    n = len(candidates)
    stacked = torch.cat(candidates)
    return energy.energy(stacked, mu.repeat(n, 1, 1), mask.repeat(n, 1, 1)).view(n, -1)


def energy_regulariser(per_element: Tensor) -> Tensor:
    """Improved CD's α term without α: mean_B[e(Y⁺)² + meanᵢ e(Y⁻ᵢ)²] for per-element energies
    e of shape (1 + ν, B), positives first. It bounds energies a contrastive loss leaves free."""
    squared = per_element.pow(2)
    return (squared[0] + squared[1:].mean(dim=0)).mean()


def rms_distance(y_ref: Tensor, hypotheses: list[Tensor], mask: Tensor) -> Tensor:
    """RMS distance per valid element between Y⁺ and hypotheses, averaged over them (a log)."""
    with torch.no_grad():
        squared = torch.stack([masked_mean((y_ref - y) ** 2, mask) for y in hypotheses])
    return squared.mean().sqrt()


@register_objective("nce")
class NoiseContrastiveEstimation(Objective):
    """Binary NCE with a known-density noise, or the ranking form with any hypothesis source."""

    name = "nce"

    def __init__(
        self,
        form: Literal["binary", "ranking"] = "binary",
        n_negatives: int = 1,
        hypothesis: dict | None = None,
        offset: Literal["scalar", "text"] = "scalar",
        n_mels: int = 80,
    ) -> None:
        super().__init__()
        if form not in ("binary", "ranking"):
            raise ValueError(f"nce form must be 'binary' or 'ranking', got {form!r}")
        if n_negatives < 1:
            raise ValueError(f"n_negatives must be at least 1, got {n_negatives}")
        self.form = form
        self.n_negatives = n_negatives
        self.noise = build_hypothesis_source(hypothesis or {"source": "prior", "sigma": 1.0})
        self.has_density = (
            isinstance(self.noise, PriorHypothesis)
            and self.noise.sigma_min is None
            and self.noise.sigma > 0
        )
        if form == "binary" and not self.has_density:
            raise ValueError(
                "binary NCE needs noise with a known density independent of Y⁺: "
                "hypothesis {source: prior, sigma: > 0, sigma_min: null}; "
                f"use form: ranking for {self.noise!r}"
            )
        self.offset = LogPartitionOffset(offset, n_mels) if form == "binary" else None

    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput:
        y_ref, mu, mask = inputs.y_ref, inputs.mu, inputs.mask
        negatives = [self.noise.sample(inputs, energy) for _ in range(self.n_negatives)]
        candidates = [y_ref, *negatives]
        energies = energies_of(energy, candidates, mu, mask)  # (1 + ν, B)
        logits = -energies
        if self.has_density:
            log_q = torch.stack([self.noise.log_density(y, inputs) for y in candidates])
            logits = logits - log_q
        logs: dict[str, float | Tensor] = {}
        if self.offset is not None:
            offset = self.offset(mu, mask)
            logits = logits - offset - math.log(self.n_negatives)
            loss, accuracy = binary_nce(logits[0], logits[1:])
            logs["nce/offset"] = (offset / mask.sum(dim=(1, 2)).clamp_min(1.0)).mean().detach()
        else:
            loss, accuracy = ranking_nce(logits[0], logits[1:])
        with torch.no_grad():
            per_element = energies / (mask.sum(dim=(1, 2)) * y_ref.shape[1]).clamp_min(1.0)
        logs.update(
            {
                "nce/loss": loss.detach(),
                "nce/accuracy": accuracy,
                "nce/energy_pos": per_element[0].mean(),
                "nce/energy_neg": per_element[1:].mean(),
                "nce/dist_neg": rms_distance(y_ref, negatives, mask),
            }
        )
        return ObjectiveOutput(loss=loss, logs=logs)

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

``data_sigma`` s > 0 classifies Y⁺ + sε instead of Y⁺: the optimum is then the smoothed density
p_data ∗ N(0, s²I), of curvature ≈ 1/s², where a near-deterministic corpus would make it a point
mass. ``logits: frame`` classifies frames instead of utterances (see ``_frame_forward``): in
80 × T dimensions whole utterances are separated perfectly and the loss saturates.

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

from tts_ebm.model.energy import EnergyModel, EnergyModule
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

    The head's last layer starts at zero, so both kinds start as c = ``initial`` per frame.
    """

    def __init__(
        self, kind: str = "scalar", n_mels: int = 80, hidden: int = 64, initial: float = 0.0
    ) -> None:
        super().__init__()
        if kind not in ("scalar", "text"):
            raise ValueError(f"offset must be 'scalar' or 'text', got {kind!r}")
        self.kind = kind
        self.per_frame = nn.Parameter(torch.tensor(float(initial)))
        self.head = None
        if kind == "text":
            self.head = nn.Sequential(
                nn.Conv1d(n_mels, hidden, 1), nn.SiLU(), nn.Conv1d(hidden, 1, 1)
            )
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)

    def frames(self, mu: Tensor, mask: Tensor) -> Tensor:
        """c per valid frame (B, T), zero on padding."""
        frames = self.per_frame * mask.squeeze(1)
        if self.head is not None:
            frames = frames + self.head(mu).squeeze(1) * mask.squeeze(1)
        return frames

    def forward(self, mu: Tensor, mask: Tensor) -> Tensor:
        return self.frames(mu, mask).sum(dim=-1)


def binary_nce(h_pos: Tensor, h_neg: Tensor) -> tuple[Tensor, Tensor]:
    """Loss mean_B[−log σ(h⁺) − Σ_i log σ(−h⁻_i)] and accuracy; h_pos (B,), h_neg (ν, B)."""
    loss = -(F.logsigmoid(h_pos) + F.logsigmoid(-h_neg).sum(dim=0)).mean()
    with torch.no_grad():
        correct = (h_pos > 0).float().sum() + (h_neg < 0).float().sum()
        accuracy = correct / (h_pos.numel() + h_neg.numel())
    return loss, accuracy


def frame_binary_nce(h_pos: Tensor, h_neg: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`binary_nce` with one logit per frame: h_pos (B, T), h_neg (ν, B, T), mask (B, T);
    the loss and accuracy are means over valid frames."""
    per_frame = -(F.logsigmoid(h_pos) + F.logsigmoid(-h_neg).sum(dim=0))
    frames = mask.sum().clamp_min(1.0)
    loss = (per_frame * mask).sum() / frames
    with torch.no_grad():
        correct = ((h_pos > 0).float() * mask).sum() + ((h_neg < 0).float() * mask).sum()
        accuracy = correct / (frames * (1 + h_neg.shape[0]))
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


def frame_energies_of(
    energy: EnergyModel, candidates: list[Tensor], mu: Tensor, mask: Tensor
) -> Tensor:
    """Per-frame energies of several candidates in one call: (len(candidates), B, T)."""
    if not isinstance(energy, EnergyModule):
        raise TypeError("frame-level NCE needs an energy with per-frame energies (EnergyModule)")
    n = len(candidates)
    stacked = torch.cat(candidates)
    frames = energy.frame_energy(stacked, mu.repeat(n, 1, 1), mask.repeat(n, 1, 1))
    return frames.view(n, mu.shape[0], -1)


def interleave(sources: list[Tensor], frame_mask: Tensor) -> tuple[list[Tensor], Tensor]:
    """Candidates whose frame t is drawn from the sources by a random permutation per frame:
    candidate j's frame t comes from source perm[j, t], so every source's frame appears once and
    a frame's neighbours say nothing about its class. Returns the candidates and perm (n, B, T).
    """
    stacked = torch.stack(sources)  # (n, B, C, T)
    perm = torch.rand(stacked.shape[0], *frame_mask.shape, device=stacked.device).argsort(dim=0)
    index = perm[:, :, None].expand_as(stacked)
    return list(stacked.gather(0, index).unbind(0)), perm


def by_source(values: Tensor, perm: Tensor) -> Tensor:
    """Per-frame values (n, B, T) of :func:`interleave`'s candidates, regrouped by source."""
    return torch.empty_like(values).scatter_(0, perm, values)


def energy_regulariser(per_element: Tensor) -> Tensor:
    """Improved CD's α term without α: mean_B[e(Y⁺)² + meanᵢ e(Y⁻ᵢ)²] for per-element energies
    e of shape (1 + ν, B), positives first. It bounds energies a contrastive loss leaves free."""
    squared = per_element.pow(2)
    return (squared[0] + squared[1:].mean(dim=0)).mean()


def noised_positives(y_ref: Tensor, mask: Tensor, data_sigma: float) -> Tensor:
    """Y⁺ + s·ε on valid elements: the criterion then fits the smoothed density p_data ∗ N(0, s²I).

    Where Y⁺ is almost a function of the text (the toy corpus) p_data is nearly a point mass,
    NCE's optimum an unboundedly steep energy; smoothed, its optimum has curvature ≈ 1/s², so a
    gradient step of size s² from μ is Tweedie's denoising step (as SSM's ``noise_sigma``)."""
    if data_sigma == 0:
        return y_ref
    return (y_ref + data_sigma * torch.randn_like(y_ref)) * mask


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
        data_sigma: float = 0.0,
        logits: Literal["utterance", "frame"] = "utterance",
        n_mels: int = 80,
    ) -> None:
        super().__init__()
        if form not in ("binary", "ranking"):
            raise ValueError(f"nce form must be 'binary' or 'ranking', got {form!r}")
        if logits not in ("utterance", "frame") or (logits == "frame" and form != "binary"):
            raise ValueError(f"logits must be 'utterance' or 'frame' (binary form), got {logits!r}")
        self.logits = logits
        if data_sigma < 0:
            raise ValueError(f"data_sigma must be >= 0, got {data_sigma}")
        self.data_sigma = float(data_sigma)
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
        # c starts at the noise's own log normaliser per frame, ½·n_mels·log 2πσ²: log Z of an
        # energy that starts as ½‖Y − μ‖²/σ² (the quadratic form at κ = 1/σ²), so h starts at 0
        # instead of ~73 nats per frame, which Adam at lr 3e-3 needs ~10⁴ steps to learn.
        initial = (
            0.5 * n_mels * math.log(2 * math.pi * self.noise.sigma**2) if self.has_density else 0
        )
        self.offset = (
            LogPartitionOffset(offset, n_mels, initial=initial) if form == "binary" else None
        )

    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput:
        y_ref, mu, mask = inputs.y_ref, inputs.mu, inputs.mask
        negatives = [self.noise.sample(inputs, energy) for _ in range(self.n_negatives)]
        candidates = [noised_positives(y_ref, mask, self.data_sigma), *negatives]
        if self.logits == "frame":
            return self._frame_forward(energy, candidates, inputs)
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

    def _frame_forward(
        self, energy: EnergyModel, sources: list[Tensor], inputs: ObjectiveInputs
    ) -> ObjectiveOutput:
        """One logit per frame, h_t = −e_t(Y) − log q(y_t) − log ν − c_t(μ), on interleaved
        candidates: each frame of each candidate comes from a source (the positive or one of the
        ν negatives) drawn by a random permutation per frame, so every source's frame is scored
        once and a frame's neighbours say nothing about its class.

        An utterance of 80·T elements is separated from Gaussian noise perfectly (Bayes error
        ≈ Φ(−‖Y⁺ − μ‖/2σ)), the logistic loss saturates and Adam turns its vanishing gradient
        into full-size steps that only steepen the energy; scoring frames of whole noise
        utterances does not help, the network reads the class off the context (measured). One
        frame's 80 bins overlap with the noise, so this classification stays informative and
        its optimum finite: e_t − c_t = −log p(y_t | μ) where frames are independent given μ
        (smoothed near-deterministic data), a frame-wise composite objective otherwise.
        """
        y_ref, mu, mask = inputs.y_ref, inputs.mu, inputs.mask
        frame_mask = mask.squeeze(1)
        mixed, perm = interleave(sources, frame_mask)
        energies = frame_energies_of(energy, mixed, mu, mask)  # (1 + ν, B, T)
        log_q = torch.stack([self.noise.frame_log_density(y, inputs) for y in mixed])
        offset = self.offset.frames(mu, mask)
        mixed_logits = -energies - log_q - offset - math.log(self.n_negatives)
        logits = by_source(mixed_logits, perm)
        loss, accuracy = frame_binary_nce(logits[0], logits[1:], frame_mask)
        frames = frame_mask.sum().clamp_min(1.0)
        with torch.no_grad():
            sourced = by_source(energies, perm)
            per_element = (sourced * frame_mask).sum(dim=(1, 2)) / (frames * y_ref.shape[1])
        logs = {
            "nce/loss": loss.detach(),
            "nce/accuracy": accuracy,
            "nce/offset": offset.detach().sum() / frames,
            "nce/energy_pos": per_element[0],
            "nce/energy_neg": per_element[1:].mean(),
            "nce/dist_neg": rms_distance(y_ref, sources[1:], mask),
        }
        return ObjectiveOutput(loss=loss, logs=logs)

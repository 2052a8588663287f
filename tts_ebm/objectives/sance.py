"""Self-adapting NCE (seed: Xu, "Self-Adapting NCE for EBMs"): the noise model is the EBM itself.

The noise is a frozen snapshot θ' of the energy network, refreshed every K optimiser steps
(``snapshot_interval``). Negatives are short-run Langevin chains under E_θ' started from
μ + σε; the binary NCE logit uses the snapshot's energy as the (unnormalised) noise log density:

    h(Y) = −E_θ(Y; μ) + E_θ'(Y; μ) − log ν − c(μ),   c ≈ log Z_θ − log Z_θ'
    L = mean_B[ −log σ(h(Y⁺)) − Σ_i log σ(−h(Y⁻_i)) ]

With θ' = θ (K = 1) and c = 0, σ(h) = 1/(1 + ν) everywhere and the θ-gradient is
ν/(1 + ν)·(∇E_θ(Y⁺) − mean_i ∇E_θ(Y⁻_i)): the maximum-likelihood (contrastive divergence)
gradient with the chains as model samples. Larger K lets θ move away from its noise, which makes
the classification informative again; the thesis found shorter intervals better.

The chains are unadjusted Langevin: on a quadratic energy of curvature κ their stationary
variance is 1/(κ(1 − ηκ/2)), never below 2η. Where the (smoothed, ``data_sigma`` s) data is
tighter than that, the ML gradient raises κ without end and the chains blow up past κ = 2/η
(measured on the toy corpus at η = 0.5, s = 1), so the chain step must stay well below s²/2.
Short chains also leave part of their start's offset from the mode, (1 − ηκ)^steps, and the
gradient steepens the energy until the chain removes it: the energy is matched to its chain,
which is why the packaged config synthesises with that chain (without noise).
``logits: frame`` classifies frames of interleaved candidates, as NCE's (see
``tts_ebm.objectives.nce``): with a stale snapshot whole utterances are separated perfectly.

The snapshot is a ``copy.deepcopy`` with ``requires_grad_(False)`` in eval mode, kept outside the
module tree (no parameters, no optimiser state); its weights and the refresh step travel in the
extra state, so a resumed run continues with the same noise model. The energy must therefore be
an ``nn.Module``.

Needs: an energy network (for the snapshot) and Langevin steps. Cost: ``langevin_steps`` scores
under the snapshot (no parameter graph), then one forward/backward of E_θ and one forward of
E_θ' on (1 + ν)·B utterances. ``alpha`` adds improved CD's energy regulariser
α·mean[e(Y⁺)² + meanᵢ e(Y⁻ᵢ)²] on per-element energies e. Logs ``sance/accuracy``,
``sance/offset`` (c per frame),
``sance/snapshot_age`` (steps since the last refresh), and the RMS distance to Y⁺ of the chain's
start and end (``dist_start``, ``dist_neg``).
"""

from __future__ import annotations

import copy
import math
from typing import Literal

import torch
from torch import Tensor, nn

from tts_ebm.model.energy import EnergyModel
from tts_ebm.objectives.base import (
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    register_objective,
)
from tts_ebm.objectives.hypotheses import LangevinHypothesis
from tts_ebm.objectives.nce import (
    LogPartitionOffset,
    binary_nce,
    by_source,
    energies_of,
    energy_regulariser,
    frame_binary_nce,
    frame_energies_of,
    interleave,
    noised_positives,
    rms_distance,
)


@register_objective("sance")
class SelfAdaptingNCE(Objective):
    """Binary NCE against short-run samples of a periodically refreshed frozen copy of E_θ."""

    name = "sance"

    def __init__(
        self,
        snapshot_interval: int = 5,
        n_negatives: int = 1,
        langevin_steps: int = 10,
        langevin_step_size: float = 0.1,
        langevin_noise: float = 1.0,
        sigma: float = 1.0,
        offset: Literal["scalar", "text"] = "scalar",
        alpha: float = 0.0,
        data_sigma: float = 0.0,
        logits: Literal["utterance", "frame"] = "utterance",
        n_mels: int = 80,
    ) -> None:
        super().__init__()
        if snapshot_interval < 1 or n_negatives < 1 or alpha < 0 or data_sigma < 0:
            raise ValueError(
                f"need snapshot_interval >= 1, n_negatives >= 1, alpha >= 0, data_sigma >= 0; "
                f"got {snapshot_interval}, {n_negatives}, {alpha}, {data_sigma}"
            )
        if logits not in ("utterance", "frame"):
            raise ValueError(f"logits must be 'utterance' or 'frame', got {logits!r}")
        self.logits = logits
        self.data_sigma = float(data_sigma)
        self.alpha = float(alpha)
        self.snapshot_interval = snapshot_interval
        self.n_negatives = n_negatives
        self.chain = LangevinHypothesis(langevin_steps, langevin_step_size, langevin_noise, sigma)
        self.offset = LogPartitionOffset(offset, n_mels)
        # A plain list keeps the snapshot out of .parameters(), .state_dict() and .to().
        self._snapshot: list[nn.Module] = []
        self._pending: dict[str, Tensor] | None = None  # restored weights, awaiting an energy
        self.refreshed_at = 0

    # -- the frozen noise model -------------------------------------------------------------

    def snapshot(self, energy: EnergyModel, step: int) -> nn.Module:
        """θ', created from ``energy`` on first use (or from restored weights after a resume)."""
        if not self._snapshot:
            if not isinstance(energy, nn.Module):
                raise TypeError("self-adapting NCE snapshots the energy: it must be an nn.Module")
            frozen = copy.deepcopy(energy).requires_grad_(False).eval()
            if self._pending is not None:
                frozen.load_state_dict(self._pending)
                self._pending = None
            else:
                self.refreshed_at = step
            self._snapshot.append(frozen)
        return self._snapshot[0]

    def on_train_batch_end(self, energy: EnergyModel, step: int) -> None:
        if not self._snapshot:
            self.snapshot(energy, step)
        elif step - self.refreshed_at >= self.snapshot_interval:
            self._snapshot[0].load_state_dict(energy.state_dict())
            self.refreshed_at = step

    def get_extra_state(self) -> dict:
        weights = self._snapshot[0].state_dict() if self._snapshot else self._pending
        return {"snapshot": dict(weights or {}), "refreshed_at": self.refreshed_at}

    def set_extra_state(self, state: dict) -> None:
        self.refreshed_at = int(state["refreshed_at"])
        weights = dict(state["snapshot"])
        if not weights:
            self._snapshot, self._pending = [], None
        elif self._snapshot:
            self._snapshot[0].load_state_dict(weights)
        else:
            self._pending = weights

    # -- the criterion ------------------------------------------------------------------------

    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput:
        y_ref, mask = inputs.y_ref, inputs.mask
        frozen = self.snapshot(energy, inputs.step)
        starts = [self.chain.start.sample(inputs, energy) for _ in range(self.n_negatives)]
        negatives = [self.chain.run(frozen, start, inputs) for start in starts]
        candidates = [noised_positives(y_ref, mask, self.data_sigma), *negatives]
        if self.logits == "frame":
            energies, loss, accuracy, offset = self._frame_terms(energy, frozen, candidates, inputs)
        else:
            energies, loss, accuracy, offset = self._utterance_terms(
                energy, frozen, candidates, inputs
            )
        per_element = energies / (mask.sum(dim=(1, 2)) * y_ref.shape[1]).clamp_min(1.0)
        if self.alpha > 0:
            # As improved CD's α term: keeps E_θ from drifting without bound once the
            # classifier saturates (the logit only constrains E_θ − E_θ').
            loss = loss + self.alpha * energy_regulariser(per_element)
        per_element = per_element.detach()
        return ObjectiveOutput(
            loss=loss,
            logs={
                "sance/loss": loss.detach(),
                "sance/accuracy": accuracy,
                "sance/offset": offset.detach(),
                "sance/snapshot_age": float(inputs.step - self.refreshed_at),
                "sance/energy_pos": per_element[0].mean(),
                "sance/energy_neg": per_element[1:].mean(),
                "sance/dist_start": rms_distance(y_ref, starts, mask),
                "sance/dist_neg": rms_distance(y_ref, negatives, mask),
            },
        )

    def _utterance_terms(
        self,
        energy: EnergyModel,
        frozen: nn.Module,
        candidates: list[Tensor],
        inputs: ObjectiveInputs,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One logit per utterance: energies (1 + ν, B), loss, accuracy, c per frame."""
        mu, mask = inputs.mu, inputs.mask
        energies = energies_of(energy, candidates, mu, mask)  # (1 + ν, B)
        with torch.no_grad():
            noise_energies = energies_of(frozen, candidates, mu.detach(), mask)
        offset = self.offset(mu, mask)
        logits = -energies + noise_energies - offset - math.log(self.n_negatives)
        loss, accuracy = binary_nce(logits[0], logits[1:])
        per_frame = (offset / mask.sum(dim=(1, 2)).clamp_min(1.0)).mean()
        return energies, loss, accuracy, per_frame

    def _frame_terms(
        self,
        energy: EnergyModel,
        frozen: nn.Module,
        candidates: list[Tensor],
        inputs: ObjectiveInputs,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One logit per frame of interleaved candidates (as NCE's ``logits: frame``, with the
        snapshot's frame energy as the noise log density): h_t = −e_t + e'_t − log ν − c_t.
        Returns each source's energy (1 + ν, B), loss, accuracy and c per frame."""
        mu, mask = inputs.mu, inputs.mask
        frame_mask = mask.squeeze(1)
        mixed, perm = interleave(candidates, frame_mask)
        energies = frame_energies_of(energy, mixed, mu, mask)  # (1 + ν, B, T)
        with torch.no_grad():
            noise_energies = frame_energies_of(frozen, mixed, mu.detach(), mask)
        offset = self.offset.frames(mu, mask)
        logits = by_source(-energies + noise_energies - offset - math.log(self.n_negatives), perm)
        loss, accuracy = frame_binary_nce(logits[0], logits[1:], frame_mask)
        per_frame = offset.sum() / frame_mask.sum().clamp_min(1.0)
        return by_source(energies, perm).sum(dim=-1), loss, accuracy, per_frame

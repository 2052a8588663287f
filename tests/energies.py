"""Energies with known scores, shared by the tests of criteria and of the sampler."""

from __future__ import annotations

import torch

from tts_ebm.model.energy import EnergyModule


class QuadraticEnergy(EnergyModule):
    """E(y) = ½‖y − target‖²_M / scale (μ unused): score (target − y)/scale, exactly; with
    scale = η one step of size η lands on the target."""

    def __init__(self, target: torch.Tensor, scale: float) -> None:
        super().__init__()
        self.register_buffer("target", target)
        self.scale = scale

    def frame_energy(self, y, mu, mask):
        return 0.5 * ((y - self.target) ** 2 * mask).sum(dim=1) / self.scale

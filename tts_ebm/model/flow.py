"""The flow-matching decoder: a vector field v(x_t, μ, t) on the energy network's U-Net trunk.

Matcha-TTS decodes with a time-conditioned U-Net trained by optimal-transport conditional flow
matching and integrates its vector field with a few Euler steps. This decoder is that idea on
this toolkit's own trunk (:class:`~tts_ebm.model.unet.UNet1d`, the one the energy network uses),
so an energy and a flow of the same config differ only in the head, the time input and the
criterion: a sinusoidal embedding of t is projected into every residual block's input (as
Matcha-TTS does inside its blocks), and an n_mels-channel head replaces the energy's.

The flow starts where the EBM sampler starts, at x₀ = μ + τε (not at N(0, I) with μ only an
input, as in Matcha-TTS): one Euler step from t = 0 is then the same move as one refinement step
of an energy trained by the delta criterion, which is conditional flow matching at t = 0 with a
time-free velocity that must be a gradient. ``objective=flow`` trains it
(:mod:`tts_ebm.objectives.flow`); :func:`tts_ebm.sampling.refine_details` integrates it.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from tts_ebm.model.energy import EnergyConfig, EnergyNetwork
from tts_ebm.model.unet import UNet1d


@runtime_checkable
class VectorField(Protocol):
    """What the sampler needs from a flow decoder (analytic fields plug in for tests)."""

    def velocity(self, x: Tensor, mu: Tensor, mask: Tensor, t: Tensor | float) -> Tensor:
        """v(x, μ, t), (B, n_mels, T), zero on padded frames."""
        ...


class SinusoidalEmbedding(nn.Module):
    """t ∈ [0, 1] (B,) → (B, dim) sines and cosines over geometric frequencies."""

    def __init__(self, dim: int, scale: float = 1000.0) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"embedding dimension must be even, got {dim}")
        self.dim = dim
        self.scale = scale

    def forward(self, t: Tensor) -> Tensor:
        half = self.dim // 2
        freqs = torch.exp(
            -math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half
        )
        angles = self.scale * t.float()[:, None] * freqs[None]
        return torch.cat([angles.sin(), angles.cos()], dim=-1).to(t.dtype)


class FlowDecoder(UNet1d):
    """v(x_t, μ, t): x, μ (B, n_mels, T), t (B,), mask (B, 1, T) → (B, n_mels, T), masked."""

    def __init__(self, config: EnergyConfig | None = None) -> None:
        config = config or EnergyConfig(form="flow")
        if config.form != "flow":
            raise ValueError(f"a FlowDecoder needs form 'flow', got {config.form!r}")
        if config.anchor_beta:
            raise ValueError("anchor_beta shapes an energy; a flow decoder has none")
        dim = config.channels[0]
        super().__init__(
            2 * config.n_mels,
            config.channels,
            config.n_blocks,
            config.kernel_size,
            config.groups,
            config.dropout,
            time_dim=dim,
        )
        self.config = config
        self.time_embedding = nn.Sequential(
            SinusoidalEmbedding(dim), nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.out = nn.Conv1d(dim, config.n_mels, 1)

    def velocity(self, x: Tensor, mu: Tensor, mask: Tensor, t: Tensor | float) -> Tensor:
        """The vector field at x and times t (B,) (or a scalar t for the whole batch)."""
        n_frames = x.shape[-1]
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        x, mu, mask = self.pad(x, mu, mask)
        h = self.trunk(torch.cat([x, mu], dim=1) * mask, mask, self.time_embedding(t))
        return (self.out(h) * mask)[..., :n_frames]

    def forward(self, x: Tensor, mu: Tensor, mask: Tensor, t: Tensor) -> Tensor:
        return self.velocity(x, mu, mask, t)


def build_decoder(config: EnergyConfig) -> nn.Module:
    """The decoder network ``config.form`` names: an energy network, or a flow decoder."""
    return FlowDecoder(config) if config.form == "flow" else EnergyNetwork(config)

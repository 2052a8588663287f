"""A flow-matching-style decoder of the energy network's size, for speed comparisons only.

Matcha-TTS decodes with a time-conditioned U-Net that outputs a vector field v(x_t, μ, t) and
integrates it with Euler steps; one step is one forward pass. An EBM refinement step is a forward
pass *plus* an input gradient. To compare the two fairly the baseline uses the energy network's
own U-Net — its layer stacks are taken from an :class:`EnergyNetwork` built with the same
config — adds a sinusoidal time embedding projected into each residual block's input (as
Matcha-TTS adds it inside each block), and replaces the scalar energy head by an n_mels-channel
vector-field head. Untrained weights are fine: speed does not depend on them.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tts_ebm.model.energy import EnergyConfig, EnergyNetwork


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


class FlowDecoder(nn.Module):
    """v(x_t, μ, t): (B, n_mels, T) × 2 and t (B,) → vector field (B, n_mels, T), masked."""

    def __init__(self, config: EnergyConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EnergyConfig()
        unet = EnergyNetwork(config)  # only its layer stacks are kept, not its scalar head
        self.down, self.downsample, self.mid = unet.down, unet.downsample, unet.mid
        self.up, self.upsample = unet.up, unet.upsample
        self.multiple = unet.multiple
        dim = config.channels[0]
        self.time_embedding = nn.Sequential(
            SinusoidalEmbedding(dim), nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        # One projection per residual block, in the order the forward pass visits them.
        blocks = [*itertools.chain(*self.down), *self.mid, *itertools.chain(*self.up)]
        self.time_projections = nn.ModuleList(
            nn.Linear(dim, block.conv1.in_channels) for block in blocks
        )
        self.out = nn.Conv1d(config.channels[0], config.n_mels, 1)

    def forward(self, x: Tensor, mu: Tensor, t: Tensor, mask: Tensor) -> Tensor:
        n_frames = x.shape[-1]
        pad = -n_frames % self.multiple
        if pad:
            x, mu, mask = (F.pad(a, (0, pad)) for a in (x, mu, mask))
        embedding = self.time_embedding(t)
        projections = iter(self.time_projections)

        def run(blocks: nn.ModuleList, h: Tensor, m: Tensor) -> Tensor:
            for block in blocks:
                h = block((h + next(projections)(embedding)[:, :, None]) * m, m)
            return h

        h = torch.cat([x, mu], dim=1) * mask
        skips: list[tuple[Tensor, Tensor]] = []
        for level, blocks in enumerate(self.down):
            h = run(blocks, h, mask)
            skips.append((h, mask))
            if level < len(self.downsample):
                mask = mask[..., ::2]
                h = self.downsample[level](h) * mask
        h = run(self.mid, h, mask)
        for j, blocks in enumerate(self.up):
            skip, mask = skips.pop()
            if j > 0:
                h = self.upsample[j - 1](h) * mask
            h = run(blocks, torch.cat([h, skip], dim=1), mask)
        return (self.out(h) * mask)[..., :n_frames]


@torch.no_grad()
def euler_sample(
    decoder: FlowDecoder,
    mu: Tensor,
    mask: Tensor,
    steps: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """x₀ = τ·ε, then ``steps`` Euler steps x ← x + v(x, μ, t)/steps over t ∈ [0, 1)."""
    noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    x = temperature * noise * mask
    t = torch.zeros(mu.shape[0], dtype=mu.dtype, device=mu.device)
    for i in range(steps):
        x = x + decoder(x, mu, t + i / steps, mask) / steps
    return x

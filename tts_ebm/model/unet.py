"""The 1-D U-Net trunk shared by the energy network and the flow-matching decoder.

Both decoders read [Y; μ] (2·n_mels channels) through the same layer stacks in the shape of
Matcha-TTS's decoder and differ only in their heads (a scalar or quadratic energy, a vector
field) and in whether the blocks see a time input: an energy is time-free, a flow's vector
field v(x_t, μ, t) is not. Keeping one trunk means a comparison of the two measures the
criterion, not two architectures.

Two properties shape the code:

* **Twice differentiable.** Energy criteria differentiate the score (itself a gradient) with
  respect to the parameters, so activations are smooth (SiLU): with ReLU's zero second
  derivative the score of a conv stack is piecewise constant in Y.
* **Padding invariance.** Padded frames must not change anything on valid frames, otherwise an
  utterance's output depends on its batch. Every block takes and returns tensors that are zero
  beyond the mask, convolutions therefore see zeros there whatever the padding length, masks are
  downsampled with the data, and GroupNorm statistics are taken over valid frames only
  (:class:`MaskedGroupNorm`; ``nn.GroupNorm`` would average over padding).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedGroupNorm(nn.Module):
    """GroupNorm whose statistics cover valid frames only, so padding cannot shift them.

    The output on padded frames is left unspecified (callers mask it): skipping those masking
    multiplies saves a tenth of a training step, where elementwise ops are a quarter of the time.
    """

    def __init__(self, groups: int, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, c, t = x.shape
        xg = x.reshape(b, self.groups, c // self.groups, t)
        m = mask.squeeze(1)  # (B, T)
        count = (m.sum(dim=1) * (c // self.groups)).clamp_min(1.0)[:, None]  # (B, 1)
        # Masked sums as (batched) matrix products: no masked copy of x is materialised.
        mean = torch.einsum("bgct,bt->bg", xg, m) / count
        centred = xg - mean[:, :, None, None]
        var = torch.einsum("bgct,bt->bg", centred.pow(2), m) / count
        scale = torch.rsqrt(var + self.eps)[:, :, None].expand(b, self.groups, c // self.groups)
        scale = scale.reshape(b, c, 1) * self.weight[:, None]
        return torch.addcmul(self.bias[:, None], centred.reshape(b, c, t), scale)


class ResBlock(nn.Module):
    """Two conv → masked GroupNorm → SiLU layers with a residual path; masked in, masked out."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, groups: int, dropout: float
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2)
        self.norm1 = MaskedGroupNorm(groups, c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=kernel_size // 2)
        self.norm2 = MaskedGroupNorm(groups, c_out)
        self.dropout = nn.Dropout(dropout)
        self.residual = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = F.silu(self.norm1(self.conv1(x), mask))
        h = self.dropout(h) * mask
        h = F.silu(self.norm2(self.conv2(h), mask))
        return (h + self.residual(x)) * mask


class UNet1d(nn.Module):
    """Down/mid/up stacks of :class:`ResBlock` over (B, in_channels, T), any T, any padding.

    ``time_dim``: when given, every block adds a projection of a (B, time_dim) embedding to its
    input (as Matcha-TTS conditions its decoder blocks on t); ``trunk`` then needs one.
    Subclasses add a head on ``channels[0]`` output channels; the stacks keep the attribute
    names (``down``, ``mid``, ``up``, ...) that checkpoints store.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        n_blocks: int,
        kernel_size: int,
        groups: int,
        dropout: float,
        time_dim: int | None = None,
    ) -> None:
        super().__init__()
        n_levels = len(channels)
        # Lengths are padded to a multiple of this so every downsampling halves exactly.
        self.multiple = 2 ** (n_levels - 1)

        def blocks(c_in: int, c_out: int) -> nn.ModuleList:
            return nn.ModuleList(
                ResBlock(c_in if i == 0 else c_out, c_out, kernel_size, groups, dropout)
                for i in range(n_blocks)
            )

        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_in = in_channels
        for level, c in enumerate(channels):
            self.down.append(blocks(c_in, c))
            if level < n_levels - 1:
                self.downsample.append(nn.Conv1d(c, c, 3, stride=2, padding=1))
            c_in = c
        self.mid = blocks(c_in, c_in)
        # up[j] works on level n_levels − 1 − j; upsample[j] lifts its output one level up.
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(n_levels)):
            c = channels[level]
            self.up.append(blocks(c_in + c, c))
            if level > 0:
                self.upsample.append(nn.ConvTranspose1d(c, c, 4, stride=2, padding=1))
            c_in = c
        self.time_projections = (
            nn.ModuleList(
                nn.Linear(time_dim, block.conv1.in_channels) for block in self._blocks_in_order()
            )
            if time_dim
            else None
        )

    def _blocks_in_order(self) -> list[ResBlock]:
        """The residual blocks in the order :meth:`trunk` runs them."""
        stacks = [*self.down, self.mid, *self.up]
        return [block for stack in stacks for block in stack]

    def trunk(self, x: Tensor, mask: Tensor, time: Tensor | None = None) -> Tensor:
        """(B, in_channels, T) masked → (B, channels[0], T'), T' = T padded to ``multiple``
        (callers pad their inputs the same way and crop their head's output)."""
        if (time is None) != (self.time_projections is None):
            raise ValueError("a time embedding is needed exactly when the trunk has time_dim")
        projections = iter(self.time_projections or ())

        def run(stack: nn.ModuleList, h: Tensor, m: Tensor) -> Tensor:
            for block in stack:
                if time is not None:
                    h = (h + next(projections)(time)[:, :, None]) * m
                h = block(h, m)
            return h

        skips: list[tuple[Tensor, Tensor]] = []
        for level, stack in enumerate(self.down):
            x = run(stack, x, mask)
            skips.append((x, mask))
            if level < len(self.downsample):
                mask = mask[..., ::2]
                x = self.downsample[level](x) * mask
        x = run(self.mid, x, mask)
        for j, stack in enumerate(self.up):
            skip, mask = skips.pop()
            if j > 0:
                x = self.upsample[j - 1](x) * mask
            x = run(stack, torch.cat([x, skip], dim=1), mask)
        return x

    def pad(self, *tensors: Tensor) -> list[Tensor]:
        """Zero-pad (…, T) tensors to a length the trunk halves exactly."""
        pad = -tensors[0].shape[-1] % self.multiple
        return [F.pad(t, (0, pad)) if pad else t for t in tensors]

"""Small building blocks shared by the acoustic-model modules (all in (B, C, T) layout)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sequence_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Boolean (B, T) mask, True on the first ``lengths[b]`` positions of each row.

    ``max_len`` defaults to ``lengths.max()``; pass the padded size explicitly when the batch
    tensor is longer than its longest item, so the mask lines up with it.
    """
    if max_len is None:
        max_len = int(lengths.max())
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def flat_mask(mask: Tensor) -> Tensor:
    """Accept a (B, T) or (B, 1, T) mask of any dtype and return it as a float (B, T) tensor.

    Callers hold masks in either shape (conv stacks like (B, 1, T), attention likes (B, T)); the
    alignment and loss functions take both so that nobody has to remember which one they want.
    """
    if mask.dim() == 3:
        if mask.shape[1] != 1:
            raise ValueError(f"expected a (B, 1, T) mask, got shape {tuple(mask.shape)}")
        mask = mask.squeeze(1)
    elif mask.dim() != 2:
        raise ValueError(f"expected a (B, T) or (B, 1, T) mask, got shape {tuple(mask.shape)}")
    return mask.float()


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a (B, C, T) tensor, so conv stacks need no transposes."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        y = F.layer_norm(x.transpose(1, 2), (self.channels,), self.weight, self.bias, self.eps)
        return y.transpose(1, 2)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021) for (..., T, D) queries and keys.

    Rotating channel pairs of q and k by angles proportional to the position makes every score
    q_m·k_n a function of the offset m − n only: attention gets relative positions without
    Glow-TTS's learned relative tables, with nothing to learn and no maximum length. The angles
    are computed in float32 on the fly (cheap next to attention) so there is no buffer whose dtype
    or checkpoint presence could drift.
    """

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"rotary dimension must be even, got {dim}")
        self.dim = dim
        self.base = base

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Rotate ``x`` (..., T, D) as if its first position had index ``offset``."""
        t = x.shape[-2]
        inv_freq = self.base ** (
            -torch.arange(0, self.dim, 2, device=x.device, dtype=torch.float32) / self.dim
        )
        positions = torch.arange(offset, offset + t, device=x.device, dtype=torch.float32)
        angles = torch.outer(positions, inv_freq)  # (T, D/2)
        cos, sin = angles.cos(), angles.sin()
        x1, x2 = x.float().chunk(2, dim=-1)
        rotated = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
        return rotated.to(x.dtype)


def random_segments(
    tensors: list[Tensor], mask: Tensor, length: int
) -> tuple[list[Tensor], Tensor]:
    """Crop every utterance of a batch to a random window of at most ``length`` frames.

    The energy network only sees local context, so training it on ~2 s windows (Matcha-TTS's
    ``out_size``) costs a fraction of whole utterances and changes nothing at inference, where it
    runs on whole ones. ``tensors`` are (B, C, T) and share the (B, 1, T) ``mask``; a shorter
    utterance is kept whole (its window starts at 0). Draws from torch's global generator, so a
    seeded training step crops the same windows when resumed.
    """
    lengths = mask.sum(dim=(1, 2)).round().long()
    width = int(min(length, int(lengths.max())))
    spare = (lengths - width).clamp(min=0)
    starts = (torch.rand(lengths.shape, device=lengths.device) * (spare + 1)).floor().long()
    index = starts.unsqueeze(1) + torch.arange(width, device=lengths.device)  # (B, width)
    crops = [t.gather(2, index.unsqueeze(1).expand(-1, t.shape[1], -1)) for t in tensors]
    return crops, mask.gather(2, index.unsqueeze(1))

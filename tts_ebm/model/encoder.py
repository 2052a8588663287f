"""Text encoder and duration predictor (the Glow-TTS / Grad-TTS / Matcha-TTS design).

The encoder maps phone ids to ``mu_x``, one mean mel frame per token in normalised mel space,
which MAS aligns to the reference and ``expand`` turns into the frame-level condition μ of the
energy network. The duration predictor reads *detached* encoder states, so its loss trains only
itself and cannot pull the text representation towards what is easy to time.

Sizes: the default config (192 channels, 768 filter, 6 layers, 2 heads) has about 7.2 M
parameters, like Matcha-TTS's encoder. ``EncoderConfig.tiny`` (64 channels, 128 filter, 2 layers,
1 head, ~0.24 M parameters) runs in milliseconds on a CPU and is what the tests use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tts_ebm.model.layers import ChannelLayerNorm, RotaryEmbedding, sequence_mask


@dataclass
class EncoderConfig:
    """Hyper-parameters of :class:`TextEncoder`; plain types so it round-trips through a dict."""

    n_vocab: int
    n_mels: int = 80
    channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    dropout: float = 0.1
    prenet_layers: int = 3
    prenet_kernel: int = 5
    duration_channels: int = 256
    duration_kernel: int = 3
    duration_dropout: float = 0.1
    pre_norm: bool = False  # post-norm is the tested Glow/Matcha recipe; pre-norm adds a final LN
    rope_base: float = 10000.0

    @classmethod
    def tiny(cls, n_vocab: int, n_mels: int = 80) -> EncoderConfig:
        """A ~0.24 M-parameter encoder for tests and CPU smoke runs."""
        return cls(
            n_vocab=n_vocab,
            n_mels=n_mels,
            channels=64,
            filter_channels=128,
            n_heads=1,
            n_layers=2,
            duration_channels=64,
        )


@dataclass
class EncoderOutput:
    """``mu_x`` (B, n_mels, L) and ``log_durations`` (B, L) are zero on padding; mask (B, 1, L)."""

    mu_x: Tensor
    log_durations: Tensor
    mask: Tensor


class ConvPrenet(nn.Module):
    """Conv → LN → ReLU → dropout blocks around a residual whose last 1×1 conv starts at zero.

    Gives each token a little local context before attention; the zero-initialised projection
    makes the block start as the identity, so it cannot hurt early training.
    """

    def __init__(self, channels: int, n_layers: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
            for _ in range(n_layers)
        )
        self.norms = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = x
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = self.dropout(torch.relu(norm(conv(h * mask))))
        return (x + self.proj(h)) * mask


class SelfAttention(nn.Module):
    """Multi-head self-attention with RoPE on q and k and a key-padding mask."""

    def __init__(self, channels: int, n_heads: int, dropout: float, rope_base: float) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"channels ({channels}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.head_dim = channels // n_heads
        self.dropout = dropout
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        self.rotary = RotaryEmbedding(self.head_dim, rope_base)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        """``x`` (B, C, T), ``key_mask`` (B, T) bool; padded keys get no weight."""
        b, c, t = x.shape
        qkv = self.qkv(x).view(b, 3, self.n_heads, self.head_dim, t).transpose(-1, -2)
        q, k, v = qkv.unbind(1)  # each (B, H, T, D)
        q, k = self.rotary(q), self.rotary(k)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=key_mask[:, None, None, :],
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(out.transpose(-1, -2).reshape(b, c, t))


class FeedForward(nn.Module):
    """Two 1-D convolutions: position-wise FFN with a little local context, as in Glow-TTS."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(filter_channels, channels, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.dropout(torch.relu(self.conv1(x * mask)))
        return self.conv2(h * mask) * mask


class TransformerLayer(nn.Module):
    """Self-attention + conv FFN, each in a residual branch with dropout and LayerNorm."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        c = config.channels
        self.pre_norm = config.pre_norm
        self.attention = SelfAttention(c, config.n_heads, config.dropout, config.rope_base)
        self.ffn = FeedForward(c, config.filter_channels, config.kernel_size, config.dropout)
        self.norm1 = ChannelLayerNorm(c)
        self.norm2 = ChannelLayerNorm(c)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        key_mask = mask.squeeze(1).bool()
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.norm1(x), key_mask))
            x = x + self.dropout(self.ffn(self.norm2(x), mask))
        else:
            x = self.norm1(x + self.dropout(self.attention(x, key_mask)))
            x = self.norm2(x + self.dropout(self.ffn(x, mask)))
        return x * mask


class DurationPredictor(nn.Module):
    """Two conv → ReLU → LN → dropout blocks and a 1×1 conv to one log-duration per token."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(in_channels, channels, kernel_size, padding=pad)
        self.norm1 = ChannelLayerNorm(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=pad)
        self.norm2 = ChannelLayerNorm(channels)
        self.proj = nn.Conv1d(channels, 1, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` (B, C, L), ``mask`` (B, 1, L) → log-durations (B, L), zero on padding."""
        h = self.dropout(self.norm1(torch.relu(self.conv1(x * mask))))
        h = self.dropout(self.norm2(torch.relu(self.conv2(h * mask))))
        return (self.proj(h * mask) * mask).squeeze(1)


class TextEncoder(nn.Module):
    """Token ids → per-token mel means ``mu_x`` and log-durations.

    Embedding → conv prenet → RoPE transformer → 1×1 conv to ``n_mels``; the duration predictor
    sees the transformer output through ``detach()``. Every conv input is masked and attention
    ignores padded keys, so tokens beyond ``lengths`` cannot change the outputs on valid tokens.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.embedding = nn.Embedding(config.n_vocab, c)
        # Glow-TTS scaling: N(0, 1/C) weights times sqrt(C) give unit-variance embeddings.
        nn.init.normal_(self.embedding.weight, 0.0, c**-0.5)
        self.prenet = ConvPrenet(c, config.prenet_layers, config.prenet_kernel, config.dropout)
        self.layers = nn.ModuleList(TransformerLayer(config) for _ in range(config.n_layers))
        self.final_norm = ChannelLayerNorm(c) if config.pre_norm else None
        self.proj = nn.Conv1d(c, config.n_mels, 1)
        self.duration_predictor = DurationPredictor(
            c, config.duration_channels, config.duration_kernel, config.duration_dropout
        )

    def forward(self, tokens: Tensor, lengths: Tensor) -> EncoderOutput:
        """``tokens`` (B, L) long, ``lengths`` (B,) long with every length >= 1."""
        mask = sequence_mask(lengths, tokens.shape[1]).unsqueeze(1).float()  # (B, 1, L)
        x = self.embedding(tokens).transpose(1, 2) * math.sqrt(self.config.channels) * mask
        x = self.prenet(x, mask)
        for layer in self.layers:
            x = layer(x, mask)
        if self.final_norm is not None:
            x = self.final_norm(x) * mask
        mu_x = self.proj(x) * mask
        log_durations = self.duration_predictor(x.detach(), mask)
        return EncoderOutput(mu_x=mu_x, log_durations=log_durations, mask=mask)

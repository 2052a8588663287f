"""How the HiFi-GAN generator runs: as loaded (plain PyTorch), or converted for oneDNN on CPUs.

Measured side by side at one thread (benchmarks/README.md): oneDNN runs HiFi-GAN's 1-D
convolutions through a slow layout path; the same convolutions as 2-D ones over (B, C, 1, T) in
channels-last memory run ~1.3× faster, and with bf16 weights and activations in the residual
blocks — where almost all the work is — 2.5–3.3× faster than the reference implementation, on
CPUs with native bf16 (AVX512-BF16 or AMX). The first convolution (which reads the log-mel), the
upsampling layers and the last convolution stay in float32, as does the residual stream, so
the audio stays within rounding of the reference: 42–45 dB SNR (bf16 upsampling too: 33–40 dB,
for no measurable speed; all-bf16: 29 dB).
ONNX Runtime's CPU provider was measured too and is no faster than plain PyTorch here.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below are read by argument parsers: keep torch out of import
    import torch
    from torch import nn

    from tts_ebm.vocoder.hifigan import HiFiGANGenerator

RUNTIMES = ("auto", "torch", "cpu-fp32", "cpu-bf16")
# oneDNN keeps every convolution primitive it builds, per input shape, 1024 by default; with a
# new length per sentence that grew `synthesize --file` of 100 sentences to 3.1 GB. 64 holds one
# HiFi-GAN forward pass's ~53 primitives: 12 calls of 12 lengths peaked at 0.7 GB, not 1.0 GB.
ONEDNN_CACHE_ENV, ONEDNN_CACHE_CAPACITY = "ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64"
RUNTIME_HELP = (
    "auto (cpu-bf16 on CPUs with native bf16, else cpu-fp32; torch on GPUs), torch (plain "
    "PyTorch, the reference implementation's layout), cpu-fp32 (channels-last float32), "
    "cpu-bf16 (channels-last, bf16 residual blocks)"
)
_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}  # x86 flags of native bf16 dot products


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 dot products in hardware; elsewhere oneDNN emulates them,
    more slowly than float32."""
    machine = platform.machine().lower()
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags = set(value.split())
            return bool(flags & _BF16_FLAGS) or (
                machine in ("aarch64", "arm64") and "bf16" in flags
            )
    return False


def resolve_runtime(name: str, device: torch.device) -> str:
    """The concrete runtime for ``name`` on ``device``; ValueError for an impossible choice."""
    if name not in RUNTIMES:
        raise ValueError(f"unknown vocoder runtime {name!r}; choose one of: {', '.join(RUNTIMES)}")
    if name == "auto":
        if device.type != "cpu":
            return "torch"
        return "cpu-bf16" if cpu_has_native_bf16() else "cpu-fp32"
    if name != "torch" and device.type != "cpu":
        raise ValueError(f"vocoder runtime {name!r} is for CPUs; use torch on {device.type}")
    return name


def apply_runtime(generator: HiFiGANGenerator, runtime: str) -> HiFiGANGenerator:
    """Convert ``generator`` in place for a resolved ``runtime`` (see :func:`resolve_runtime`).

    A converted generator no longer loads state dicts (its weights are 2-D); convert after
    loading.
    """
    if runtime == "torch":
        return generator
    import torch

    # Read when oneDNN builds its first primitive: effective before the first convolution.
    os.environ.setdefault(ONEDNN_CACHE_ENV, ONEDNN_CACHE_CAPACITY)
    _convert_convolutions(generator)
    generator.channels_last_2d = True
    if runtime == "cpu-bf16":
        generator.resblocks.to(torch.bfloat16)
    return generator


def _convert_convolutions(module: nn.Module) -> None:
    """Every Conv1d / ConvTranspose1d below ``module`` → its 2-D twin over (C, 1, T), weights in
    channels-last memory; the same arithmetic, in the layout oneDNN is fast at."""
    from torch import nn

    for name, child in module.named_children():
        if isinstance(child, nn.Conv1d | nn.ConvTranspose1d):
            setattr(module, name, _as_2d(child))
        else:
            _convert_convolutions(child)


def _as_2d(conv: nn.Conv1d | nn.ConvTranspose1d) -> nn.Module:
    import torch
    from torch import nn

    kind = nn.ConvTranspose2d if isinstance(conv, nn.ConvTranspose1d) else nn.Conv2d
    extra = {"output_padding": (0, conv.output_padding[0])} if kind is nn.ConvTranspose2d else {}
    twin = kind(
        conv.in_channels,
        conv.out_channels,
        (1, conv.kernel_size[0]),
        stride=(1, conv.stride[0]),
        padding=(0, conv.padding[0]),
        dilation=(1, conv.dilation[0]),
        groups=conv.groups,
        bias=conv.bias is not None,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
        **extra,
    )
    with torch.no_grad():
        twin.weight.copy_(conv.weight.unsqueeze(2))
        if conv.bias is not None:
            twin.bias.copy_(conv.bias)
    return twin.to(memory_format=torch.channels_last)

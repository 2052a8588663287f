"""What an inference checkpoint's header must hold, and the model a checked header describes.

A header is trusted in nothing: :data:`HEADER` (types, ranges with upper bounds on every size, the
symbol list, the inference knobs' own ranges) and the cross-field rules must pass, and the shapes
the network config implies (a model built on the meta device, no memory) must equal those of the
tensors present before :func:`build` makes a module. Safetensors files and training checkpoints
(``tts_ebm.checkpoint``, ``tts_ebm.lightning_checkpoint``) both end here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch.overrides import TorchFunctionMode

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.model.encoder import EncoderConfig
from tts_ebm.model.energy import FORMS, EnergyConfig
from tts_ebm.model.tts import EBMTTS
from tts_ebm.sampling import KNOBS
from tts_ebm.schema import Bool, Float, Int, ListOf, Record, SchemaError, Str, required_fields

FORMAT = "tts-ebm/1"
METADATA_KEY = "tts_ebm"

# Upper bounds on sizes: far above any sensible model, low enough that a config within them
# can be built on the meta device in milliseconds (its shapes are then compared to the file's).
MAX_CHANNELS = 8192
MAX_LAYERS = 64
MAX_VOCAB = 10_000
MAX_MELS = 512
MAX_KERNEL = 31

ENCODER = Record(
    {
        "n_vocab": Int(1, MAX_VOCAB),
        "n_mels": Int(1, MAX_MELS),
        "channels": Int(1, MAX_CHANNELS),
        "filter_channels": Int(1, 4 * MAX_CHANNELS),
        "n_heads": Int(1, 64),
        "n_layers": Int(0, MAX_LAYERS),
        "kernel_size": Int(1, MAX_KERNEL, odd=True),
        "dropout": Float(0.0, 0.99),
        "prenet_layers": Int(0, MAX_LAYERS),
        "prenet_kernel": Int(1, MAX_KERNEL, odd=True),
        "duration_channels": Int(1, MAX_CHANNELS),
        "duration_kernel": Int(1, MAX_KERNEL, odd=True),
        "duration_dropout": Float(0.0, 0.99),
        "pre_norm": Bool(),
        "rope_base": Float(1.0, 1e9, low_open=True),
    },
    required_fields(EncoderConfig),
)
ENERGY = Record(
    {
        "n_mels": Int(1, MAX_MELS),
        "channels": ListOf(Int(1, MAX_CHANNELS), 1, 8),
        "n_blocks": Int(1, 16),
        "kernel_size": Int(1, MAX_KERNEL, odd=True),
        "groups": Int(1, 512),
        "anchor_beta": Float(0.0, 1e6),
        "dropout": Float(0.0, 0.99),
        "form": Str(FORMS),
        "curvature": Float(0.0, 1e6, low_open=True),
    },
    required_fields(EnergyConfig),
)
NETWORK = Record({"encoder": ENCODER, "energy": ENERGY}, frozenset({"encoder", "energy"}))

SYMBOL_TABLE = Record(
    {"name": Str(), "version": Int(1, 10_000), "symbols": ListOf(Str(), 1, MAX_VOCAB)},
    frozenset({"name", "version", "symbols"}),
)

FRONTEND = Record(
    {"kind": Str(), "add_blank": Bool(), "language": Str(), "symbol_table": SYMBOL_TABLE},
    frozenset({"kind", "add_blank", "language", "symbol_table"}),
)

MEL = Record(
    {
        "sample_rate": Int(1000, 384_000),
        "n_fft": Int(16, 65_536),
        "win_length": Int(16, 65_536),
        "hop_length": Int(1, 65_536),
        "n_mels": Int(1, MAX_MELS),
        "f_min": Float(0.0, 192_000.0),
        "f_max": Float(0.0, 192_000.0, low_open=True),
        "convention": Str(),
    },
    required_fields(MelConfig),
)

# Log-mel statistics: the HiFi-GAN log-mel lies in about [-11.5, 5]; std 1e-6 is the floor the
# accumulator itself applies.
STATS = Record(
    {"mel_mean": Float(-100.0, 100.0), "mel_std": Float(1e-6, 100.0), "n_frames": Int(0)},
    frozenset({"mel_mean", "mel_std"}),
)

SHARED_MODULES = ("encoder",)  # what a voice takes from its base: text encoder and durations

# A voice's base: a packaged voice name, the top-level modules taken from it, and the sha256
# of those tensors (:func:`fingerprint`).
BASE = Record(
    {"name": Str(), "modules": ListOf(Str(SHARED_MODULES), 1, 1), "sha256": Str()},
    frozenset({"name", "modules", "sha256"}),
)

HEADER = Record(
    {
        "format": Str((FORMAT,)),
        "network": NETWORK,
        "frontend": FRONTEND,
        "mel": MEL,
        "stats": STATS,
        "inference": KNOBS,  # the synthesizer's own ranges and rules
        "info": Record({}, closed=False),
        "base": BASE,
    },
    frozenset({"format", "network", "frontend", "mel", "stats", "inference"}),
    closed=False,
)

_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or not a tts-ebm inference checkpoint."""


@dataclass
class InferenceCheckpoint:
    model: EBMTTS
    frontend: dict  # TextFrontend.to_config()
    mel: MelConfig
    stats: MelStats
    inference: dict  # default knobs: steps, step_size, temperature, langevin
    info: dict  # provenance: criterion, training steps, run config summary


class TensorInfo(NamedTuple):
    """What the header says of a tensor: enough to check it against the config unread."""

    shape: tuple[int, ...]
    floating: bool


def check_metadata(meta: Any, tensors: Mapping[str, TensorInfo]) -> None:
    """Refuse (SchemaError, one line naming the field) metadata that is malformed, inconsistent
    or that does not describe exactly the ``tensors`` present. Builds nothing but meta tensors."""
    HEADER.check(meta, "")
    _check_consistency(meta)
    expected = _expected_shapes(meta["network"])
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    if missing or unexpected:
        raise SchemaError(
            "the weights do not match the network config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for name, shape in expected.items():
        if tensors[name].shape != shape:
            raise SchemaError(
                f"tensor {name} has shape {list(tensors[name].shape)} but the network config "
                f"implies {list(shape)}"
            )
        if not tensors[name].floating:
            raise SchemaError(f"tensor {name} is not floating point")


def _check_consistency(meta: dict) -> None:
    """Cross-field rules a per-field schema cannot state."""
    network = meta["network"]
    n_mels = {
        "mel.n_mels": MelConfig(**meta["mel"]).n_mels,
        "network.encoder.n_mels": network["encoder"].get("n_mels", EncoderConfig.n_mels),
        "network.energy.n_mels": network["energy"].get("n_mels", EnergyConfig.n_mels),
    }
    if len(set(n_mels.values())) > 1:
        raise SchemaError(f"n_mels disagree: {n_mels}")
    n_symbols = len(meta["frontend"]["symbol_table"]["symbols"])
    if network["encoder"]["n_vocab"] != n_symbols:
        raise SchemaError(
            f"network.encoder.n_vocab ({network['encoder']['n_vocab']}) differs from the "
            f"{n_symbols} symbols of frontend.symbol_table"
        )
    mel = MelConfig(**meta["mel"])
    if not mel.hop_length <= mel.win_length <= mel.n_fft:
        raise SchemaError(
            f"mel needs hop_length <= win_length <= n_fft, got {mel.hop_length}, "
            f"{mel.win_length}, {mel.n_fft}"
        )
    if not mel.f_min < mel.f_max <= mel.sample_rate / 2:
        raise SchemaError(
            f"mel needs f_min < f_max <= sample_rate / 2, got {mel.f_min}, {mel.f_max}, "
            f"{mel.sample_rate}"
        )


class _SkipNormalInit(TorchFunctionMode):
    """Leaves ``normal_`` initialisation out: meaningless on the meta device, where torch 2.13
    routes it through code that imports torch._dynamo (~1.5 s of every synthesis start)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.normal_, torch.nn.init.normal_):
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))


def _expected_shapes(network: dict) -> dict[str, tuple[int, ...]]:
    """Parameter shapes the config implies, from a model built on the meta device (no memory).

    The model's own constructors apply its structural rules (heads divide channels, groups
    divide U-Net channels); their ValueErrors name the problem.
    """
    try:
        with torch.device("meta"), _SkipNormalInit():
            model = EBMTTS.from_config(network)
    except ValueError as exc:
        raise SchemaError(f"network: {exc}") from None
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def build(
    meta: dict, state: Mapping[str, torch.Tensor], info: dict, device: str
) -> InferenceCheckpoint:
    """The checkpoint of validated ``meta`` and matching ``state`` (any floating dtype)."""
    for name, tensor in state.items():
        if not torch.isfinite(tensor).all():
            raise SchemaError(f"tensor {name} holds NaN or infinite values")
    model = EBMTTS.from_config(meta["network"])
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.to(device).eval()
    return InferenceCheckpoint(
        model=model,
        frontend=dict(meta["frontend"]),
        mel=MelConfig(**meta["mel"]),
        stats=MelStats.from_dict(meta["stats"]),
        inference=dict(meta["inference"]),
        info=info,
    )


def header_metadata(handle: Any) -> Any:
    """The decoded tts-ebm JSON of an open safetensors file (not yet checked)."""
    raw = (handle.metadata() or {}).get(METADATA_KEY)
    if raw is None:
        raise SchemaError("a safetensors file without tts-ebm metadata")
    return json.loads(raw)


def tensor_info(handle: Any, name: str) -> TensorInfo:
    view = handle.get_slice(name)
    return TensorInfo(tuple(view.get_shape()), view.get_dtype() in _FLOAT_DTYPES)


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__

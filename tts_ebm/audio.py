"""Audio I/O and the log-mel spectrogram of HiFi-GAN V1.

The mel definition must match the one the vocoder was trained on bit for bit (DESIGN.md §2);
everything that turns audio into model features goes through :class:`MelSpectrogram`.
This module knows nothing of text or models.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

SAMPLE_RATE = 22050
# Loudest sample :func:`load_audio` accepts. Integer formats read as [-1, 1); float files may
# overshoot full scale a little after float processing, but a larger peak means the file is
# not at the expected scale (e.g. a float file holding int16 values) and its features are junk.
MAX_ABS_SAMPLE = 1.1
# Lowest sample rate :func:`load_audio` accepts: below telephone band nothing is speech, and
# resampling a 1 Hz header to 22050 Hz would turn a few kilobytes into gigabytes.
MIN_SAMPLE_RATE = 4000


class AudioError(ValueError):
    """An audio file that cannot be read or written; the message says which and why."""


@dataclass(frozen=True)
class MelConfig:
    """Parameters of the HiFi-GAN V1 log-mel; stored in every checkpoint to detect mismatches."""

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8000.0
    convention: str = "hifigan-v1"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MelConfig:
        return cls(**data)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read wav/flac/ogg of any rate and channel count as mono float32 at ``sample_rate``.

    Refuses (:class:`AudioError`) a wav that ends inside its data chunk, a rate below
    ``MIN_SAMPLE_RATE`` and samples that are not finite or outside ±``MAX_ABS_SAMPLE``, so no
    caller computes features from them.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    check_wav_complete(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for corrupt files
        raise AudioError(f"cannot read audio file {path}: {exc}") from exc
    if data.size == 0:
        raise AudioError(f"audio file {path} contains no samples")
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(
            f"audio file {path} has a sample rate of {rate} Hz, below {MIN_SAMPLE_RATE} Hz"
        )
    _check_samples(data, path)
    return resample(data.mean(axis=1), rate, sample_rate)


def _check_samples(data: np.ndarray, path: Path) -> None:
    """Full-scale audio lies in [-1, 1]; integer formats cannot leave it, float files can."""
    if not np.all(np.isfinite(data)):
        raise AudioError(f"audio file {path} contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > MAX_ABS_SAMPLE:
        raise AudioError(
            f"audio file {path} has samples up to {peak:.3g}, outside ±{MAX_ABS_SAMPLE} "
            "(full scale is ±1: rescale the file)"
        )


def check_wav_complete(path: Path) -> None:
    """A RIFF/WAVE file cut inside its data chunk (an interrupted copy or download) is refused;
    libsndfile would silently return the samples that are there."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"WAVE":
            return
        while len(chunk := handle.read(8)) == 8:
            declared = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                present = size - handle.tell()
                # 0 and 0xFFFFFFFF: a streaming writer that could not fill in the size.
                if declared not in (0, 0xFFFFFFFF) and present < declared:
                    raise AudioError(
                        f"audio file {path} is truncated: its data chunk declares {declared} "
                        f"bytes but only {present} are present"
                    )
                return
            handle.seek(declared + declared % 2, 1)  # chunks are padded to even sizes


def resample(wav: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """High-quality (soxr HQ) resampling; a no-op when the rates already agree."""
    wav = np.asarray(wav, dtype=np.float32)
    if orig_rate == target_rate:
        return wav
    import soxr

    return soxr.resample(wav, orig_rate, target_rate, quality="HQ").astype(np.float32)


def save_wav(path: str | Path, wav: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE):
    """Write mono 16-bit PCM; samples outside [-1, 1] are clipped rather than wrapped."""
    import soundfile as sf

    if isinstance(wav, torch.Tensor):
        wav = wav.detach().float().cpu().numpy()
    wav = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), wav, sample_rate, subtype="PCM_16")
    except (OSError, RuntimeError) as exc:
        raise AudioError(f"cannot write {path}: {exc}") from exc


def _hz_to_mel_slaney(freq: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (as librosa's htk=False)."""
    freq = np.asarray(freq, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    mel = freq / f_sp
    high = freq >= min_log_hz
    mel[high] = min_log_mel + np.log(freq[high] / min_log_hz) / logstep
    return mel


def _mel_to_hz_slaney(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    freq = f_sp * mel
    high = mel >= min_log_mel
    freq[high] = min_log_hz * np.exp(logstep * (mel[high] - min_log_mel))
    return freq


def mel_filterbank(config: MelConfig = MelConfig(), dtype: type = np.float32) -> np.ndarray:
    """Slaney-normalised triangular filters, (n_mels, n_fft // 2 + 1).

    Computed here rather than with librosa so that GPU training machines without librosa
    produce the same features; a test checks equality with ``librosa.filters.mel``.
    """
    n_bins = config.n_fft // 2 + 1
    fft_freqs = np.linspace(0.0, config.sample_rate / 2, n_bins)
    mel_edges = np.linspace(
        _hz_to_mel_slaney(np.array([config.f_min]))[0],
        _hz_to_mel_slaney(np.array([config.f_max]))[0],
        config.n_mels + 2,
    )
    hz_edges = _mel_to_hz_slaney(mel_edges)
    widths = np.diff(hz_edges)
    ramps = hz_edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return weights.astype(dtype)


class MelSpectrogram(torch.nn.Module):
    """Waveform (B, N) or (N,) in [-1, 1] → natural-log mel (B, 80, T), HiFi-GAN V1 exactly."""

    def __init__(self, config: MelConfig = MelConfig()):
        super().__init__()
        self.config = config
        # Float64 buffers, cast to the input's dtype per call: a float64 waveform then gets an
        # exact float64 mel (tests), a float32 one the usual float32 mel.
        basis = torch.from_numpy(mel_filterbank(config, dtype=np.float64))
        window = torch.hann_window(config.win_length, dtype=torch.float64)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("window", window, persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        squeeze = wav.dim() == 1
        if squeeze:
            wav = wav.unsqueeze(0)
        cfg = self.config
        pad = (cfg.n_fft - cfg.hop_length) // 2
        padded = torch.nn.functional.pad(wav.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            padded,
            cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window=self.window.to(wav.dtype),
            center=False,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
        mel = torch.matmul(self.basis.to(wav.dtype), magnitude)
        log_mel = torch.log(torch.clamp(mel, min=1e-5))
        return log_mel.squeeze(0) if squeeze else log_mel


def n_frames(n_samples: int, config: MelConfig = MelConfig()) -> int:
    """Frames :class:`MelSpectrogram` yields for ``n_samples`` samples (reflect pad, no centre)."""
    padded = n_samples + (config.n_fft - config.hop_length)
    return 1 + (padded - config.n_fft) // config.hop_length


@dataclass(frozen=True)
class MelStats:
    """Global mean/std of the log-mel over a training set; the model works in normalised space."""

    mean: float
    std: float
    n_frames: int = 0

    def normalize(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.mean) / self.std

    def denormalize(self, mel: torch.Tensor) -> torch.Tensor:
        return mel * self.std + self.mean

    def to_dict(self) -> dict:
        return {"mel_mean": self.mean, "mel_std": self.std, "n_frames": self.n_frames}

    @classmethod
    def from_dict(cls, data: dict) -> MelStats:
        return cls(float(data["mel_mean"]), float(data["mel_std"]), int(data.get("n_frames", 0)))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> MelStats:
        return cls.from_dict(json.loads(Path(path).read_text()))


class MelStatsAccumulator:
    """Streams sums in float64 so statistics of a large corpus need one pass and little memory."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.total_sq = 0.0

    def update(self, mel: np.ndarray | torch.Tensor) -> None:
        values = np.asarray(mel, dtype=np.float64)
        self.add_sums(float(values.sum()), float(np.square(values).sum()), values.size)

    def add_sums(self, total: float, total_sq: float, count: int) -> None:
        """Merge sums computed elsewhere (e.g. cached per utterance by ``prepare``)."""
        self.count += count
        self.total += total
        self.total_sq += total_sq

    def result(self, n_mels: int = 80) -> MelStats:
        if self.count == 0:
            raise ValueError("no frames were accumulated; cannot compute mel statistics")
        mean = self.total / self.count
        var = max(self.total_sq / self.count - mean * mean, 1e-12)
        return MelStats(mean=mean, std=math.sqrt(var), n_frames=self.count // n_mels)

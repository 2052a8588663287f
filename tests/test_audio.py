"""The log-mel must equal the HiFi-GAN V1 formula computed independently with numpy/librosa."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from tts_ebm.audio import (
    AudioError,
    MelConfig,
    MelSpectrogram,
    MelStatsAccumulator,
    load_audio,
    mel_filterbank,
    n_frames,
    save_wav,
)


def reference_log_mel(wav: np.ndarray) -> np.ndarray:
    """Straightforward float64 numpy version of DESIGN.md §2, sharing no code with tts_ebm."""
    pad = (1024 - 256) // 2
    padded = np.pad(wav.astype(np.float64), (pad, pad), mode="reflect")
    spec = librosa.stft(
        padded, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=False
    )
    magnitude = np.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    basis = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    return np.log(np.clip(basis @ magnitude, 1e-5, None))


def test_filterbank_equals_librosa_slaney():
    expected = librosa.filters.mel(
        sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000, htk=False, norm="slaney"
    )
    np.testing.assert_allclose(mel_filterbank(), expected, rtol=1e-5, atol=1e-8)


def test_log_mel_matches_reference_on_speech(speech_wav):
    wav = load_audio(speech_wav)
    ref = reference_log_mel(wav)
    exact = MelSpectrogram()(torch.from_numpy(wav).double()).numpy()
    assert exact.shape == ref.shape == (80, n_frames(len(wav)))
    assert np.abs(exact - ref).max() < 1e-4
    # It is speech, not silence: a real dynamic range across frames and bands.
    assert exact.max() - exact.min() > 8.0


def test_float32_log_mel_is_within_roundoff_of_reference(speech_wav):
    """Float32 (training) path: log-mel spans ~1e7 in amplitude, so the quietest bins of a
    loud frame carry float32 round-off; all but those agree to 1e-4."""
    wav = load_audio(speech_wav)
    ours = MelSpectrogram()(torch.from_numpy(wav)).double().numpy()
    error = np.abs(ours - reference_log_mel(wav))
    assert np.quantile(error, 0.999) < 1e-4
    assert error.max() < 2e-3


def test_batched_equals_single(speech_wav):
    wav = torch.from_numpy(load_audio(speech_wav))
    mel = MelSpectrogram()
    batch = mel(torch.stack([wav, wav.flip(0)]))
    assert torch.allclose(batch[0], mel(wav), atol=1e-5)
    assert torch.allclose(batch[1], mel(wav.flip(0)), atol=1e-5)


def test_load_resamples_and_downmixes(tmp_path):
    t = np.arange(48000) / 48000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "stereo.flac", np.stack([tone, tone], axis=1), 48000)
    wav = load_audio(tmp_path / "stereo.flac")
    assert wav.dtype == np.float32
    assert abs(len(wav) - 22050) <= 1
    spectrum = np.abs(np.fft.rfft(wav))
    peak_hz = np.argmax(spectrum) * 22050 / len(wav)
    assert abs(peak_hz - 440) < 2
    assert abs(np.abs(wav).max() - 0.3) < 0.01


def test_save_wav_writes_pcm16(tmp_path):
    save_wav(tmp_path / "x.wav", np.array([0.0, 0.5, 2.0, -2.0], dtype=np.float32))
    info = sf.info(tmp_path / "x.wav")
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    data, _ = sf.read(tmp_path / "x.wav")
    np.testing.assert_allclose(data, [0.0, 0.5, 1.0, -1.0], atol=1e-4)


def test_corrupt_and_missing_files_raise_audio_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunkjunk")
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(bad)
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "missing.wav")


def test_stats_accumulator_matches_numpy():
    rng = np.random.default_rng(0)
    mels = [rng.normal(-5, 2, size=(80, n)) for n in (10, 37, 5)]
    stats = MelStatsAccumulator()
    for m in mels:
        stats.update(m)
    result = stats.result()
    joined = np.concatenate([m.ravel() for m in mels])
    assert result.mean == pytest.approx(joined.mean(), rel=1e-9)
    assert result.std == pytest.approx(joined.std(), rel=1e-9)
    assert result.n_frames == 52
    x = torch.randn(80, 4)
    assert torch.allclose(result.denormalize(result.normalize(x)), x, atol=1e-5)


def test_mel_config_round_trip():
    cfg = MelConfig()
    assert MelConfig.from_dict(cfg.to_dict()) == cfg

"""Voices that ride on a base voice: export, loading over the right and a wrong base, names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from models import untrained_tts
from safetensors import safe_open

from tts_ebm.audio import MelStats
from tts_ebm.checkpoint import (
    DEFAULT_VOICE_ENV,
    CheckpointError,
    export_voice,
    load_inference_checkpoint,
    packaged_voices,
    save_inference_checkpoint,
    voice_path,
)
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.synthesis import Synthesizer
from tts_ebm.text import TextFrontend

INFERENCE = {"steps": 2, "step_size": 0.1, "temperature": 0.0, "langevin": 0.0}
TEXT = "a voice on a base."
FRONTEND = TextFrontend("chars")
ENERGY = EnergyConfig(channels=(8,), n_blocks=1, groups=4)  # not the base's energy


def save(path: Path, model, dtype=torch.float32) -> Path:
    stats = MelStats(-6.0, 2.0)
    return save_inference_checkpoint(
        path, model, FRONTEND.to_config(), stats, INFERENCE, dtype=dtype
    )


@pytest.fixture()
def base_and_run(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A base voice (made the default) and a full run whose energy was trained on its encoder."""
    base = untrained_tts(FRONTEND, EnergyConfig(channels=(16,), n_blocks=1, groups=4), seed=0)
    base_path = save(tmp_path / "base.safetensors", base, torch.float16)
    run = untrained_tts(FRONTEND, ENERGY, seed=1)
    run.encoder.load_state_dict(load_inference_checkpoint(base_path).model.encoder.state_dict())
    monkeypatch.setenv(DEFAULT_VOICE_ENV, str(base_path))
    return base_path, save(tmp_path / "run.safetensors", run)


def mels(path: Path, **knobs) -> tuple[np.ndarray, np.ndarray]:
    synth = Synthesizer.from_pretrained(path, device="cpu", vocoder="griffin-lim")
    result = synth.synthesize_detailed(TEXT, **knobs)
    return result.prior_mel, result.mel


def test_a_voice_holds_only_its_energy_in_fp16_and_loads_as_the_full_model(base_and_run, tmp_path):
    _, run_path = base_and_run
    voice = export_voice(run_path, tmp_path / "voice.safetensors", inference={"steps": 3})
    with safe_open(str(voice), framework="pt") as handle:
        names = list(handle.keys())
        dtypes = {handle.get_slice(name).get_dtype() for name in names}
    assert names and all(name.startswith("energy.") for name in names) and dtypes == {"F16"}

    full, merged = load_inference_checkpoint(run_path), load_inference_checkpoint(voice)
    assert merged.inference == {**INFERENCE, "steps": 3}  # the run's knobs, one replaced
    ours, theirs = merged.model.state_dict(), full.model.state_dict()
    assert ours.keys() == theirs.keys()
    for name, tensor in theirs.items():
        if name.startswith("encoder."):
            assert torch.equal(ours[name], tensor), name  # from the base, exactly
        else:
            assert torch.equal(ours[name], tensor.half().float()), name  # fp16 rounding only

    prior, mel = mels(voice)
    full_prior, full_mel = mels(run_path, steps=3)
    assert np.array_equal(prior, full_prior)
    assert not np.array_equal(mel, prior)  # the energy refined μ
    np.testing.assert_allclose(mel, full_mel, atol=2e-3)


def test_a_voice_over_another_base_or_a_run_on_another_encoder_is_refused(
    base_and_run, tmp_path, monkeypatch
):
    base_path, run_path = base_and_run
    voice = export_voice(run_path, tmp_path / "voice.safetensors")
    retrained = untrained_tts(FRONTEND, EnergyConfig(channels=(16,), n_blocks=1, groups=4), seed=2)
    monkeypatch.setenv(DEFAULT_VOICE_ENV, str(save(tmp_path / "v2.safetensors", retrained)))
    with pytest.raises(CheckpointError, match="made on another 'default' voice") as refused:
        load_inference_checkpoint(voice)
    assert "\n" not in str(refused.value)

    monkeypatch.setenv(DEFAULT_VOICE_ENV, str(voice))  # a voice cannot be a base
    with pytest.raises(CheckpointError, match="must be a full checkpoint"):
        load_inference_checkpoint(voice)

    monkeypatch.setenv(DEFAULT_VOICE_ENV, str(base_path))
    with pytest.raises(CheckpointError, match="its encoder is not that of voice 'default'"):
        export_voice(tmp_path / "v2.safetensors", tmp_path / "other.safetensors")


def test_an_unknown_voice_name_lists_the_voices(tmp_path):
    assert {"default", "v1", "nce", "sance", "ssm", "cd", "flow"} <= set(packaged_voices())
    with pytest.raises(CheckpointError) as refused:
        Synthesizer.from_pretrained("nosuchvoice", device="cpu", vocoder="griffin-lim")
    assert str(refused.value) == (
        f"no voice named 'nosuchvoice'; available voices: {', '.join(packaged_voices())}"
    )
    result = cli("synthesize", "--voice", "nosuchvoice", "Hello.", str(tmp_path / "out.wav"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"tts-ebm: error: {refused.value}"]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != DEFAULT_VOICE_ENV}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "tts_ebm.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_the_shipped_optional_voices_ride_on_v1_and_speak(tmp_path, monkeypatch):
    monkeypatch.delenv(DEFAULT_VOICE_ENV, raising=False)
    sizes = [voice_path(name).stat().st_size for name in packaged_voices()]
    assert sum(sizes) < 60e6
    v1 = load_inference_checkpoint(voice_path("v1")).model.encoder.state_dict()
    default = load_inference_checkpoint(voice_path("default")).model.encoder.state_dict()
    assert not all(torch.equal(default[k], v) for k, v in v1.items())  # v2 trained its prior on
    for name in ("nce", "sance", "ssm", "cd", "flow"):
        synth = Synthesizer.from_pretrained(name, device="cpu", vocoder="griffin-lim")
        shared = synth.model.encoder.state_dict()
        assert all(torch.equal(shared[k], v) for k, v in v1.items()), name

    listed = cli("voice", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines()}
    assert rows["default"][2:] == ["full", "delta", "quadratic", "K=1", "η=1", "τ=0", "rate=0.881"]
    assert rows["v1"][2:] == ["full", "delta", "scalar", "K=1", "η=1", "τ=0", "rate=0.88"]
    assert rows["nce"][2:6] == ["on", "v1", "nce", "quadratic"]
    assert rows["flow"][2:6] == ["on", "v1", "flow", "flow"]
    assert rows["ssm"][2:] == ["on", "v1", "ssm", "quadratic", "K=1", "η=1", "τ=0", "rate=0.88"]
    sance = ["on", "v1", "sance", "quadratic", "K=10", "η=0.2", "τ=0", "rate=0.88"]
    assert rows["sance"][2:] == sance
    assert rows["cd"][2:] == ["on", "v1", "cd", "quadratic", "K=10", "η=0.05", "τ=0", "rate=0.88"]
    out = tmp_path / "nce.wav"
    result = cli("synthesize", "--voice", "nce", "--vocoder", "griffin-lim", "Thank you.", str(out))
    assert result.returncode == 0, result.stderr
    wav, rate = sf.read(out)
    assert rate == 22050 and 0.4 < len(wav) / rate < 2.0
    assert np.isfinite(wav).all() and np.sqrt(np.mean(wav**2)) > 0.01

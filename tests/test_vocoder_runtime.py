"""HiFi-GAN runtimes: the converted generators give the reference implementation's audio to float
(or bf16) rounding, the receptive field that chunking relies on is exact, and memory-bounded
calls give one call's audio."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tts_ebm.audio import MelSpectrogram, load_audio
from tts_ebm.vocoder import HiFiGANGenerator, VocoderError, load_vocoder
from tts_ebm.vocoder.runtime import cpu_has_native_bf16, resolve_runtime
from tts_ebm.vocoder.sources import _spans

needs_bf16 = pytest.mark.skipif(not cpu_has_native_bf16(), reason="no native bf16 on this CPU")


def snr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    return float(10 * torch.log10(reference.pow(2).sum() / (reference - other).pow(2).sum()))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mel(speech_wav) -> torch.Tensor:
    """Two seconds of real speech as a log-mel (n_mels, T)."""
    return MelSpectrogram()(torch.from_numpy(load_audio(speech_wav)))[:, :172]


@pytest.fixture(scope="module")
def plain():
    return load_vocoder("universal", runtime="torch")


@pytest.mark.parametrize(
    ("runtime", "min_snr"), [("cpu-fp32", 90.0), pytest.param("cpu-bf16", 38.0, marks=needs_bf16)]
)
def test_fast_runtimes_give_the_plain_generators_audio(mel, plain, runtime: str, min_snr: float):
    """Rounding only: ~111 dB for the channels-last layout, 42-45 dB with bf16 residual
    blocks (test_vocoder checks the plain generator against the reference implementation)."""
    fast = load_vocoder("universal", runtime=runtime)
    assert fast.runtime == runtime and fast.label == f"hifigan-universal, {runtime}"
    assert snr_db(plain(mel), fast(mel)) > min_snr


@needs_bf16
def test_bf16_runtime_converts_only_the_residual_blocks():
    model = load_vocoder("universal", runtime="cpu-bf16").model
    assert model.conv_pre.weight.dtype == model.conv_post.weight.dtype == torch.float32
    assert {p.dtype for p in model.ups.parameters()} == {torch.float32}
    assert {p.dtype for p in model.resblocks.parameters()} == {torch.bfloat16}
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d | nn.ConvTranspose1d)]
    assert convs == []
    assert model.conv_pre.weight.is_contiguous(memory_format=torch.channels_last)


def test_receptive_field_is_exact(mel, plain):
    """A change in frame f moves audio within ±14 frames of f and not a sample beyond."""
    field = HiFiGANGenerator().receptive_field_frames()
    assert field == 14 == plain.context
    hop, f = 256, 80
    changed = mel.clone()
    changed[:, f] += 3.0
    diff = (plain(changed) - plain(mel)).abs().reshape(-1, hop).amax(dim=1)
    moved = torch.nonzero(diff > 0).flatten()
    assert moved.min() >= f - field and moved.max() <= f + field
    assert moved.min() <= f - field + 1 and moved.max() >= f + field - 1  # and it is tight


def test_memory_bounded_calls_equal_one_call(mel, plain):
    whole = plain(torch.stack([mel, mel.flip(-1)]))
    bounded = load_vocoder("universal", runtime="torch")
    bounded.max_frames = mel.shape[-1]  # one row per call
    torch.testing.assert_close(bounded(torch.stack([mel, mel.flip(-1)])), whole, atol=1e-5, rtol=0)
    bounded.max_frames = 4 * bounded.context  # rows cut into overlapping chunks
    torch.testing.assert_close(bounded(mel), whole[0], atol=1e-5, rtol=0)
    chunks = list(bounded.stream(mel, first=10))
    assert [len(c) // 256 for c in chunks] == [10, 28, 28, 28, 28, 28, 22]
    torch.testing.assert_close(torch.cat(chunks), whole[0], atol=1e-5, rtol=0)
    # Frames past ``frames`` are context only: they shape the audio, they are not returned.
    assert len(torch.cat(list(bounded.stream(mel, frames=100)))) == 100 * 256


def test_chunk_spans():
    assert _spans(10, None, 4) == [(0, 4), (4, 8), (8, 10)]
    assert _spans(10, 3, 100) == [(0, 3), (3, 10)]
    assert _spans(3, 3, 100) == [(0, 3)]  # nothing after the first chunk: one call
    assert _spans(0, 5, 100) == []


def test_runtime_choice():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_runtime("auto", cpu) == ("cpu-bf16" if cpu_has_native_bf16() else "cpu-fp32")
    assert resolve_runtime("auto", cuda) == "torch"
    assert resolve_runtime("torch", cuda) == "torch"
    with pytest.raises(ValueError, match="'cpu-bf16' is for CPUs"):
        resolve_runtime("cpu-bf16", cuda)
    with pytest.raises(VocoderError, match="unknown vocoder runtime 'onnx'"):
        load_vocoder("universal", runtime="onnx")


def test_griffin_lim_ignores_the_runtime_and_is_one_call(mel):
    vocoder = load_vocoder("griffin-lim", runtime="cpu-fp32")
    assert vocoder.label == "griffin-lim" and vocoder.max_frames is None
    chunks = list(vocoder.stream(mel[:, :20]))
    assert len(chunks) == 1 and np.isfinite(chunks[0].numpy()).all()

"""Streaming synthesis: chunks join to synthesize()'s audio exactly, the first chunk comes early,
the CLI streams to a wav file, to a wav on stdout and to raw float32 on stdout, an interrupted
file keeps what was done, and the thread options are obeyed."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_ebm.audio_output import UNKNOWN_SIZE, streaming_wav_header
from tts_ebm.checkpoint import load_inference_checkpoint
from tts_ebm.cli import main
from tts_ebm.interrupts import sigterm_as_interrupt
from tts_ebm.synthesis import STREAM_FIRST_FRAMES, Synthesizer
from tts_ebm.threads import THREADS_ENV, default_threads, physical_cores, resolve_threads
from tts_ebm.vocoder import load_vocoder

HOP = 256
TEXT = "la mis fo sel ni mu. fa lo.\n\nmu se la mis fo."
KNOBS = {"steps": 2, "temperature": 0.3, "langevin": 0.1, "seed": 5, "speaking_rate": 4.0}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def synth(toy_checkpoint) -> Synthesizer:
    """The toy voice with HiFi-GAN in this CPU's default runtime; a small memory budget, so
    long sentences are vocoded in several overlapping chunks."""
    vocoder = load_vocoder("universal")
    vocoder.max_frames = 6 * vocoder.context
    return Synthesizer(load_inference_checkpoint(toy_checkpoint), vocoder)


def test_stream_joins_to_synthesize_exactly(synth):
    whole = synth.synthesize_detailed(TEXT, **KNOBS)
    chunks = list(synth.stream_detailed(TEXT, **KNOBS))
    joined = np.concatenate([c.waveform for c in chunks])
    assert joined.dtype == np.float32 and np.array_equal(joined, whole.waveform)
    lengths = [s.mel.shape[1] for s in whole.sentences]
    assert lengths[0] > STREAM_FIRST_FRAMES  # so the first sentence was split
    assert len(chunks[0].waveform) == STREAM_FIRST_FRAMES * HOP
    assert len(chunks) > len(lengths) * 2  # long sentences in several chunks, plus pauses
    assert [c.sentence_index for c in chunks] == sorted(c.sentence_index for c in chunks)
    pauses = [len(c.waveform) // HOP for c in chunks if not c.waveform.any()]
    assert pauses == [22, 52]  # 0.25 s after a sentence, 0.6 s after a paragraph
    assert sum(c.vocoder_seconds for c in chunks) > 0
    assert sum(c.acoustic_seconds for c in chunks) > 0
    assert np.array_equal(np.concatenate(list(synth.stream(TEXT, **KNOBS))), whole.waveform)


def cli_bytes(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tts_ebm.cli", "synthesize", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(command, capture_output=True, timeout=300, env=env)


def test_cli_streams_a_file_a_wav_pipe_and_raw_samples(toy_checkpoint, tmp_path):
    common = ["--checkpoint", str(toy_checkpoint), "--threads", "1", "--steps", "2"]
    out = tmp_path / "out.wav"
    runs = {
        "file": cli_bytes(TEXT, str(out), *common),
        "wav": cli_bytes(TEXT, "-", *common),
        "raw": cli_bytes(TEXT, "--output-raw", *common),
    }
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stderr.decode()[-2000:])
    assert b"wrote " in runs["file"].stdout and b"phonemes:" in runs["wav"].stderr
    expected = load_inference_checkpoint(toy_checkpoint)
    expected = Synthesizer(expected, load_vocoder("universal")).synthesize(TEXT, steps=2)[0]
    pcm, rate = sf.read(out, dtype="int16")
    assert rate == 22050 and len(pcm) == len(expected)
    np.testing.assert_allclose(pcm / 32767, expected, atol=1 / 32767)
    header, data = runs["wav"].stdout[:44], runs["wav"].stdout[44:]
    assert header == streaming_wav_header(22050)
    assert struct.unpack("<I", header[40:44])[0] == UNKNOWN_SIZE
    assert np.array_equal(np.frombuffer(data, "<i2"), pcm)
    raw = np.frombuffer(runs["raw"].stdout, "<f4")
    np.testing.assert_allclose(raw, expected, atol=1e-6)


def test_ctrl_c_keeps_the_sentences_done_as_a_valid_wav(toy_checkpoint, tmp_path, monkeypatch):
    """The stream is cut after the first sentence's first chunk, as a Ctrl-C would."""
    real = Synthesizer.stream_detailed

    def interrupted(self, text, **knobs):
        for number, chunk in enumerate(real(self, text, **knobs)):
            if number == 3:
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(Synthesizer, "stream_detailed", interrupted)
    out = tmp_path / "cut.wav"
    args = ["synthesize", TEXT, str(out), "--checkpoint", str(toy_checkpoint), "--threads", "1"]
    assert main([*args, "--vocoder", "griffin-lim"]) == 130
    kept, rate = sf.read(out, dtype="float32")
    assert rate == 22050 and len(kept) > 0 and len(kept) % HOP == 0


def test_an_error_mid_stream_leaves_no_file(toy_checkpoint, tmp_path, monkeypatch):
    def broken(self, text, **knobs):
        raise ValueError("the refined mel is not finite")
        yield

    monkeypatch.setattr(Synthesizer, "stream_detailed", broken)
    out = tmp_path / "broken.wav"
    args = ["synthesize", "la.", str(out), "--checkpoint", str(toy_checkpoint), "--threads", "1"]
    assert main([*args, "--vocoder", "griffin-lim"]) == 2
    assert not out.exists()


def test_thread_options(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert 1 <= physical_cores() <= (torch.get_num_threads() + 64)
    assert 1 <= default_threads() <= physical_cores()
    assert resolve_threads(3) == 3
    monkeypatch.setenv(THREADS_ENV, "2")
    assert resolve_threads(None) == 2 and resolve_threads(5) == 5  # --threads wins
    for bad, message in [("0", "between 1 and"), ("two", "whole number"), ("-3", "between 1")]:
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ValueError, match=f"{THREADS_ENV} must be .*{message}"):
            resolve_threads(None)
    with pytest.raises(ValueError, match="--threads must be between 1 and 256, got 0"):
        resolve_threads(0)


def test_cli_sets_the_thread_count(toy_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "3")
    args = ["synthesize", "la.", str(tmp_path / "t.wav"), "--checkpoint", str(toy_checkpoint)]
    try:
        assert main([*args, "--vocoder", "griffin-lim"]) == 0
        assert torch.get_num_threads() == 3
        assert main([*args, "--vocoder", "griffin-lim", "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_sigterm_interrupts_only_inside_the_block():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_sigterm_handler_is_restored_after_synthesis(toy_checkpoint, tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    args = ["synthesize", "la.", str(tmp_path / "s.wav"), "--checkpoint", str(toy_checkpoint)]
    assert main([*args, "--vocoder", "griffin-lim", "--threads", "1"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before

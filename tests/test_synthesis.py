"""Synthesis end to end: a toy-trained checkpoint through the API and the CLI, bad input refused.

English text uses an untrained, very small IPA model: its audio is noise, but front end, sentence
splitting, batching, lengths and errors are the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from models import untrained_tts
from safetensors.torch import save_file

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.checkpoint import CheckpointError, load_inference_checkpoint, save_inference_checkpoint
from tts_ebm.hub import HubError
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.synthesis import Synthesizer
from tts_ebm.text import TextFrontend
from tts_ebm.vocoder import Vocoder, VocoderError, load_vocoder
from tts_ebm.vocoder.runtime import cpu_has_native_bf16

HOP = 256
PAUSE = 22  # frames: round(0.25 s · 22050 / 256)
PARAGRAPH_PAUSE = 52  # round(0.6 s · 22050 / 256)
TOY_TEXT = "la mis fo. mu sel ni."
SHORT = "la mi. fo."


def one_thread_env(**extra: str) -> dict[str, str]:
    """Tensors this small only lose to thread hand-offs on a busy CPU (as in test_encoder)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


pytestmark = pytest.mark.usefixtures("one_thread")


def cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "tts_ebm.cli", "synthesize", *args]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or one_thread_env(),
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def toy(toy_checkpoint) -> Synthesizer:
    return Synthesizer.from_pretrained(toy_checkpoint, device="cpu", vocoder="griffin-lim")


@pytest.fixture(scope="module")
def ipa_checkpoint(tmp_path_factory) -> Path:
    """An untrained IPA model, small enough that 20,000 characters take seconds."""
    frontend = TextFrontend("ipa")
    model = untrained_tts(frontend, EnergyConfig(channels=(16,), n_blocks=1, groups=4))
    inference = {"steps": 1, "step_size": 0.1, "temperature": 0.0, "langevin": 0.0}
    path = tmp_path_factory.mktemp("ipa") / "ipa.safetensors"
    return save_inference_checkpoint(
        path, model, frontend.to_config(), MelStats(-6.0, 2.0), inference
    )


def frames(result) -> list[int]:
    return [s.mel.shape[1] for s in result.sentences]


# -- the toy checkpoint through the CLI ---------------------------------------------------------


def test_cli_writes_a_valid_wav_and_zero_steps_give_the_prior(toy, toy_checkpoint, tmp_path):
    common = ["--checkpoint", str(toy_checkpoint), "--vocoder", "griffin-lim", "--save-mel"]
    runs = {
        k: cli(TOY_TEXT, str(tmp_path / f"k{k}.wav"), "--steps", str(k), *common) for k in (0, 4)
    }
    expected = sum(frames(toy.synthesize_detailed(TOY_TEXT, steps=0))) + PAUSE
    for steps, process in runs.items():
        code, out, err = finish(process)
        assert code == 0, err
        assert f"phonemes: {TOY_TEXT}" in out
        assert "acoustic model:" in out and "vocoder (griffin-lim):" in out and "RTF" in out
        info = sf.info(tmp_path / f"k{steps}.wav")
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert info.frames == expected * HOP
        mel, prior = (np.load(tmp_path / f"k{steps}.{kind}.npy") for kind in ("mel", "prior"))
        assert mel.shape == prior.shape == (80, expected)
        assert (tmp_path / f"k{steps}.mel.png").stat().st_size > 0
        assert np.array_equal(mel, prior) == (steps == 0)


def test_cli_file_mode_with_and_without_ids_skips_bad_lines(
    toy_checkpoint, tmp_path, fake_hub_cache
):
    """Also: the checkpoint comes from a local Hugging Face cache, offline."""
    hub = tmp_path / "hub"
    fake_hub_cache(hub, "someone/voice", "toy.safetensors", toy_checkpoint.read_bytes())
    lines = tmp_path / "lines.txt"
    lines.write_text("first|la mis fo.\nmu sel ni.\n\nbad|🙂🙂\n../evil|la.\nfa lo.\n")
    env = one_thread_env(HF_HUB_CACHE=str(hub), HF_HUB_OFFLINE="1")
    args = ["--file", str(lines), "--out-dir", str(tmp_path / "out"), "--batch-size", "2"]
    args += ["--checkpoint", "hf://someone/voice/toy.safetensors", "--vocoder", "griffin-lim"]
    code, out, err = finish(cli(*args, env=env))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.wav")) == [
        "2.wav",
        "6.wav",
        "first.wav",
    ]
    assert f"{lines}:4: skipped: " in err and "nothing to pronounce" in err
    assert f"{lines}:5: skipped: " in err and "not a safe file name" in err
    assert "wrote 3 files" in out and "skipped 2 lines" in out
    assert sf.info(tmp_path / "out" / "2.wav").samplerate == 22050


def test_file_mode_writes_the_printed_timings_and_the_knobs_to_timing_json(
    ipa_checkpoint, tmp_path
):
    lines = tmp_path / "lines.txt"
    lines.write_text("a|Hello there. How are you?\nb|Fine.\n")
    args = ["--file", str(lines), "--out-dir", str(tmp_path / "out"), "--steps", "3"]
    args += ["--step-size", "0.5", "--checkpoint", str(ipa_checkpoint), "--batch-size", "2"]
    code, out, err = finish(cli(*args, "--vocoder", "griffin-lim"))
    assert code == 0, err
    timing = json.loads((tmp_path / "out" / "timing.json").read_text())
    audio = sum(sf.info(tmp_path / "out" / f"{name}.wav").duration for name in "ab")
    assert timing["audio_seconds"] == pytest.approx(audio)
    assert f"audio: {timing['audio_seconds']:.2f} s" in out
    for part in ("acoustic", "vocoder"):
        seconds, rtf = timing[f"{part}_seconds"], timing[f"{part}_rtf"]
        assert seconds > 0 and rtf == pytest.approx(seconds / audio)
        assert f"{seconds:.3f} s, RTF {rtf:.3f}" in out
    assert (timing["utterances"], timing["sentences"]) == (2, 3)
    assert (timing["device"], timing["vocoder"]) == ("cpu", "griffin-lim")
    defaults = Synthesizer.from_pretrained(ipa_checkpoint, device="cpu", vocoder="griffin-lim")
    used = {"steps": 3, "step_size": 0.5, "batch_size": 2}
    assert timing["knobs"] == {**asdict(defaults.options()), **used}


def test_bad_input_gives_one_line_and_a_non_zero_exit(toy_checkpoint, tmp_path):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00garbage" * 64)
    (tmp_path / "a_file").write_text("")
    ckpt = ["--checkpoint", str(toy_checkpoint)]
    out = str(tmp_path / "out.wav")
    cases = {
        "empty": ["", out, *ckpt],
        "whitespace": [" \n\t ", out, *ckpt],
        "emoji only": ["🙂🙂 🎉", out, *ckpt, "--vocoder", "griffin-lim"],
        "missing checkpoint": ["la.", out, "--checkpoint", str(tmp_path / "none.safetensors")],
        "corrupt checkpoint": ["la.", out, "--checkpoint", str(corrupt)],
        "unknown vocoder": ["la.", out, *ckpt, "--vocoder", "melgan"],
        "unwritable output": ["la.", str(tmp_path / "a_file" / "out.wav"), *ckpt],
        "bad knob": ["la.", out, *ckpt, "--steps", "-1", "--vocoder", "griffin-lim"],
        "no output": ["la.", *ckpt],
    }
    messages = {
        "empty": "text is empty",
        "whitespace": "text is empty",
        "emoji only": "nothing to pronounce",
        "missing checkpoint": "checkpoint not found",
        "corrupt checkpoint": "not a readable safetensors checkpoint",
        "unknown vocoder": "unknown vocoder 'melgan'",
        "unwritable output": "cannot write",
        "bad knob": "steps must be >= 0",
        "no output": "give both TEXT and OUT.wav",
    }
    processes = {name: cli(*args) for name, args in cases.items()}
    missing = str(tmp_path / "none.safetensors")
    processes["no default voice"] = cli(
        "la.", out, env=one_thread_env(TTS_EBM_DEFAULT_VOICE=missing)
    )
    messages["no default voice"] = f"no default voice: TTS_EBM_DEFAULT_VOICE names {missing}"
    for name, process in processes.items():
        code, _, err = finish(process)
        lines = err.strip().splitlines()
        assert code != 0, name
        assert len(lines) == 1 and lines[0].startswith("tts-ebm: error: "), (name, err)
        assert messages[name] in lines[0], (name, err)
    assert not (tmp_path / "out.wav").exists()


def test_help_defines_every_knob(capsys):
    from tts_ebm.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["synthesize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for definition in [
        "K, the number of refinement steps",
        "η, the step size",
        "τ, multiplies the initial noise",
        "0 = start at μ",
        "λ, scales the per-step noise √(2ηλ)·ε; 0 = plain gradient descent",
        "> 1 slower",
        "hf://OWNER/REPO[@REV]/FILE.safetensors",
        "linear / cosine decay",
    ]:
        assert definition in text, definition


# -- the toy checkpoint through the API ---------------------------------------------------------


@torch.no_grad()
def energies(synth: Synthesizer, result, which: str) -> list[float]:
    out = []
    for sentence in result.sentences:
        y, mu = (torch.from_numpy(getattr(sentence, k))[None] for k in (which, "prior"))
        out.append(float(synth.model.energy.energy(y, mu, torch.ones(1, 1, y.shape[-1]))))
    return out


def test_refinement_lowers_the_energy_and_zero_steps_return_the_prior(toy):
    prior = toy.synthesize_detailed(TOY_TEXT, steps=0)
    refined = toy.synthesize_detailed(TOY_TEXT, steps=4)
    for a in prior.sentences:
        assert np.array_equal(a.mel, a.prior) and a.steps_taken == 0
    for a, b in zip(prior.sentences, refined.sentences, strict=True):
        assert np.array_equal(a.prior, b.prior) and not np.allclose(a.prior, b.mel)
        assert b.steps_taken == 4
    assert all(
        e4 < e0
        for e0, e4 in zip(
            energies(toy, refined, "prior"), energies(toy, refined, "mel"), strict=True
        )
    )
    stopped = toy.synthesize_detailed(TOY_TEXT, steps=4, stop_threshold=1e9)
    assert [s.steps_taken for s in stopped.sentences] == [0, 0]
    assert np.array_equal(stopped.mel, prior.mel)


def test_noise_is_deterministic_under_a_seed(toy):
    knobs = {"steps": 2, "temperature": 0.5, "langevin": 0.2}
    a = toy.synthesize_detailed(SHORT, seed=3, **knobs)
    b = toy.synthesize_detailed(SHORT, seed=3, **knobs)
    c = toy.synthesize_detailed(SHORT, seed=4, **knobs)
    plain = toy.synthesize_detailed(SHORT, steps=2)
    assert np.array_equal(a.waveform, b.waveform) and np.array_equal(a.mel, b.mel)
    assert not np.allclose(a.mel, c.mel)
    assert not np.allclose(a.mel, plain.mel)
    # The schedule knob reaches the sampler: a decayed η changes the result.
    decayed = toy.synthesize_detailed(SHORT, steps=2, schedule="linear", step_size_min=0.1)
    assert not np.allclose(decayed.mel, plain.mel)


def test_speaking_rate_two_doubles_the_frames(toy):
    normal = sum(frames(toy.synthesize_detailed(SHORT, steps=0)))
    slow = sum(frames(toy.synthesize_detailed(SHORT, steps=0, speaking_rate=2.0)))
    assert 1.8 < slow / normal < 2.2


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - other) ** 2)))


@pytest.mark.parametrize(
    "runtime",
    [
        "cpu-fp32",
        pytest.param(
            "cpu-bf16",
            marks=pytest.mark.skipif(not cpu_has_native_bf16(), reason="no native bf16"),
        ),
    ],
)
def test_batch_equals_one_by_one_with_hifigan(toy_checkpoint, runtime: str):
    vocoder = load_vocoder("universal", runtime=runtime)
    synth = Synthesizer(load_inference_checkpoint(toy_checkpoint), vocoder)
    texts = ["la mi.", "mu se. fa lo."]
    knobs = {"steps": 2, "temperature": 0.3, "langevin": 0.1, "seed": 7}
    batch = synth.run(texts, **knobs)
    single = [synth.synthesize_detailed(t, batch_size=1, **knobs) for t in texts]
    for a, b in zip(batch, single, strict=True):
        np.testing.assert_allclose(a.mel, b.mel, rtol=0, atol=1e-4)
        assert a.waveform.dtype == np.float32 and a.waveform.shape == b.waveform.shape
        if runtime == "cpu-fp32":
            np.testing.assert_allclose(a.waveform, b.waveform, rtol=0, atol=1e-4)
        else:  # bf16 roundings flip on float round-off of the mel: close, not bit-exact
            assert snr_db(b.waveform, a.waveform) > 40
    pairs = synth.synthesize_batch(texts, **knobs)
    assert [w.shape for w, _ in pairs] == [r.waveform.shape for r in batch]
    assert {rate for _, rate in pairs} == {22050}


# -- English text, checkpoints, errors (untrained IPA model) ------------------------------------


def test_sentences_and_paragraphs_get_their_pauses(ipa_checkpoint):
    synth = Synthesizer.from_pretrained(ipa_checkpoint, device="cpu", vocoder="griffin-lim")
    result = synth.synthesize_detailed("Hello world. How are you?\n\nNew paragraph 🙂.", steps=0)
    assert [s.sentence.pause_seconds for s in result.sentences] == [0.25, 0.6, 0.0]
    assert result.phonemes.startswith("həlˈoʊ wˈɜːld.")
    assert len(result.waveform) == (sum(frames(result)) + PAUSE + PARAGRAPH_PAUSE) * HOP
    assert result.mel.shape[1] * HOP == len(result.waveform)


class FrameHold(torch.nn.Module):
    """A stand-in vocoder, T frames → T·hop samples, for 15 minutes of audio in no time."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("gain", torch.tensor(0.01))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return (self.gain * mel.mean(dim=1)).repeat_interleave(HOP, dim=-1).tanh()


def test_twenty_thousand_characters_work_in_batched_sentences(ipa_checkpoint):
    hold = Vocoder("frame-hold", FrameHold(), MelConfig())
    synth = Synthesizer.from_pretrained(ipa_checkpoint, device="cpu", vocoder=hold)
    sentence = "The quick brown fox, 42 of them, jumps over the lazy dog on Jan. 3rd. "
    text = (sentence * 300)[:20_000]
    result = synth.synthesize_detailed(text, steps=1, batch_size=32)
    n = len(result.sentences)
    assert n > 250
    assert len(result.waveform) == (sum(frames(result)) + (n - 1) * PAUSE) * HOP
    assert np.isfinite(result.waveform).all() and np.abs(result.waveform).max() > 0


def test_checkpoint_from_the_hugging_face_cache_offline(
    ipa_checkpoint, tmp_path, monkeypatch, fake_hub_cache
):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    hub = tmp_path / "hub"
    fake_hub_cache(hub, "someone/voice", "v1/model.safetensors", ipa_checkpoint.read_bytes())
    synth = Synthesizer.from_pretrained(
        "hf://someone/voice/v1/model.safetensors", vocoder="griffin-lim", cache_dir=hub
    )
    assert synth.frontend.kind == "ipa"
    with pytest.raises(HubError, match="not in the local Hugging Face cache"):
        Synthesizer.from_pretrained("hf://someone/voice/v2/model.safetensors", cache_dir=hub)


def test_bad_checkpoints_and_mel_mismatch_are_refused(ipa_checkpoint, tmp_path):
    incomplete = tmp_path / "incomplete.safetensors"
    save_file({"w": torch.zeros(1)}, incomplete, {"tts_ebm": json.dumps({"format": "tts-ebm/1"})})
    with pytest.raises(CheckpointError, match="malformed tts-ebm metadata"):
        Synthesizer.from_pretrained(incomplete, vocoder="griffin-lim")
    checkpoint = load_inference_checkpoint(ipa_checkpoint)
    checkpoint.mel = MelConfig(f_max=7600.0)
    with pytest.raises(VocoderError, match="f_max: 7600.0 given, vocoder expects 8000.0"):
        Synthesizer(checkpoint, load_vocoder("griffin-lim"))
    with pytest.raises(ValueError, match="speaking_rate must be >= 0.1 and <= 10"):
        Synthesizer(load_inference_checkpoint(ipa_checkpoint), load_vocoder("griffin-lim")).options(
            speaking_rate=0.0
        )


def test_a_training_checkpoint_synthesises_like_its_export(toy_checkpoint, tmp_path):
    """Runs are listened to mid-training: a Lightning .ckpt loads like the exported file."""
    from tts_ebm.train.run import export_checkpoint

    last = toy_checkpoint.parent / "checkpoints" / "last.ckpt"
    exported = export_checkpoint(last, tmp_path / "last.safetensors", torch.float32)
    from_ckpt = Synthesizer.from_pretrained(last, device="cpu", vocoder="griffin-lim")
    from_export = Synthesizer.from_pretrained(exported, device="cpu", vocoder="griffin-lim")
    a = from_export.synthesize_detailed("some name", steps=2)
    b = from_ckpt.synthesize_detailed("some name", steps=2)
    np.testing.assert_allclose(a.mel, b.mel, atol=1e-5)
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable training checkpoint"):
        Synthesizer.from_pretrained(corrupt, vocoder="griffin-lim")


def test_the_speed_report_goes_to_stdout_as_it_is_when_called(monkeypatch):
    """Not to the stream that was stdout when the module was imported (in one process running
    several commands, e.g. the test suite, that one may be closed by now)."""
    import io
    import sys

    from tts_ebm.commands.synthesize import _report_speed

    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    speed = _report_speed([(2.0, 0.1, 0.4)], "griffin-lim")
    assert "vocoder (griffin-lim)" in out.getvalue() and speed["audio_seconds"] == 2.0

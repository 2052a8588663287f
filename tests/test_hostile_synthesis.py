"""Hostile and careless input to synthesis (issue 16, class 1 and the text of class 3).

Every inference knob out of its range, NaN or inf, a checkpoint storing such a default, a
refinement that diverges, and text that is not language (binary bytes, control characters,
symbol soup) end in one line and a non-zero exit, through the CLI and the Python API alike, with
nothing written; ordinary hard text (accents, quotes, brackets, currency, URLs, e-mail) passes.
A tiny untrained model and Griffin-Lim keep every run in milliseconds.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from models import untrained_tts

from tts_ebm.audio import MelStats
from tts_ebm.checkpoint import load_checkpoint, save_inference_checkpoint
from tts_ebm.cli import main
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.sampling import RefineConfig
from tts_ebm.synthesis import SynthesisOptions, Synthesizer
from tts_ebm.text import NotLanguageError, TextFrontend, check_text, normalize_text
from tts_ebm.vocoder import load_vocoder

DEFAULTS = {"steps": 1, "step_size": 0.1}
NAN, INF = math.nan, math.inf
# A PNG signature and a JPEG marker: not UTF-8, with control characters (no NUL: argv refuses it).
BINARY = b"\x89PNG\x1a\xff\xd8ab\x7fcd"
BINARY_REASON = "text is not language: it holds the byte 0x89, which is not UTF-8 (binary data?)"
HARD_TEXT = (
    "Café «naïve» – “quotes” and 'single' (brackets) [1] {x}; 42 items cost $3.50, €20 or "
    "£7.5 (10% off) on 3/4 - see https://example.com/a_b?q=1&r=2#top or write to "
    "jane.doe@example.org!\tTabs,\r\nCRLF lines… and an emoji 🙂."
)


pytestmark = pytest.mark.usefixtures("one_thread")


def make_checkpoint(path: Path, inference: dict = DEFAULTS) -> Path:
    frontend = TextFrontend("chars")
    model = untrained_tts(frontend, EnergyConfig(channels=(16,), n_blocks=1, groups=4))
    stats = MelStats(-6.0, 2.0)
    return save_inference_checkpoint(path, model, frontend.to_config(), stats, inference)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.safetensors")


@pytest.fixture(scope="module")
def synth(checkpoint) -> Synthesizer:
    return Synthesizer.from_pretrained(checkpoint, device="cpu", vocoder="griffin-lim")


def synthesize(capsys, checkpoint: Path, *args: str) -> tuple[int, str]:
    """``tts-ebm synthesize ARGS`` in this process: (exit code, stderr)."""
    options = ["--checkpoint", str(checkpoint), "--vocoder", "griffin-lim", "--device", "cpu"]
    code = main(["synthesize", *args, *options])
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, fragment: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("tts-ebm: error: "), err
    assert fragment in lines[0], err
    return lines[0].removeprefix("tts-ebm: error: ")


# -- class 1: impossible numbers ----------------------------------------------------------------

CLI_KNOBS = [
    (["--steps", "-1"], "steps must be >= 0 and <= 10000, got -1"),
    (["--steps", "1000000000"], "steps must be >= 0 and <= 10000, got 1000000000"),
    (["--step-size", "nan"], "step_size must be positive and <= 100, got nan"),
    (["--step-size", "inf"], "step_size must be positive and <= 100, got inf"),
    (["--step-size", "0"], "step_size must be positive and <= 100, got 0.0"),
    (["--step-size", "1e9"], "step_size must be positive and <= 100, got 1000000000.0"),
    (["--step-size", "0.1,inf"], "step_size must be positive and <= 100, got inf (value 2 of"),
    (["--step-size", "nan,0.1", "--steps", "2"], "got nan (value 1 of the list)"),
    (["--step-size", "0.1,0.1", "--steps", "3"], "2 values for 3 steps"),
    (["--step-size-min", "nan"], "step_size_min must be >= 0 and <= 100, got nan"),
    (["--step-size-min", "-1"], "step_size_min must be >= 0 and <= 100, got -1.0"),
    (["--schedule", "linear", "--step-size-min", "0.5"], "step_size_min must lie in [0, step_size"),
    (["--temperature", "nan"], "temperature must be >= 0 and <= 10, got nan"),
    (["--temperature", "inf"], "temperature must be >= 0 and <= 10, got inf"),
    (["--temperature", "-0.5"], "temperature must be >= 0 and <= 10, got -0.5"),
    (["--langevin", "inf"], "langevin must be >= 0 and <= 10, got inf"),
    (["--langevin", "nan"], "langevin must be >= 0 and <= 10, got nan"),
    (["--speaking-rate", "1e9"], "speaking_rate must be >= 0.1 and <= 10, got 1000000000.0"),
    (["--speaking-rate", "inf"], "speaking_rate must be >= 0.1 and <= 10, got inf"),
    (["--speaking-rate", "nan"], "speaking_rate must be >= 0.1 and <= 10, got nan"),
    (["--speaking-rate", "0"], "speaking_rate must be >= 0.1 and <= 10, got 0.0"),
    (["--stop-threshold", "nan"], "stop_threshold must be >= 0 and finite, got nan"),
    (["--stop-threshold", "-1"], "stop_threshold must be >= 0 and finite, got -1.0"),
    (["--seed", "-1"], "seed must be >= 0 and <= 9223372036854775807, got -1"),
    (["--seed", str(2**63)], "seed must be >= 0 and <= 9223372036854775807"),
    (["--batch-size", "0"], "batch_size must be >= 1 and <= 1024, got 0"),
    (["--batch-size", "1000000"], "batch_size must be >= 1 and <= 1024, got 1000000"),
]


@pytest.mark.parametrize(("flags", "message"), CLI_KNOBS, ids=[" ".join(f) for f, _ in CLI_KNOBS])
def test_every_bad_knob_is_one_line_from_the_cli(capsys, checkpoint, tmp_path, flags, message):
    out = tmp_path / "out.wav"
    start = time.perf_counter()
    code, err = synthesize(capsys, checkpoint, "Hello there.", str(out), *flags)
    assert time.perf_counter() - start < 10  # refused up front, not after a billion steps
    assert_one_line(code, err, message)
    assert not out.exists()


def test_a_bad_knob_refuses_a_file_before_any_line_is_spoken(capsys, checkpoint, tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello there.\nSecond line.\n")
    out_dir = tmp_path / "out"
    code, err = synthesize(
        capsys, checkpoint, "--file", str(lines), "--out-dir", str(out_dir), "--temperature", "nan"
    )
    assert_one_line(code, err, "temperature must be >= 0 and <= 10, got nan")
    assert not out_dir.exists()


API_KNOBS = [
    ({"steps": 2.5}, "steps must be an integer >= 0 and <= 10000, got 2.5"),
    ({"steps": 10**400}, "steps must be >= 0 and <= 10000"),
    ({"step_size": "0.1"}, "step_size must be a finite number > 0 and <= 100, got '0.1'"),
    ({"step_size": np.float32("nan")}, "step_size must be positive and <= 100"),
    ({"steps": 2, "step_size": [0.1, INF]}, "got inf (value 2 of the list)"),
    ({"steps": 2, "step_size": (0.1, True)}, "> 0 and <= 100, got True (value 2 of the list)"),
    ({"temperature": True}, "temperature must be a finite number >= 0 and <= 10, got True"),
    ({"temperature": NAN}, "temperature must be >= 0 and <= 10, got nan"),
    ({"langevin": -INF}, "langevin must be >= 0 and <= 10, got -inf"),
    ({"speaking_rate": 10**400}, "speaking_rate must be >= 0.1 and <= 10"),
    ({"speaking_rate": 0.01}, "speaking_rate must be >= 0.1 and <= 10, got 0.01"),
    ({"schedule": "exponential"}, "unknown schedule 'exponential'"),
    ({"schedule": "cosine", "step_size_min": NAN}, "step_size_min must be >= 0 and <= 100"),
    ({"stop_threshold": INF}, "stop_threshold must be >= 0 and finite, got inf"),
    ({"seed": 1.0}, "seed must be an integer >= 0 and <= 9223372036854775807, got 1.0"),
    ({"seed": -5}, "seed must be >= 0 and <= 9223372036854775807, got -5"),
    ({"batch_size": 0}, "batch_size must be >= 1 and <= 1024, got 0"),
    ({"batch_size": "16"}, "batch_size must be an integer >= 1 and <= 1024, got '16'"),
    ({"solver": "rk4"}, "solver must be one of 'euler', 'midpoint', 'heun', got 'rk4'"),
    ({"solver": "heun"}, "solver 'heun' integrates a flow decoder; an energy takes gradient steps"),
]


@pytest.mark.parametrize(("knobs", "message"), API_KNOBS, ids=[str(k) for k, _ in API_KNOBS])
def test_every_bad_knob_raises_from_the_python_api(synth, knobs, message):
    with pytest.raises(ValueError) as refused:
        synth.synthesize("Hello there.", **knobs)
    assert message in str(refused.value)


def test_the_edges_of_every_range_still_synthesise(synth):
    edges = [
        {"steps": 0, "speaking_rate": 0.1, "seed": 2**63 - 1, "batch_size": 1024},
        {"steps": 2, "step_size": [0.1, 0.05], "temperature": 1.0, "langevin": 1.0},
        {"steps": 3, "schedule": "cosine", "step_size": 0.2, "step_size_min": 0.0},
        {"steps": 1, "stop_threshold": 1e9, "speaking_rate": 10.0, "seed": 0},
    ]
    for knobs in edges:
        waveform, _ = synth.synthesize("Hi.", **knobs)
        assert waveform.size > 0 and np.isfinite(waveform).all(), knobs


def test_a_billion_steps_are_refused_before_anything_is_allocated():
    tracemalloc.start()
    start = time.perf_counter()
    for make in (
        lambda: SynthesisOptions(steps=10**9),
        lambda: RefineConfig(steps=10**9, schedule="cosine", step_size=0.5),
        lambda: RefineConfig(steps=3, step_size=range(10**9)),  # length checked, never copied
    ):
        with pytest.raises(ValueError, match="steps"):
            make()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 0.5 and peak < 1_000_000


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("temperature", NAN, "temperature must be >= 0 and <= 10, got nan"),
        ("steps", 10**9, "steps must be >= 0 and <= 10000, got 1000000000"),
        ("step_size", "fast", "step_size must be a finite number > 0 and <= 100, got 'fast'"),
        ("speaking_rate", INF, "speaking_rate must be >= 0.1 and <= 10, got inf"),
        ("batch_size", 0, "batch_size must be >= 1 and <= 1024, got 0"),
    ],
)
def test_a_bad_stored_default_refuses_the_checkpoint(checkpoint, knob, value, message):
    stored = dataclasses.replace(load_checkpoint(checkpoint), inference={**DEFAULTS, knob: value})
    with pytest.raises(ValueError) as refused:
        Synthesizer(stored, load_vocoder("griffin-lim"))
    assert str(refused.value) == f"checkpoint's inference defaults: {message}"


def test_a_checkpoint_file_with_a_nan_default_is_one_line(capsys, tmp_path):
    bad = make_checkpoint(tmp_path / "bad.safetensors", {**DEFAULTS, "temperature": NAN})
    code, err = synthesize(capsys, bad, "Hello there.", str(tmp_path / "out.wav"))
    assert_one_line(code, err, "temperature")
    assert not (tmp_path / "out.wav").exists()


def test_a_diverging_refinement_is_an_error_not_a_wav(capsys, checkpoint, tmp_path):
    """Legal knobs, an energy they overshoot: the state grows past float range."""
    out = tmp_path / "out.wav"
    flags = ["--step-size", "100", "--steps", "200"]
    code, err = synthesize(capsys, checkpoint, "Hello there.", str(out), *flags)
    message = assert_one_line(code, err, "of sentence 'Hello there.' is not finite (NaN or inf)")
    assert "try fewer steps or a smaller step size" in message
    assert not out.exists()


def test_a_non_finite_mel_or_prior_names_the_sentence(synth, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(synth.model.energy, "score", lambda y, mu, mask: torch.full_like(y, INF))
        with pytest.raises(ValueError, match=r"^the refined mel of sentence 'Fine\.' is not fin"):
            synth.synthesize("Fine.")
    prior = synth.model.prior

    def nan_prior(*args, **kwargs):
        out = prior(*args, **kwargs)
        return dataclasses.replace(out, mu=out.mu * NAN)

    monkeypatch.setattr(synth.model, "prior", nan_prior)
    with pytest.raises(ValueError, match=r"^μ of sentence 'Fine\.' is not finite.*broken"):
        synth.synthesize("Fine.", steps=0)


# -- class 3: text that is not language ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (os.fsdecode(BINARY), BINARY_REASON),
        ("nul\x00byte", "the control character U+0000"),
        ("escape \x1b[31m red", "the control character U+001B"),
        ("form\x0cfeed", "the control character U+000C"),
        ("C1 \x9b control", "the control character U+009B"),
        ("lone \ud800 surrogate", "a lone surrogate U+D800, which is not valid Unicode"),
        ("#$%^&*~|<>{}[]@@## !!", "only 0 of its 20 characters are letters or digits"),
        ("x" + "+-*/=<>" * 5, "only 1 of its 36 characters are letters or digits"),
    ],
)
def test_text_that_is_not_language_is_refused(text, reason):
    with pytest.raises(NotLanguageError) as refused:
        normalize_text(text)
    assert str(refused.value).startswith("text is not language: ") and reason in str(refused.value)


@pytest.mark.parametrize(
    "text",
    [
        HARD_TEXT,
        "Ünïcödé façade, naïve coöperation; Œuvre and Straße.",
        "Price: $1,000,000.00 (≈ €920,000) — 1 + 1 = 2, 3.14, 50%, #1, 9:30 p.m.",
        "Mail <info@example.com>, see http://www.example.org/path/to/page.html?id=42.",
        "🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉 party!",
        "Line one.\nLine two.\r\n\tIndented line three.",
    ],
)
def test_ordinary_hard_text_is_language(text):
    check_text(text)
    assert any(c.isalpha() for c in normalize_text(text))


def run_cli(*args: str | bytes, stdin: bytes | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "tts_ebm.cli", "synthesize", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_binary_text_is_refused_alike_from_argument_stdin_and_file(capsys, checkpoint, tmp_path):
    """Real processes for TEXT and stdin, decoded as Python decodes them; --file in process."""
    common = ["--checkpoint", str(checkpoint), "--vocoder", "griffin-lim", "--device", "cpu"]
    argument = run_cli(BINARY, str(tmp_path / "a.wav"), *common)
    stdin = run_cli("-", str(tmp_path / "b.wav"), *common, stdin=BINARY)
    lines = tmp_path / "lines.txt"
    lines.write_bytes(BINARY + b"\n")
    code, err = synthesize(
        capsys, checkpoint, "--file", str(lines), "--out-dir", str(tmp_path / "c")
    )
    assert code == 2 and err.splitlines() == [
        f"{lines}:1: skipped: {BINARY_REASON}",
        f"tts-ebm: error: no line of {lines} could be synthesised",
    ]
    for process, data in ((argument, None), (stdin, BINARY)):
        _, err = process.communicate(data, timeout=120)
        assert process.returncode == 2, err
        assert err.decode().splitlines() == [f"tts-ebm: error: {BINARY_REASON}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lines.txt"]


def test_binary_text_through_the_python_api(synth, checkpoint):
    binary = os.fsdecode(BINARY)
    with pytest.raises(ValueError, match=f"^{re.escape(BINARY_REASON)}$"):
        synth.synthesize(binary)
    with pytest.raises(ValueError, match="^text 1: text is not language"):
        synth.synthesize_batch(["Fine.", binary])
    frontend = TextFrontend("chars")
    kept = frontend.process_many([binary, "Fine."], skip_empty=True)  # a corpus keeps going
    assert kept[0] is None and kept[1] is not None and kept[1].normalized == "Fine."


def test_hard_ordinary_text_is_spoken_by_the_cli(capsys, checkpoint, tmp_path):
    out = tmp_path / "hard.wav"
    code = main(
        ["synthesize", HARD_TEXT, str(out), "--checkpoint", str(checkpoint)]
        + ["--vocoder", "griffin-lim", "--device", "cpu", "--speaking-rate", "0.1"]
    )
    assert code == 0, capsys.readouterr().err
    assert sf.info(out).frames > 0

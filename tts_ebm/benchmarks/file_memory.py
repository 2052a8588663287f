"""Peak memory of ``tts-ebm synthesize --file`` over 100 sentences, run as a user runs it.

The command runs as a child process; its peak resident set size is the kernel's ``ru_maxrss``
for that child, read by ``wait4`` when it ends (what ``getrusage(RUSAGE_CHILDREN)`` would give,
but of this child alone, not the largest of every child the benchmark ever started). The
sentences are LJSpeech's validation transcripts where a source checkout has them beside it
(``../shared/data/ljspeech-text/val.txt``), else the benchmark's own sentences repeated.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from itertools import cycle, islice
from pathlib import Path

import soundfile

from tts_ebm.benchmarks.common import load_average, rusage_bytes
from tts_ebm.threads import THREADS_ENV

N_SENTENCES = 100
TARGET_BYTES = 1.5e9
LJSPEECH_VAL = Path("..", "shared", "data", "ljspeech-text", "val.txt")  # from the checkout root
_CHECKOUT = Path(__file__).resolve().parents[2]


def sentence_lines(fallback: Sequence[str], n: int = N_SENTENCES) -> tuple[list[str], str]:
    """``n`` lines for ``--file`` ('id|text' or 'text') and where they come from."""
    path = _CHECKOUT / LJSPEECH_VAL
    lines = path.read_text().splitlines() if path.is_file() else []
    lines = [line for line in lines if line.strip()]
    source = str(LJSPEECH_VAL) if lines else "the benchmark's sentences, repeated"
    return list(islice(cycle(lines or fallback), n)), source


def file_memory(
    checkpoint: Path,
    vocoder: str,
    device: str,
    threads: int | None,
    fallback: Sequence[str],
) -> dict:
    """Run ``tts-ebm synthesize --file`` on N_SENTENCES sentences into a temporary folder:
    its peak RSS, wall seconds, and the audio it wrote."""
    load_start = load_average()
    lines, source = sentence_lines(fallback)
    env = dict(os.environ)
    if threads is not None:
        env[THREADS_ENV] = str(threads)
    with tempfile.TemporaryDirectory() as folder:
        text, out_dir = Path(folder) / "sentences.txt", Path(folder) / "wavs"
        text.write_text("\n".join(lines) + "\n")
        argv = [sys.executable, "-m", "tts_ebm.cli", "synthesize", "--file", str(text)]
        argv += ["--out-dir", str(out_dir), "--checkpoint", str(checkpoint)]
        argv += ["--vocoder", vocoder, "--device", device]
        start = time.perf_counter()
        maxrss = _run_child(argv, env, Path(folder) / "stderr.txt")
        seconds = time.perf_counter() - start
        wavs = sorted(out_dir.glob("*.wav"))
        audio_seconds = sum(soundfile.info(str(wav)).duration for wav in wavs)
    return {
        "command": "tts-ebm synthesize --file SENTENCES --out-dir DIR",
        "sentences": len(lines),
        "source": source,
        "wavs": len(wavs),
        "audio_seconds": audio_seconds,
        "seconds": seconds,
        "peak_rss_bytes": maxrss,
        "threads_env": env.get(THREADS_ENV),
        "load_average": [load_start, load_average()],
    }


def _run_child(argv: list[str], env: dict[str, str], errors: Path) -> int:
    """Run ``argv`` (stdout discarded, stderr to ``errors``); its peak RSS in bytes. An OSError
    with the end of its stderr when it fails."""
    with errors.open("wb") as stderr:
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, stderr.fileno(), 2),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = errors.read_text(errors="replace").strip().splitlines()[-5:]
        raise OSError(f"tts-ebm synthesize --file exited with {code}: " + " | ".join(tail))
    return rusage_bytes(usage.ru_maxrss)

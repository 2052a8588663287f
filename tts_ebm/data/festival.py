"""Offline LJSpeech stand-in: any sentence list spoken by festival's HTS voice.

Machines without network cannot download LJSpeech, but Debian's ``festival`` with the
``festvox-us-slt-hts`` voice (female, US English) can read the LJSpeech transcripts. This module
turns sentence lists into an LJSpeech-format corpus (``wavs/ID.wav`` at 22050 Hz, 16-bit mono, and
``metadata.csv`` as ``id|raw text|normalized text``) plus one ``SPLIT_ids.txt`` per input file so
later steps keep the standard train/val split.

Usage::

    python -m tts_ebm.data.festival train.txt val.txt OUT_DIR [--jobs N] [--limit N]

Each job runs one batched ``festival -b`` process per chunk of sentences. Builds resume: wavs that
already exist and are valid are kept, so an interrupted build continues where it stopped.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tts_ebm.files import write_atomic
from tts_ebm.interrupts import sigterm_as_interrupt
from tts_ebm.text import strip_accents
from tts_ebm.text.normalize import normalize_text

DEFAULT_VOICE = "cmu_us_slt_arctic_hts"
INSTALL_HINT = "apt-get install festival festvox-us-slt-hts"
# Small enough that a crashing festival loses little work and jobs stay balanced, large enough
# that the ~0.2 s start-up (loading the voice) is negligible.
CHUNK_SIZE = 100

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VOICE_PATTERN = re.compile(r"[A-Za-z0-9_]+")

# `Utterance` is a special form that does not evaluate its arguments: `(Utterance Text text)`
# would speak the word "text". Building the call with `eval` passes the string itself.
# `unwind-protect` keeps one failing sentence from ending the batch; the OK/FAIL lines, flushed
# at once, let Python convert each wav and advance the progress bar while festival works.
_SCHEME_PRELUDE = """\
(voice_{voice})
(define (tts_ebm_say id text path)
  (unwind-protect
    (begin
      (utt.save.wave (utt.synth (eval (list 'Utterance 'Text text))) path 'riff)
      (format t "OK %s\\n" id))
    (format t "FAIL %s\\n" id))
  (fflush nil))
"""


class BuildError(RuntimeError):
    """A problem the user must fix (missing festival, bad input); the message is one line."""


class _Stopped(Exception):
    """Raised in workers once the build is interrupted, so they start no new festival."""


@dataclass(frozen=True)
class Sentence:
    """One corpus entry: ``text`` goes to metadata.csv, ``normalized`` to festival and metadata."""

    id: str
    text: str
    normalized: str


@dataclass
class BuildReport:
    """What a build did; ``failed`` maps id to festival's reason."""

    made: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    native_rate: int | None = None


def read_sentences(path: Path, limit: int | None = None) -> list[Sentence]:
    """Read ``id|text`` lines (extra columns, as in LJSpeech metadata.csv, are ignored) or plain
    ``text`` lines, which are numbered ``STEM-00001``...; blank lines are skipped."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)
    sentences: list[Sentence] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"cannot read sentence list {path}: {exc}") from exc
    for line_no, line in enumerate(lines, start=1):
        if limit is not None and len(sentences) >= limit:
            break
        if not line.strip():
            continue
        if "|" in line:
            utt_id, text = (part.strip() for part in line.split("|")[:2])
            if not _ID_PATTERN.fullmatch(utt_id):
                raise BuildError(f"{path}:{line_no}: id {utt_id!r} is not a safe file name")
        else:
            utt_id, text = f"{stem}-{len(sentences) + 1:05d}", line.strip()
        sentences.append(Sentence(utt_id, text, normalize_text(text)))
    return sentences


def scheme_string(text: str) -> str:
    """Quote ``text`` as a Scheme string literal; whitespace runs become one space."""
    text = " ".join(text.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_script(voice: str, items: list[tuple[Sentence, Path]]) -> str:
    """The Scheme program that speaks each sentence's normalised text into its wav path."""
    lines = [_SCHEME_PRELUDE.format(voice=voice)]
    for sentence, path in items:
        # Festival's English lexicon knows no accented letters (it spells or drops them).
        spoken = strip_accents(sentence.normalized)
        args = " ".join(scheme_string(arg) for arg in (sentence.id, spoken, str(path)))
        lines.append(f"(tts_ebm_say {args})")
    return "\n".join(lines) + "\n"


def check_festival(voice: str) -> None:
    """Fail early, with the apt command, when festival or the voice is missing."""
    if not _VOICE_PATTERN.fullmatch(voice):
        raise BuildError(f"invalid festival voice name {voice!r}")
    if shutil.which("festival") is None:
        raise BuildError(f"festival is not installed (on PATH); run: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "check.scm"
        script.write_text(f'(voice_{voice})\n(format t "READY\\n")\n')
        result = subprocess.run(
            ["festival", "-b", str(script)], capture_output=True, text=True, timeout=60
        )
    if "READY" not in result.stdout:
        raise BuildError(f"festival cannot load the voice {voice!r}; run: {INSTALL_HINT}")


def is_valid_wav(path: Path) -> bool:
    """A finished corpus wav: readable, non-empty, 22050 Hz mono 16-bit PCM."""
    import soundfile as sf

    from tts_ebm.audio import SAMPLE_RATE

    try:
        info = sf.info(str(path))
    except (OSError, RuntimeError):
        return False
    return (
        info.samplerate == SAMPLE_RATE
        and info.channels == 1
        and info.subtype == "PCM_16"
        and info.frames > 0
    )


class _Synthesizer:
    """Runs festival on chunks of sentences and turns its output into corpus wavs."""

    def __init__(self, voice: str, wav_dir: Path, work_dir: Path, on_done: Callable[[], None]):
        self.voice = voice
        self.wav_dir = wav_dir
        self.work_dir = work_dir
        self.on_done = on_done
        self.native_rate: int | None = None
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._stopped = False

    def stop(self) -> None:
        """Kill the running festival processes: they ignore Ctrl-C and would finish their chunks."""
        with self._lock:
            self._stopped = True
            for proc in self._running:
                proc.kill()

    def chunk(self, sentences: list[Sentence]) -> dict[str, str]:
        """Synthesise a chunk; sentences the batch missed are retried one process each, so a
        crash on one line loses nothing else and the failure reason is that sentence's own."""
        failures = self._batch(sentences)
        if len(sentences) > 1:
            retried: dict[str, str] = {}
            for sentence in sentences:
                if sentence.id in failures:
                    retried.update(self._batch([sentence]))
            failures = retried
        for _ in failures:
            self.on_done()
        return failures

    def _batch(self, sentences: list[Sentence]) -> dict[str, str]:
        """One festival process; returns ``{id: reason}`` for every sentence not made."""
        job_dir = Path(tempfile.mkdtemp(dir=self.work_dir))
        by_id = {s.id: s for s in sentences}
        raw = {s.id: job_dir / f"{s.id}.raw.wav" for s in sentences}
        script = job_dir / "script.scm"
        script.write_text(
            festival_script(self.voice, [(s, raw[s.id]) for s in sentences]), encoding="utf-8"
        )
        stderr_path = job_dir / "stderr.txt"
        made: set[str] = set()
        failures: dict[str, str] = {}
        with stderr_path.open("w") as stderr, self._lock:
            if self._stopped:
                raise _Stopped
            proc = subprocess.Popen(
                ["festival", "-b", str(script)], stdout=subprocess.PIPE, stderr=stderr, text=True
            )
            self._running.add(proc)
        try:
            for line in proc.stdout:
                status, _, utt_id = line.strip().partition(" ")
                if utt_id not in by_id:
                    continue
                error = self._convert(raw[utt_id], by_id[utt_id]) if status == "OK" else ""
                if error is None:
                    made.add(utt_id)
                    self.on_done()
                else:
                    failures[utt_id] = error
        finally:
            with self._lock:
                self._running.discard(proc)
            if proc.poll() is None:
                proc.kill()
            returncode = proc.wait()
            proc.stdout.close()
        errors = [ln.strip() for ln in stderr_path.read_text(errors="replace").splitlines()]
        errors = [ln for ln in errors if ln and not ln.startswith("closing a file left open")]
        if errors:
            reason = f"festival: {errors[-1]}"
        else:
            reason = f"festival ended (exit code {returncode}) without making it"
        for sentence in sentences:
            if sentence.id not in made and not failures.get(sentence.id):
                failures[sentence.id] = reason
        shutil.rmtree(job_dir, ignore_errors=True)
        return failures

    def _convert(self, raw: Path, sentence: Sentence) -> str | None:
        """Resample festival's wav to the corpus rate and move it into place atomically (so a
        half-written file never looks finished to a resumed build); returns an error or None."""
        import soundfile as sf

        from tts_ebm.audio import SAMPLE_RATE, AudioError, load_audio, save_wav

        try:
            self.native_rate = sf.info(str(raw)).samplerate
            wav = load_audio(raw, SAMPLE_RATE)
            staged = raw.with_name(f"{sentence.id}.wav")
            save_wav(staged, wav, SAMPLE_RATE)
        except (AudioError, RuntimeError) as exc:
            return f"unusable festival output: {exc}"
        os.replace(staged, self.wav_dir / f"{sentence.id}.wav")
        raw.unlink()
        return None


def build_corpus(
    sources: list[Path],
    out_dir: Path,
    *,
    jobs: int | None = None,
    limit: int | None = None,
    voice: str = DEFAULT_VOICE,
    split_names: list[str] | None = None,
) -> BuildReport:
    """Build (or resume) the corpus; ``limit`` applies to each source, ``split_names`` default
    to the sources' stems and name the ``SPLIT_ids.txt`` lists."""
    from tts_ebm.progress import count_progress

    start = time.monotonic()
    split_names = split_names or [path.stem for path in sources]
    if len(split_names) != len(sources):
        raise BuildError(f"{len(split_names)} split names given for {len(sources)} sentence lists")
    if len(set(split_names)) != len(split_names):
        raise BuildError(f"split names must differ, got {split_names}")
    splits = {
        name: read_sentences(path, limit) for name, path in zip(split_names, sources, strict=True)
    }
    sentences = [s for split in splits.values() for s in split]
    seen: set[str] = set()
    for sentence in sentences:
        if sentence.id in seen:
            raise BuildError(f"id {sentence.id} occurs more than once in the sentence lists")
        seen.add(sentence.id)
    if not sentences:
        raise BuildError("the sentence lists contain no sentences")

    wav_dir = out_dir / "wavs"
    report = BuildReport()
    todo: list[Sentence] = []
    for sentence in sentences:
        if is_valid_wav(wav_dir / f"{sentence.id}.wav"):
            report.reused += 1
        elif not sentence.normalized.strip():
            report.failed[sentence.id] = "text is empty after normalisation"
        else:
            todo.append(sentence)

    if todo:
        check_festival(voice)
        wav_dir.mkdir(parents=True, exist_ok=True)
        jobs = max(1, jobs or os.cpu_count() or 1)
        size = min(CHUNK_SIZE, math.ceil(len(todo) / jobs))
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        progress = count_progress()
        with progress, tempfile.TemporaryDirectory(dir=out_dir, prefix=".festival-") as work:
            task = progress.add_task("festival", total=len(todo))
            synth = _Synthesizer(voice, wav_dir, Path(work), lambda: progress.advance(task))
            pool = ThreadPoolExecutor(max_workers=jobs)
            try:
                futures = [pool.submit(synth.chunk, chunk) for chunk in chunks]
                for future in as_completed(futures):
                    report.failed.update(future.result())
            except BaseException:
                synth.stop()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        report.made = len(todo) - sum(1 for s in todo if s.id in report.failed)
        report.native_rate = synth.native_rate

    in_corpus = [s for s in sentences if s.id not in report.failed]
    if not in_corpus:
        raise BuildError("festival made no wav at all; see the failures above")
    write_atomic(
        out_dir / "metadata.csv",
        "".join(f"{s.id}|{s.text}|{s.normalized}\n" for s in in_corpus),
    )
    for name, split in splits.items():
        ids = [s.id for s in split if s.id not in report.failed]
        write_atomic(out_dir / f"{name}_ids.txt", "".join(f"{i}\n" for i in ids))
    report.elapsed_s = time.monotonic() - start
    return report


DESCRIPTION = (
    "Speak sentence lists with festival into an LJSpeech-format corpus (wavs/ID.wav at "
    "22050 Hz, metadata.csv, SPLIT_ids.txt per input). Resumes: existing valid wavs are kept."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The builder's options, shared by ``tts-ebm corpus festival`` and ``python -m``."""
    parser.add_argument(
        "sentences", nargs="+", type=Path, metavar="SENTENCES", help="files of id|text lines"
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="corpus directory")
    parser.add_argument(
        "--jobs", type=int, default=None, help="parallel festival processes (default: CPU cores)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="use only the first N sentences of each file"
    )
    parser.add_argument(
        "--voice", default=DEFAULT_VOICE, help=f"festival voice (default: {DEFAULT_VOICE})"
    )
    parser.add_argument(
        "--split-name",
        action="append",
        dest="split_names",
        metavar="NAME",
        help="name of the id list for each SENTENCES file, in order (default: the file stems)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the corpus the parsed ``args`` describe; exit status 0, 2 (error) or 130."""
    # A plain `kill` of a background build should stop festival too and clean up, like Ctrl-C.
    try:
        with sigterm_as_interrupt():
            report = build_corpus(
                args.sentences,
                args.out_dir,
                jobs=args.jobs,
                limit=args.limit,
                voice=args.voice,
                split_names=args.split_names,
            )
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    for utt_id, reason in sorted(report.failed.items()):
        print(f"failed {utt_id}: {reason}", file=sys.stderr)
    minutes = report.elapsed_s / 60
    rate = f", {report.made / minutes:.0f} sentences/min" if report.made and minutes else ""
    native = f", festival native rate {report.native_rate} Hz" if report.native_rate else ""
    print(
        f"made {report.made}, reused {report.reused}, failed {len(report.failed)} "
        f"in {report.elapsed_s:.1f} s{rate}{native} -> {args.out_dir}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tts_ebm.data.festival", description=DESCRIPTION
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

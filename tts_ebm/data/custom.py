"""Check one's own corpus before training on it, and write the usable part in LJSpeech format.

``tts-ebm prepare`` already skips bad entries, but at feature time, one reason each and with no
view of the whole: a corpus recorded at 16 kHz, a transcript file with a broken line every few
hundred, stereo files or ids that collide are better seen in one report first. This check reads
only line structure and audio headers (fast on tens of thousands of files) and writes:

    OUT/metadata.csv   id|text|text of every good entry (LJSpeech format)
    OUT/wavs/ID.wav    a link to each good entry's audio file (nothing is copied)
    OUT/problems.tsv   line, id and problem of every entry left out
    OUT/check.json     counts, sample rates, channels, hours

so ``OUT`` is an LJSpeech-format folder that ``tts-ebm prepare`` and ``egs/ljspeech/run.sh``
accept. Audio at another rate is resampled by ``prepare``; audio *below* the model's 22050 Hz
is refused by default, since upsampling cannot restore the band the vocoder expects.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tts_ebm.audio import SAMPLE_RATE, check_wav_complete
from tts_ebm.data.corpus import text_lines
from tts_ebm.files import write_atomic

_SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class CheckError(ValueError):
    """A corpus that cannot be checked at all (not found, nothing in it)."""


@dataclass(frozen=True)
class Entry:
    line: int
    id: str
    audio: Path
    text: str
    normalized: str = ""  # LJSpeech's third column, when given


@dataclass(frozen=True)
class Problem:
    """One entry left out; ``line`` is its line number in the transcript file."""

    line: int
    id: str
    reason: str


@dataclass
class CheckReport:
    source: Path
    kind: str  # "ljspeech" | "filelist"
    listing: Path  # the transcript file that line numbers refer to
    good: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sample_rates: Counter = field(default_factory=Counter)  # of every readable file
    channels: Counter = field(default_factory=Counter)
    seconds: float = 0.0  # of the good entries

    def summary(self) -> dict:
        return {
            "source": str(self.source),
            "kind": self.kind,
            "listing": str(self.listing),
            "good": len(self.good),
            "problems": len(self.problems),
            "hours": round(self.seconds / 3600, 3),
            "sample_rates": {str(k): v for k, v in sorted(self.sample_rates.items())},
            "channels": {str(k): v for k, v in sorted(self.channels.items())},
        }


@dataclass(frozen=True)
class CheckOptions:
    sample_rate: int = SAMPLE_RATE  # the model's rate: other rates are resampled by prepare
    min_sample_rate: int = SAMPLE_RATE  # below this an entry is refused
    min_seconds: float = 0.3
    max_seconds: float = 20.0


def read_entries(source: Path) -> tuple[str, Path, list[Entry], list[Problem]]:
    """Parse an LJSpeech folder (``metadata.csv``: id|text[|normalized], ``wavs/ID.wav``) or a
    ``path|text`` list (paths relative to the list; the id is the file's stem). Returns the
    kind, the transcript file, the entries to check and the lines already refused."""
    if source.is_dir():
        listing = source / "metadata.csv"
        if not listing.is_file():
            raise CheckError(
                f"{source} has no metadata.csv: give an LJSpeech-format folder "
                "(metadata.csv with id|text lines, wavs/ID.wav) or a path|text list file"
            )
        kind = "ljspeech"
    elif source.is_file():
        listing, kind = source, "filelist"
    else:
        raise CheckError(f"corpus not found: {source}")
    entries: list[Entry] = []
    problems: list[Problem] = []
    for number, line, problem in text_lines(listing):
        if problem:
            problems.append(Problem(number, "", f"{problem}; convert the file to UTF-8"))
            continue
        fields = line.split("|")
        normalized = ""
        if kind == "ljspeech":
            utt_id = fields[0].strip()
            if len(fields) < 2 or not utt_id:
                problems.append(Problem(number, "", "malformed line: expected id|text"))
                continue
            if len(fields) > 3:
                problems.append(Problem(number, utt_id, "more than 3 columns (a '|' in the text?)"))
                continue
            text = fields[1].strip()
            normalized = fields[2].strip() if len(fields) > 2 else ""
            audio = source / "wavs" / f"{utt_id}.wav"
        else:
            if len(fields) < 2 or not fields[0].strip():
                problems.append(Problem(number, "", "malformed line: expected path|text"))
                continue
            audio = Path(fields[0].strip())
            audio = audio if audio.is_absolute() else source.parent / audio
            utt_id, text = audio.stem, fields[1].strip()
            if len(fields) > 2:
                problems.append(Problem(number, utt_id, "more than 2 columns (a '|' in the text?)"))
                continue
        if not _SAFE_ID.fullmatch(utt_id):
            problems.append(Problem(number, utt_id, "id is not a safe file name ([A-Za-z0-9_.-])"))
        elif not (normalized or text):
            problems.append(Problem(number, utt_id, "empty transcript"))
        else:
            entries.append(Entry(number, utt_id, audio, text or normalized, normalized))
    return kind, listing, entries, problems


def check_corpus(
    source: Path,
    options: CheckOptions = CheckOptions(),
    progress: Callable[[int, int], None] | None = None,
) -> CheckReport:
    """Every entry of ``source`` checked by line and audio header; see the module docstring."""
    import soundfile as sf

    kind, listing, entries, problems = read_entries(Path(source))
    report = CheckReport(Path(source), kind, listing, problems=problems)
    first_line: dict[str, int] = {}
    for done, entry in enumerate(entries, start=1):
        if progress:
            progress(done, len(entries))
        if entry.id in first_line:
            report.problems.append(
                Problem(
                    entry.line, entry.id, f"duplicate id (first on line {first_line[entry.id]})"
                )
            )
            continue
        first_line[entry.id] = entry.line
        if not entry.audio.is_file():
            report.problems.append(Problem(entry.line, entry.id, f"audio not found: {entry.audio}"))
            continue
        try:
            check_wav_complete(entry.audio)
            info = sf.info(str(entry.audio))
        except Exception as exc:  # soundfile raises several types for unreadable files
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            report.problems.append(Problem(entry.line, entry.id, f"unreadable audio: {reason}"))
            continue
        report.sample_rates[info.samplerate] += 1
        report.channels[info.channels] += 1
        seconds = info.frames / info.samplerate if info.samplerate else 0.0
        reason = _audio_problem(info.samplerate, seconds, options)
        if reason:
            report.problems.append(Problem(entry.line, entry.id, reason))
            continue
        report.good.append(entry)
        report.seconds += seconds
    report.problems.sort(key=lambda p: p.line)
    return report


def _audio_problem(rate: int, seconds: float, options: CheckOptions) -> str | None:
    if rate < options.min_sample_rate:
        return (
            f"sample rate {rate} Hz is below {options.min_sample_rate} Hz: upsampling cannot "
            "restore the missing band (record or export at a higher rate, or pass "
            f"--min-sample-rate {rate} to accept it)"
        )
    if seconds <= 0:
        return "audio has no samples"
    if seconds < options.min_seconds:
        return f"too short: {seconds:.2f} s < {options.min_seconds} s"
    if seconds > options.max_seconds:
        return f"too long: {seconds:.1f} s > {options.max_seconds} s (split it)"
    return None


def write_clean_corpus(report: CheckReport, out_dir: Path) -> Path:
    """Write the LJSpeech-format folder of the good entries (links, not copies); links of
    entries that are no longer good (an earlier run) are removed, other files never are."""
    if not report.good:
        raise CheckError(
            f"no usable entry in {report.source}: all {len(report.problems)} were left out "
            "(see the problems listed)"
        )
    wavs = out_dir / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    wanted = {entry.id for entry in report.good}
    for old in wavs.iterdir():
        if old.is_symlink() and old.stem not in wanted:
            old.unlink()
    for entry in report.good:
        link = wavs / f"{entry.id}.wav"
        target = entry.audio.resolve()
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise CheckError(f"{link} exists and is not a link; use an empty output folder")
        link.symlink_to(target)
    write_atomic(
        out_dir / "metadata.csv",
        "".join(f"{e.id}|{e.text}|{e.normalized or e.text}\n" for e in report.good),
    )
    write_atomic(
        out_dir / "problems.tsv",
        "line\tid\tproblem\n" + "".join(f"{p.line}\t{p.id}\t{p.reason}\n" for p in report.problems),
    )
    summary = report.summary() | {"problem_list": [asdict(p) for p in report.problems[:1000]]}
    write_atomic(out_dir / "check.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return out_dir


def describe_rates(report: CheckReport, options: CheckOptions = CheckOptions()) -> list[str]:
    """One line per sample rate found, saying what happens to files at that rate."""
    lines = []
    for rate, count in sorted(report.sample_rates.items()):
        if rate < options.min_sample_rate:
            what = "refused"
        elif rate != options.sample_rate:
            what = f"kept, resampled to {options.sample_rate} Hz by tts-ebm prepare"
        else:
            what = "kept"
        lines.append(f"{rate} Hz: {count} files ({what})")
    return lines

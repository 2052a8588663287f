"""`tts-ebm prepare` given careless or hostile corpora (issue 16, classes 4 and 6): ids that are
paths, samples that are not audio, truncated wavs, non-UTF-8 lines, non-finite statistics, two
prepares on one folder and a front end changed between runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tts_ebm.audio import MelStats, load_audio, save_wav
from tts_ebm.cli import main
from tts_ebm.data.custom import check_corpus
from tts_ebm.data.prepare import PrepareOptions, prepare_corpus
from tts_ebm.text import TextFrontend

RATE = 22050


@pytest.fixture(scope="module")
def speech(speech_wav: Path) -> np.ndarray:
    """1.4 s of real speech, peak well inside full scale."""
    return load_audio(speech_wav)[:30000]


def write_corpus(root: Path, speech: np.ndarray, lines: list[str], wavs: tuple[str, ...]) -> Path:
    """An LJSpeech folder: ``wavs`` are written as real speech, ``lines`` form metadata.csv."""
    (root / "wavs").mkdir(parents=True)
    for utt_id in wavs:
        save_wav(root / "wavs" / f"{utt_id}.wav", speech)
    (root / "metadata.csv").write_text("".join(f"{line}\n" for line in lines))
    return root


def prepare(corpus: Path, out: Path, *extra: str) -> int:
    return main(["prepare", str(corpus), str(out), "--val-size", "1", "--jobs", "1", *extra])


def prepared_ids(out: Path) -> set[str]:
    rows = (out / "train.jsonl").read_text() + (out / "val.jsonl").read_text()
    return {json.loads(line)["id"] for line in rows.splitlines()}


def skipped(out: Path) -> dict[str, str]:
    return dict(line.split("\t") for line in (out / "skipped.tsv").read_text().splitlines())


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# Class 4: ids and samples ---------------------------------------------------------------------


def test_ids_that_are_paths_are_skipped_and_nothing_outside_is_read_or_written(
    tmp_path: Path, speech: np.ndarray
) -> None:
    home = tmp_path / "home"
    save_wav(home / "x.wav", speech)  # what corpus/wavs/../../x.wav reached
    save_wav(tmp_path / "abs.wav", speech)  # what an absolute id reached
    lines = ["a|One good line.", "../../x|Escape upward.", f"{tmp_path / 'abs'}|Absolute."]
    lines += ["..|Dots.", "a\\b|Backslash.", "c\x01d|Control.", f"{'y' * 300}|Too long."]
    lines += ["b|Another good line."]
    corpus = write_corpus(home / "corpus", speech, lines, ("a", "b"))
    outside = files_under(tmp_path)
    out = home / "out"
    assert prepare(corpus, out, "--frontend", "chars") == 0
    assert prepared_ids(out) == {"a", "b"}
    reasons = skipped(out)
    assert set(reasons) == {f"line {n}" for n in range(2, 8)}
    assert all("not a plain file name" in reasons[f"line {n}"] for n in range(2, 6))
    assert "control characters" in reasons["line 6"]
    assert reasons["line 7"] == "id is longer than 200 bytes"  # was ENAMETOOLONG: corpus refused
    assert {p for p in files_under(tmp_path) if out not in p.parents} == outside


def test_filelist_paths_whose_stem_is_no_id_are_skipped(tmp_path: Path, speech) -> None:
    save_wav(tmp_path / "a.wav", speech)
    save_wav(tmp_path / "b.wav", speech)
    lines = b"a.wav|One.\n..|Dots.\nx\0y/c.wav|A NUL byte.\n/|Root.\nd\\e.wav|Back.\nb.wav|Two.\n"
    (tmp_path / "list.txt").write_bytes(lines)
    out = tmp_path / "out"
    assert prepare(tmp_path / "list.txt", out, "--frontend", "chars") == 0  # NUL: ValueError
    assert prepared_ids(out) == {"a", "b"}
    assert set(skipped(out)) == {"line 2", "line 3", "line 4", "line 5"}


def test_one_non_utf8_line_is_skipped_not_the_corpus(tmp_path: Path, speech: np.ndarray) -> None:
    corpus = write_corpus(tmp_path / "c", speech, [], ("a", "b", "c"))
    (corpus / "metadata.csv").write_bytes(b"a|Good.\nc|Caf\xe9 au lait.\nb|Also good.\n")
    out = tmp_path / "out"
    assert prepare(corpus, out, "--frontend", "chars") == 0
    assert prepared_ids(out) == {"a", "b"}
    assert skipped(out) == {"line 2": "line 2 is not UTF-8 text (byte 0xe9)"}
    report = check_corpus(corpus)  # `tts-ebm corpus check` reads lines the same way
    assert [e.id for e in report.good] == ["a", "b"]
    assert [(p.line, "not UTF-8" in p.reason) for p in report.problems] == [(2, True)]


def write_float_wav(path: Path, wav: np.ndarray) -> None:
    sf.write(str(path), wav.astype(np.float32), RATE, subtype="FLOAT")


def test_samples_that_are_not_full_scale_audio_are_skipped(
    tmp_path: Path, speech: np.ndarray
) -> None:
    ids = ("good", "huge", "int16", "nan", "over", "loud", "slow")
    corpus = write_corpus(tmp_path / "c", speech, [f"{i}|Words for {i}." for i in ids], ("good",))
    peak = float(np.abs(speech).max())
    write_float_wav(corpus / "wavs" / "huge.wav", speech * 1e30)  # made stats.json NaN, exit 0
    write_float_wav(corpus / "wavs" / "int16.wav", speech * 32767)  # a float file of int values
    write_float_wav(corpus / "wavs" / "nan.wav", np.where(speech > 0.1, np.nan, speech))
    write_float_wav(corpus / "wavs" / "over.wav", speech * (1.2 / peak))
    write_float_wav(corpus / "wavs" / "loud.wav", speech * (1.05 / peak))  # a small overshoot
    sf.write(str(corpus / "wavs" / "slow.wav"), speech[:3000], 1)  # 1 Hz: 66M samples at 22050
    out = tmp_path / "out"
    assert prepare(corpus, out, "--frontend", "chars") == 0
    assert prepared_ids(out) == {"good", "loud"}
    reasons = skipped(out)
    assert set(reasons) == {"huge", "int16", "nan", "over", "slow"}
    assert "sample rate of 1 Hz, below 4000 Hz" in reasons["slow"]
    for utt_id in ("huge", "int16", "over"):
        assert "outside ±1.1" in reasons[utt_id]
    assert "NaN or infinite" in reasons["nan"]
    stats = MelStats.load(out / "stats.json")
    assert math.isfinite(stats.mean) and math.isfinite(stats.std) and stats.std > 0


def test_a_wav_cut_inside_its_data_chunk_is_skipped(tmp_path: Path, speech: np.ndarray) -> None:
    corpus = write_corpus(tmp_path / "c", speech, ["a|Whole.", "b|Cut.", "c|Streamed."], "abc")
    cut = corpus / "wavs" / "b.wav"
    cut.write_bytes(cut.read_bytes()[: 44 + 20000])  # an interrupted copy
    assert sf.read(str(cut))[0].size == 10000  # libsndfile returns what is there, silently
    streamed = corpus / "wavs" / "c.wav"
    data = bytearray(streamed.read_bytes())
    assert data[36:40] == b"data"
    data[40:44] = b"\xff\xff\xff\xff"  # a writer that could not seek back: size unknown, kept
    streamed.write_bytes(bytes(data))
    out = tmp_path / "out"
    assert prepare(corpus, out, "--frontend", "chars") == 0
    assert prepared_ids(out) == {"a", "c"}
    assert "truncated: its data chunk declares 60000 bytes but only 20000" in skipped(out)["b"]
    report = check_corpus(corpus)  # `tts-ebm corpus check` reads the header the same way
    assert [e.id for e in report.good] == ["a", "c"]
    assert [(p.id, "truncated" in p.reason) for p in report.problems] == [("b", True)]


def test_non_finite_statistics_fail_and_write_nothing(tmp_path, speech, capsys) -> None:
    corpus = write_corpus(tmp_path / "c", speech, ["a|One.", "b|Two.", "c|Three."], "abc")
    out = tmp_path / "out"
    assert prepare(corpus, out, "--frontend", "chars") == 0
    before = {name: (out / name).read_bytes() for name in ("stats.json", "train.jsonl")}
    cache = [json.loads(line) for line in (out / "cache.jsonl").read_text().splitlines()]
    (out / "cache.jsonl").write_text(
        "".join(json.dumps({**e, "sum": math.inf}) + "\n" for e in cache)
    )
    capsys.readouterr()
    assert prepare(corpus, out, "--frontend", "chars") == 2
    err = capsys.readouterr().err
    assert err.startswith("tts-ebm: error: mel statistics are not finite") and err.count("\n") == 1
    assert {name: (out / name).read_bytes() for name in before} == before


# Class 6: concurrent prepares and a changed front end -----------------------------------------


def test_a_second_prepare_on_the_same_folder_is_refused_at_once(tmp_path, speech) -> None:
    corpus = write_corpus(tmp_path / "c", speech, ["a|One.", "b|Two.", "c|Three."], "abc")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tts_ebm.cli", "prepare", str(corpus), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    second: list[subprocess.CompletedProcess] = []

    def progress(done: int, total: int) -> None:
        if not second:  # the first prepare is running: start another process on its folder
            second.append(subprocess.run(command, capture_output=True, text=True, env=env))

    report = prepare_corpus(corpus, out, PrepareOptions(val_size=1, jobs=1), progress=progress)
    assert report.n_train + report.n_val == 3
    assert second[0].returncode == 2
    assert second[0].stderr == (
        f"tts-ebm: error: another tts-ebm prepare is writing to {out} (it holds prepare.lock); "
        "wait for it to finish or choose another output folder\n"
    )
    assert prepare(corpus, out) == 0  # the lock went with the first run


def test_a_changed_front_end_never_reuses_cached_rows(tmp_path, speech) -> None:
    texts = {"a": "One two.", "b": "Three four.", "c": "Five six."}
    corpus = write_corpus(tmp_path / "c", speech, [f"{i}|{t}" for i, t in texts.items()], "abc")
    out = tmp_path / "out"
    prepare_corpus(corpus, out, PrepareOptions(frontend="ipa", val_size=1, jobs=1))
    (out / "prepare.json").unlink()  # as an interrupted run leaves the folder
    report = prepare_corpus(corpus, out, PrepareOptions(frontend="chars", val_size=1, jobs=1))
    assert report.n_reused == 0
    chars = TextFrontend(kind="chars", add_blank=False)
    rows = (out / "train.jsonl").read_text() + (out / "val.jsonl").read_text()
    for row in map(json.loads, rows.splitlines()):
        assert row["ids"] == list(chars.process(texts[row["id"]]).ids)

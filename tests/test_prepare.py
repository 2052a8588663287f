"""`prepare` on a small real-speech corpus with broken entries: report them, keep the rest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tts_ebm.audio import MelSpectrogram, MelStats, load_audio, n_frames, save_wav
from tts_ebm.cli import main
from tts_ebm.data.corpus import read_corpus, split_ids
from tts_ebm.data.prepare import PrepareOptions, prepare_corpus

GOOD = {
    "LJ001-0001": "The birch canoe slid on the smooth planks.",
    "LJ001-0002": "Glue the sheet to the dark blue background.",
    "LJ001-0003": "Dr. Smith paid $42.50 on Jan. 3rd, 2024.",
    "LJ001-0004": "It is easy to tell the depth of a well.",
}


@pytest.fixture()
def corpus(tmp_path: Path, speech_wav: Path) -> Path:
    """Four good utterances cut from real speech, plus a corrupt, a missing and an empty one."""
    root = tmp_path / "corpus"
    (root / "wavs").mkdir(parents=True)
    speech = load_audio(speech_wav)
    for k, utt_id in enumerate(GOOD):
        save_wav(root / "wavs" / f"{utt_id}.wav", speech[k * 20000 : k * 20000 + 30000])
    (root / "wavs" / "LJ001-0005.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    save_wav(root / "wavs" / "LJ001-0007.wav", speech[:30000])
    lines = [f"{i}|{t}|{t}" for i, t in GOOD.items()]
    lines += ["LJ001-0005|A corrupt file.|A corrupt file.", "LJ001-0006|No wav.|No wav."]
    lines += ["LJ001-0007||"]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def test_prepare_reports_bad_entries_and_keeps_good(corpus, tmp_path, capsys):
    out = tmp_path / "prepared"
    assert main(["prepare", str(corpus), str(out), "--val-size", "1", "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    for bad in ("LJ001-0005", "LJ001-0006", "LJ001-0007"):
        assert bad in captured.err
    assert "unreadable audio" in captured.err
    assert "missing audio file" in captured.err
    assert "empty transcript" in captured.err
    assert "skipped 3" in captured.out

    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (out / "val.jsonl").read_text().splitlines()]
    assert len(train) == 3 and len(val) == 1
    assert {r["id"] for r in train + val} == set(GOOD)
    for row in train + val:
        mel = np.load(out / row["mel"])
        assert mel.shape == (80, n_frames(30000)) == (80, row["n_frames"])
        assert row["ids"] and "ˈ" in row["phonemes"]
        assert not any(ch.isdigit() for ch in row["normalized"])

    # Statistics are those of the training split's mels.
    mels = np.concatenate([np.load(out / r["mel"]).ravel() for r in train])
    stats = MelStats.load(out / "stats.json")
    assert stats.mean == pytest.approx(mels.mean(), rel=1e-5)
    assert stats.std == pytest.approx(mels.std(), rel=1e-5)

    # The cached mel is the MelSpectrogram of the file.
    row = train[0]
    wav = torch.from_numpy(load_audio(corpus / "wavs" / f"{row['id']}.wav"))
    np.testing.assert_allclose(np.load(out / row["mel"]), MelSpectrogram()(wav).numpy(), atol=1e-5)


def test_rerun_reuses_cache_and_picks_up_fixes(corpus, tmp_path):
    out = tmp_path / "prepared"
    first = prepare_corpus(corpus, out, PrepareOptions(val_size=1, jobs=1))
    assert first.n_reused == 0
    mtime = (out / "mels" / "LJ001-0001.npy").stat().st_mtime_ns
    shutil.copy(corpus / "wavs" / "LJ001-0001.wav", corpus / "wavs" / "LJ001-0006.wav")
    second = prepare_corpus(corpus, out, PrepareOptions(val_size=1, jobs=1))
    assert second.n_reused == 4
    assert second.n_train + second.n_val == 5
    assert (out / "mels" / "LJ001-0001.npy").stat().st_mtime_ns == mtime
    assert {s.id for s in second.skipped} == {"LJ001-0005", "LJ001-0007"}


def test_parallel_workers_match_serial(corpus, tmp_path):
    meta = corpus / "metadata.csv"
    meta.write_text("".join(f"{i}|{t}|{t}\n" for i, t in GOOD.items()) * 1)
    for k in range(4, 12):  # enough utterances to use the process pool
        shutil.copy(corpus / "wavs" / "LJ001-0001.wav", corpus / "wavs" / f"X{k}.wav")
        meta.write_text(meta.read_text() + f"X{k}|Copy number {k}.|\n")
    serial = prepare_corpus(corpus, tmp_path / "a", PrepareOptions(jobs=1))
    parallel = prepare_corpus(corpus, tmp_path / "b", PrepareOptions(jobs=2))
    assert serial.stats == parallel.stats
    assert (tmp_path / "a" / "train.jsonl").read_text() == (
        tmp_path / "b" / "train.jsonl"
    ).read_text().replace(str(tmp_path / "b"), str(tmp_path / "a"))


def test_all_bad_is_a_clear_error(tmp_path, capsys):
    root = tmp_path / "c"
    root.mkdir()
    (root / "metadata.csv").write_text("a|Hello.|Hello.\n")
    assert main(["prepare", str(root), str(tmp_path / "o")]) == 2
    assert "no usable utterance" in capsys.readouterr().err


def test_filelist_and_split(tmp_path, speech_wav):
    (tmp_path / "a.wav").write_bytes(speech_wav.read_bytes())
    (tmp_path / "list.txt").write_text("a.wav|Hello there.\nbroken line\nb.wav|\n")
    utts, skipped = read_corpus(tmp_path / "list.txt")
    assert [u.id for u in utts] == ["a"] and utts[0].audio_path == tmp_path / "a.wav"
    assert [s.reason for s in skipped] == [
        "malformed line 2: expected path|text",
        "empty transcript",
    ]
    ids = [f"u{i:03d}" for i in range(200)]
    train, val = split_ids(ids, val_size=10, seed=3)
    assert len(val) == 10 and not set(train) & set(val) and len(train) == 190
    assert split_ids(list(reversed(ids)), val_size=10, seed=3) == (train, val)
    assert split_ids(ids, val_size=10, seed=4)[1] != val
    assert split_ids(ids, 10, fixed_val=["u005", "zzz"])[1] == ["u005"]

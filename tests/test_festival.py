"""The festival recipe must yield a valid LJSpeech-format corpus and resume without redoing work."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tts_ebm.data import festival
from tts_ebm.data.festival import build_corpus, main, read_sentences, scheme_string

needs_festival = pytest.mark.skipif(
    shutil.which("festival") is None,
    reason="festival is not on PATH (apt-get install festival festvox-us-slt-hts)",
)

SENTENCES = [
    'LJ900-0001|He said "hello" and paid $42.50 for it.',
    "LJ900-0002|A back\\slash should not break the script.",
    "LJ900-0003|The ship left port in 1864 with 3 masts.",
]


def write_lists(directory: Path) -> list[Path]:
    train = directory / "train.txt"
    train.write_text("\n".join(SENTENCES) + "\n")
    val = directory / "val.txt"
    val.write_text("Plain lines are numbered.\n\n")
    return [train, val]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, festival.BuildReport]:
    tmp = tmp_path_factory.mktemp("festival")
    out = tmp / "corpus"
    return out, build_corpus(write_lists(tmp), out, jobs=2)


def read_metadata(out: Path) -> list[list[str]]:
    return [line.split("|") for line in (out / "metadata.csv").read_text().splitlines()]


def test_scheme_string_escapes_quotes_and_backslashes() -> None:
    assert scheme_string('a "b" c\\d\n e') == '"a \\"b\\" c\\\\d e"'


def test_read_sentences_accepts_ids_plain_lines_and_limit(tmp_path: Path) -> None:
    train, val = write_lists(tmp_path)
    assert [s.id for s in read_sentences(train, limit=2)] == ["LJ900-0001", "LJ900-0002"]
    (plain,) = read_sentences(val)
    assert (plain.id, plain.text) == ("val-00001", "Plain lines are numbered.")


def test_unsafe_id_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("../evil|text\n")
    with pytest.raises(festival.BuildError, match="safe file name"):
        read_sentences(bad)


@pytest.mark.festival
@needs_festival
def test_wavs_are_22050_mono_pcm16(corpus: tuple[Path, festival.BuildReport]) -> None:
    out, report = corpus
    assert (report.made, report.reused, report.failed) == (4, 0, {})
    wavs = sorted((out / "wavs").glob("*.wav"))
    assert len(wavs) == 4
    for wav in wavs:
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert 0.3 < info.duration < 15.0, wav.name
    assert not list(out.glob(".festival-*")), "work directory left behind"


@pytest.mark.festival
@needs_festival
def test_metadata_and_split_lists(corpus: tuple[Path, festival.BuildReport]) -> None:
    out, _ = corpus
    rows = read_metadata(out)
    assert [row[0] for row in rows] == [f"LJ900-000{i}" for i in (1, 2, 3)] + ["val-00001"]
    assert all(len(row) == 3 for row in rows)
    assert rows[0][1] == 'He said "hello" and paid $42.50 for it.'
    for _, _, normalized in rows:
        assert not re.search(r"\d", normalized), normalized
    assert (out / "train_ids.txt").read_text().split() == [row[0] for row in rows[:3]]
    assert (out / "val_ids.txt").read_text().split() == ["val-00001"]


@pytest.mark.festival
@needs_festival
def test_rerun_reuses_and_remakes_only_missing(
    corpus: tuple[Path, festival.BuildReport], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "corpus"
    shutil.copytree(corpus[0], out)
    lists = write_lists(tmp_path)
    assert main([*map(str, lists), str(out)]) == 0
    assert "made 0, reused 4, failed 0" in capsys.readouterr().out
    (out / "wavs" / "LJ900-0002.wav").unlink()
    report = build_corpus(lists, out, jobs=1)
    assert (report.made, report.reused, report.failed) == (1, 3, {})
    assert len(read_metadata(out)) == 4


@pytest.mark.festival
@needs_festival
def test_crash_mid_chunk_loses_only_that_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Festival quitting on the second sentence must not lose the third and fourth."""
    original = festival.festival_script

    def quit_on_second(voice: str, items: list) -> str:
        script = original(voice, items)
        return re.sub(r'^\(tts_ebm_say "LJ900-0002".*$', "(quit)", script, flags=re.M)

    monkeypatch.setattr(festival, "festival_script", quit_on_second)
    report = build_corpus(write_lists(tmp_path), tmp_path / "corpus", jobs=1)
    assert (report.made, report.reused) == (3, 0)
    assert list(report.failed) == ["LJ900-0002"]
    assert "without making it" in report.failed["LJ900-0002"]
    assert [row[0] for row in read_metadata(tmp_path / "corpus")] == [
        "LJ900-0001",
        "LJ900-0003",
        "val-00001",
    ]


def ljspeech_metadata(path: Path, n: int = 40) -> Path:
    """An LJSpeech-shaped metadata.csv (id|raw|normalized) of ``n`` short sentences."""
    rows = [f"LJ001-{i:04d}|Line {i}, said twice.|Line {i}, said twice." for i in range(1, n + 1)]
    path.write_text("\n".join(rows) + "\n")
    return path


def tacotron2_filelists(folder: Path, split: dict[str, range]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, numbers in split.items():
        lines = [f"DUMMY/LJ001-{i:04d}.wav|Line {i}." for i in numbers]
        (folder / f"ljs_audio_text_{name}_filelist.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_lists_from_metadata_keep_the_standard_split(tmp_path: Path) -> None:
    from tts_ebm.data.ljspeech_lists import write_sentence_lists

    metadata = ljspeech_metadata(tmp_path / "metadata.csv")
    lists = tacotron2_filelists(
        tmp_path / "filelists", {"train": range(1, 31), "val": range(31, 36), "test": range(36, 41)}
    )
    split = write_sentence_lists(metadata, tmp_path / "out", filelists=lists, notify=print)
    assert split.source == "tacotron2" and split.sizes() == {"train": 30, "val": 5, "test": 5}
    val = (tmp_path / "out/val.txt").read_text().splitlines()
    assert val[0] == "LJ001-0031|Line 31, said twice.|Line 31, said twice." and len(val) == 5
    assert [s.id for s in read_sentences(tmp_path / "out/train.txt")][-1] == "LJ001-0030"
    assert (tmp_path / "out/test_ids.txt").read_text().split() == split.test


def test_lists_from_metadata_without_filelists_use_the_stated_seeded_split(tmp_path: Path) -> None:
    from tts_ebm.data.ljspeech import seeded_split
    from tts_ebm.data.ljspeech_lists import write_sentence_lists

    said: list[str] = []
    metadata = ljspeech_metadata(tmp_path / "metadata.csv")
    split = write_sentence_lists(
        metadata, tmp_path / "out", base_url="http://127.0.0.1:9", notify=said.append
    )
    assert split.fell_back and "FELL BACK to a seeded random split (seed 0)" in said[0]
    expected = seeded_split([f"LJ001-{i:04d}" for i in range(1, 41)])
    assert (split.train, split.val, split.test) == (expected.train, expected.val, expected.test)
    train = {s.id for s in read_sentences(tmp_path / "out/train.txt")}
    assert train == set(split.train) and not train & set(split.test)


def run_on_metadata(script: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    """``script`` (from the repository root) run in ``folder`` on its ``metadata.csv`` and
    ``filelists/``."""
    return subprocess.run(
        ["bash", str(Path(__file__).resolve().parents[1] / script)]
        + ["--metadata", "metadata.csv", "--filelists", "filelists", *args],
        cwd=folder,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.festival
@needs_festival
def test_recipe_speaks_the_lists_of_a_metadata_file(tmp_path: Path) -> None:
    ljspeech_metadata(tmp_path / "metadata.csv")
    tacotron2_filelists(
        tmp_path / "filelists", {"train": range(1, 31), "val": range(31, 36), "test": range(36, 41)}
    )
    result = run_on_metadata(
        "recipes/festival/run.sh", tmp_path, "--out", "corpus", "--limit", "1", "--jobs", "1"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tacotron2 split" in result.stdout
    corpus = tmp_path / "corpus"
    assert (corpus / "train_ids.txt").read_text().split() == ["LJ001-0001"]
    assert (corpus / "val_ids.txt").read_text().split() == ["LJ001-0031"]
    assert sf.info(corpus / "wavs/LJ001-0031.wav").samplerate == 22050


@pytest.mark.festival
@needs_festival
def test_experiment_recipe_builds_its_corpus_from_a_metadata_file(tmp_path: Path) -> None:
    """egs/festival/run.sh reads LJSpeech's metadata.csv as recipes/festival/run.sh does."""
    ljspeech_metadata(tmp_path / "metadata.csv")
    tacotron2_filelists(
        tmp_path / "filelists", {"train": range(1, 31), "val": range(31, 36), "test": range(36, 41)}
    )
    result = run_on_metadata(
        "egs/festival/run.sh", tmp_path, "--exp", "exp", "--data", "corpus", "--limit", "1",
        "--jobs", "1", "--stop-stage", "0", "--test-size", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "tacotron2 split" in result.stdout
    assert len((tmp_path / "exp/data/lists/train.txt").read_text().splitlines()) == 30
    assert (tmp_path / "corpus/train_ids.txt").read_text().split() == ["LJ001-0001"]
    test_line = (tmp_path / "exp/data/test.txt").read_text()
    assert test_line == "LJ001-0031|Line thirty one, said twice.\n"  # the normalised text


def test_festival_is_given_plain_letters():
    """The normalised text keeps accents for espeak; festival's lexicon has none, so its script
    speaks the plain letters (the metadata keeps the accented normalised text)."""
    sentence = festival.Sentence("LJ0", "Müller's café", "Müller's café")
    script = festival.festival_script("voice_x", [(sentence, Path("out.wav"))])
    assert '"Muller\'s cafe"' in script and "ü" not in script

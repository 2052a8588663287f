"""`tts-ebm score`: metrics, planting, combination, a corpus scored, resumed, screened; and on
real (festival) speech, planted defects rank worst."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tts_ebm.cli import main
from tts_ebm.data.toy import make_toy_corpus
from tts_ebm.scoring import combine
from tts_ebm.scoring.metrics import per_kind, precision_at, roc_auc
from tts_ebm.scoring.pairs import NAMES
from tts_ebm.scoring.plant import CLEAN, delete_word, plant_defects, replace_word, with_noise
from tts_ebm.scoring.run import read_table, score_corpus

UNSEEN = Path(__file__).parents[1] / "docs" / "scoring" / "unseen-sentences.txt"


def test_roc_auc_and_precision_by_hand() -> None:
    assert roc_auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert roc_auc([1, 2, 3, 4], [False, True, False, True]) == 0.75
    assert roc_auc([5, 5, 5, 5], [False, True, False, True]) == 0.5  # ties count half
    assert precision_at([0.9, 0.1, 0.8, 0.7], [True, False, False, True], 2) == 0.5
    kinds = ["clean", "cut", "noise", "clean", "cut"]
    # cut against the clean pairs only (noise left out): cut scores 4, 1; clean 0, 3
    auc, precision = per_kind([0, 4, 9, 3, 1], kinds, "cut")
    assert (auc, precision) == (0.75, 0.5)  # 3 of 4 (cut, clean) pairs ordered; top 2: 4, 3
    with pytest.raises(ValueError, match="positive"):
        roc_auc([1, 2], [False, False])


def test_noise_is_planted_at_its_snr() -> None:
    rng = np.random.default_rng(0)
    wav = (0.3 * np.sin(np.arange(22050) / 7.0)).astype(np.float32)
    noisy = with_noise(wav, 5.0, rng)
    snr = 10 * np.log10(np.mean(wav.astype(np.float64) ** 2) / np.mean((noisy - wav) ** 2))
    assert abs(snr - 5.0) < 0.1


def test_word_edits_change_exactly_one_word() -> None:
    rng = np.random.default_rng(1)
    text = "The lighthouse keeper climbed the stairs, every evening."
    deleted, detail = delete_word(text, rng)
    assert len(deleted.split()) == len(text.split()) - 1 and "deleted" in detail
    replaced, _ = replace_word(text, "a mountain village had no road", rng)
    changed = [(a, b) for a, b in zip(text.split(), replaced.split(), strict=True) if a != b]
    assert len(changed) == 1
    old, new = changed[0]
    assert new.strip(",.") in {"mountain", "village", "road"}  # four letters or more
    assert old[-1] == new[-1] if not old[-1].isalpha() else new[-1].isalpha()  # punctuation kept


def test_combination_standardises_and_fits_the_informative_score() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=400)
    z = combine.standardised(values)
    assert abs(np.median(z)) < 1e-12 and 0.8 < np.median(np.abs(z)) / 0.6745 < 1.2
    positive = rng.random(400) < 0.2
    informative = rng.normal(size=400) + 3.0 * positive
    matrix = np.stack([informative, rng.normal(size=400)], axis=1)
    weights = combine.fit_logistic(matrix, positive)
    assert weights[0] > 1.0 and abs(weights[1]) < 0.5 * weights[0]
    assert combine.stored("no-such-key") is combine.UNFITTED


def test_study_baseline_and_cross_validated_combination() -> None:
    from tts_ebm.scoring.study import cross_validated, duration_ratio

    # 1 s per 10 characters is the norm; a clip twice as long (or half) is log 2 away.
    ratio = duration_ratio(
        np.array([1.0, 2.0, 3.0, 8.0, 2.0]), ["x" * 10, "x" * 20, "x" * 30, "x" * 40, "x" * 40]
    )
    assert np.allclose(ratio, [0, 0, 0, np.log(2), np.log(2)])
    rng = np.random.default_rng(0)
    positive = np.arange(200) < 30
    matrix = np.stack([rng.normal(size=200) + 4.0 * positive, rng.normal(size=200)], axis=1)
    held_out = cross_validated(matrix, positive, folds=5, seed=0)
    assert roc_auc(held_out, positive) > 0.95
    assert roc_auc(cross_validated(matrix[:, 1:], positive, folds=5, seed=0), positive) < 0.75


@pytest.fixture(scope="module")
def toy_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_toy_corpus(tmp_path_factory.mktemp("toy") / "corpus", n_utterances=12, seed=3)


def test_score_writes_a_table_resumes_and_lists_unreadable(toy_corpus: Path, tmp_path: Path):
    out = tmp_path / "scores"
    assert main(["score", str(toy_corpus), "--out", str(out), "--jobs", "1", "--worst", "3"]) == 0
    rows = read_table(out / "scores.tsv")
    assert len(rows) == 12 and all(np.isfinite([r[n] for r in rows for n in NAMES]))
    combined = [r["combined"] for r in rows]
    assert combined == sorted(combined, reverse=True)  # worst first
    assert (out / "scores.png").stat().st_size > 0
    page = (out / "worst.html").read_text()
    assert page.count("<audio") == 3 and len(list((out / "audio").glob("*.wav"))) == 3

    # A rerun scores nothing again; a broken feature file is one listed line, not a failure.
    again = score_corpus(out / "prepared", None, out)
    assert again.n_reused == 12
    assert [r["id"] for r in again.rows] == [r["id"] for r in rows]
    victim = rows[0]["id"]
    mel = out / "prepared" / "mels" / f"{victim}.npy"
    content = mel.read_bytes()
    mel.unlink()
    mel.write_bytes(content)  # a changed pair (prepare rewrites its features) is scored again
    assert score_corpus(out / "prepared", None, out).n_reused == 11
    mel.write_bytes(b"not a numpy file")
    fresh = score_corpus(out / "prepared", None, tmp_path / "fresh")
    assert victim not in {r["id"] for r in fresh.rows} and len(fresh.rows) == 11
    listed = (tmp_path / "fresh" / "unreadable.tsv").read_text()
    assert listed.startswith(f"{victim}\tunreadable features")


def test_an_interrupted_run_tabulates_what_it_scored_and_resumes(toy_corpus: Path, tmp_path):
    def stop_after_first_batch(stage: str, done: int, total: int) -> None:
        if stage == "scoring" and done >= 4:
            raise KeyboardInterrupt

    first = score_corpus(toy_corpus, None, tmp_path, batch_size=4, progress=stop_after_first_batch)
    assert first.interrupted and len(first.rows) == 4
    assert len(read_table(tmp_path / "scores.tsv")) == 4
    second = score_corpus(toy_corpus, None, tmp_path, batch_size=4)
    assert not second.interrupted and second.n_reused == 4 and len(second.rows) == 12


def test_flow_voice_is_refused_in_one_line(toy_corpus: Path, tmp_path: Path, capsys) -> None:
    args = ["score", str(toy_corpus), "--out", str(tmp_path), "--checkpoint", "flow"]
    assert main(args) == 2
    assert "flow" in capsys.readouterr().err.strip().splitlines()[-1]
    assert main(["score", str(toy_corpus), "--out", str(tmp_path), "--flag", "200"]) == 2
    assert "--flag must be in [0, 100]" in capsys.readouterr().err


def test_prepare_screen_drops_the_worst_of_the_training_split(toy_corpus: Path, tmp_path: Path):
    out = tmp_path / "prepared"
    base = ["prepare", str(toy_corpus), str(out), "--jobs", "1", "--val-size", "2"]
    assert main(base) == 0
    val_before = (out / "val.jsonl").read_text()
    assert len((out / "train.jsonl").read_text().splitlines()) == 11  # 1 val of 12
    assert main([*base, "--screen", "default", "--drop-worst", "25"]) == 0
    assert (out / "val.jsonl").read_text() == val_before
    assert len((out / "train.jsonl").read_text().splitlines()) == 9  # floor(25 % of 11)
    worst = read_table(out / "screen" / "scores.tsv")[:2]
    skipped = dict(line.split("\t") for line in (out / "skipped.tsv").read_text().splitlines())
    assert set(skipped) == {r["id"] for r in worst}
    assert all(reason.startswith("screened out by default") for reason in skipped.values())
    assert main([*base, "--screen", "default", "--drop-worst", "120"]) == 2


needs_festival = pytest.mark.skipif(
    shutil.which("festival") is None,
    reason="festival is not on PATH (apt-get install festival festvox-us-slt-hts)",
)


@pytest.mark.festival
@needs_festival
def test_planted_defects_rank_worst(tmp_path: Path) -> None:
    """Festival reads 16 unseen sentences; a transcript swap, a clip run on and noise at 5 dB
    (one each) must be the three worst pairs under the default voice's combined score."""
    from tts_ebm.data.festival import build_corpus

    sentences = tmp_path / "unseen.txt"
    sentences.write_text("\n".join(UNSEEN.read_text().splitlines()[:16]) + "\n")
    build_corpus([sentences], tmp_path / "clean", jobs=1)
    kinds = ("transcript_swap", "appended", "noise")
    labels = plant_defects(tmp_path / "clean", tmp_path / "planted", kinds=kinds, per_kind=1)
    run = score_corpus(tmp_path / "planted", "default", tmp_path / "scores")
    planted = {p.id for p in labels if p.kind != CLEAN}
    assert len(planted) == 3
    assert {r["id"] for r in run.rows[:3]} == planted, [(r["id"], r["combined"]) for r in run.rows]

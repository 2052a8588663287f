"""`tts-ebm evaluate`: metric definitions on analytic cases, the real recognisers and MOS model on
festival speech, the CLI end to end (bad input included) and a step sweep on a toy checkpoint.

Needs the ``eval`` extra (pyworld, pysptk, pocketsphinx, distillmos); tests that use a missing
package are skipped, the edit-distance and statistics tests always run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_ebm.audio import MelSpectrogram, load_audio, resample, save_wav
from tts_ebm.evaluate import (
    EvalOptions,
    EvaluationError,
    Evaluator,
    Pair,
    Pairing,
    error_counts,
    f0_errors,
    mean_ci,
    mel_cepstral_distortion,
)
from tts_ebm.evaluate.acoustic import MCD_SCALE, compare
from tts_ebm.evaluate.report import corpus_rates
from tts_ebm.evaluate.wer import scoring_words
from tts_ebm.evaluate.world import WorldConfig, analyse

FS = 22050
HARVARD = {
    "h1": "The birch canoe slid on the smooth planks.",
    "h2": "Glue the sheet to the dark blue background.",
    "h3": "It's easy to tell the depth of a well.",
    "h4": "These days a chicken leg is a rare dish.",
}


def _usable(module: str) -> bool:
    try:
        if module in ("pyworld", "pysptk"):
            from tts_ebm.evaluate.world import _import

            _import(module)
        elif module == "distillmos":  # its import needs the torchaudio placeholder
            from tts_ebm.evaluate.mos import _import_sqa

            _import_sqa()
        else:
            __import__(module)
    except (ImportError, EvaluationError):
        return False
    return True


def needs(*modules: str) -> pytest.MarkDecorator:
    missing = [m for m in modules if not _usable(m)]
    return pytest.mark.skipif(bool(missing), reason=f"needs the eval extra ({', '.join(missing)})")


needs_world = needs("pyworld", "pysptk")
needs_festival = pytest.mark.skipif(
    shutil.which("festival") is None, reason="festival is not on PATH"
)


pytestmark = pytest.mark.usefixtures("one_thread")


def evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``tts-ebm evaluate ARGS`` through the console script's ``main``, in this process: a
    subprocess would add only its own imports (seconds each on a loaded CPU)."""
    from tts_ebm.cli import main

    code = main(["evaluate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# -- shared material ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def festival_refs(tmp_path_factory) -> Path:
    """An LJSpeech-format folder (metadata.csv, wavs/) of the four Harvard sentences."""
    if shutil.which("festival") is None:
        pytest.skip("festival is not on PATH")
    from tts_ebm.data.festival import build_corpus

    tmp = tmp_path_factory.mktemp("festival")
    sentences = tmp / "sentences.txt"
    sentences.write_text("".join(f"{i}|{t}\n" for i, t in HARVARD.items()))
    build_corpus([sentences], tmp / "corpus", jobs=1)
    return tmp / "corpus"


@pytest.fixture(scope="module")
def full_evaluator() -> Evaluator:
    """All four metric families, models loaded once for the module."""
    if not all(_usable(m) for m in ("pyworld", "pysptk", "pocketsphinx", "distillmos")):
        pytest.skip("needs the eval extra")
    return Evaluator(EvalOptions())


def pulse_train(f0: float = 120.0, seconds: float = 2.0) -> np.ndarray:
    x = np.zeros(int(FS * seconds))
    x[:: int(FS / f0)] = 1.0
    return x


def warp(omega: np.ndarray, alpha: float) -> np.ndarray:
    """The all-pass (bilinear) frequency warping of the mel-cepstrum."""
    return omega + 2 * np.arctan(alpha * np.sin(omega) / (1 - alpha * np.cos(omega)))


def filter_by_mel_cepstrum(x: np.ndarray, c: np.ndarray, alpha: float) -> np.ndarray:
    """Zero-phase filter with log |H(ω)| = Σ_{m≥1} c_m cos(m ω̃(ω)), applied circularly."""
    spectrum = np.fft.rfft(x)
    omega = np.linspace(0, np.pi, len(spectrum))
    log_h = sum(c[m] * np.cos(m * warp(omega, alpha)) for m in range(1, len(c)))
    return np.fft.irfft(spectrum * np.exp(log_h), len(x))


# -- (a) a wav against itself ---------------------------------------------------------------------


@needs_world
def test_a_wav_against_itself_has_zero_distortion(speech_wav):
    evaluator = Evaluator(EvalOptions(metrics=("mcd", "f0")))
    row = evaluator.evaluate_pair(Pair("speech", speech_wav, speech_wav))
    assert row["mcd_db"] < 0.01
    assert row["f0_rmse_cents"] == 0.0
    assert row["vuv_error"] == 0.0
    assert row["voiced_pairs"] > 100  # harvest found voiced speech, so F0 was really compared
    assert row["aligned_frames"] == pytest.approx(row["synth_seconds"] * 200, abs=2)  # 5 ms


@needs_world
def test_a_reference_cache_folder_spares_later_runs_the_reference_analysis(
    speech_wav, tmp_path, monkeypatch
):
    """A second evaluator with the same cache folder analyses only the synthesised side and
    scores exactly as the first; a reference that changes on disk is analysed again."""
    import tts_ebm.evaluate.runner as runner

    reference = tmp_path / "ref.wav"
    shutil.copy(speech_wav, reference)
    calls = []
    monkeypatch.setattr(
        runner, "analyse", lambda wav, config: calls.append(1) or analyse(wav, config)
    )
    options, folder = EvalOptions(metrics=("mcd", "f0")), tmp_path / "cache"
    pair = Pair("speech", speech_wav, reference)
    first = Evaluator(options, folder).evaluate_pair(pair)
    assert len(calls) == 2 and len(list(folder.glob("*.npz"))) == 1
    second = Evaluator(options, folder).evaluate_pair(pair)
    assert len(calls) == 3  # the synthesised side only
    assert second == first
    os.utime(reference, ns=(0, 10**9))  # same bytes, another modification time: a new key
    Evaluator(options, folder).evaluate_pair(pair)
    assert len(calls) == 5 and len(list(folder.glob("*.npz"))) == 2


def test_a_reference_cache_keeps_transcripts_and_mos_and_recomputes_a_broken_file(
    speech_wav, tmp_path
):
    from tts_ebm.evaluate.reference_cache import ReferenceCache

    world, folder = WorldConfig(), tmp_path / "cache"
    entry = ReferenceCache(world, folder).entry(speech_wav)
    entry.update(sphinx_hyp="the birch canoe", mos=np.float32(3.5))
    ReferenceCache(world, folder).save(speech_wav)  # another instance: nothing of its own to save
    assert not folder.exists()
    cache = ReferenceCache(world, folder)
    cache.entry(speech_wav).update(sphinx_hyp="the birch canoe", mos=np.float32(3.5))
    cache.save(speech_wav)
    assert ReferenceCache(world, folder).entry(speech_wav) == {
        "sphinx_hyp": "the birch canoe",
        "mos": 3.5,
    }
    assert ReferenceCache(WorldConfig(f0_method="dio"), folder).entry(speech_wav) == {}
    next(folder.glob("*.npz")).write_bytes(b"not an npz")
    assert ReferenceCache(world, folder).entry(speech_wav) == {}


# -- (b) MCD and F0 against analytic cases --------------------------------------------------------


def test_mcd_formula_on_hand_made_cepstra():
    a = np.zeros((3, 25))
    b = a.copy()
    b[:, 0] = 5.0  # c0 (energy) is excluded
    assert mel_cepstral_distortion(a, b) == 0.0
    b[:, 1] = 1.0
    assert mel_cepstral_distortion(a, b) == pytest.approx(10 / math.log(10) * math.sqrt(2))
    b[:, 2] = 1.0  # sqrt(2 · (1 + 1)) · 10 / ln 10 = 8.686 dB
    assert mel_cepstral_distortion(a, b) == pytest.approx(20 / math.log(10))
    # Along an alignment path: the frame pairs given, averaged over the path.
    c = np.zeros((2, 25))
    c[1, 1] = 1.0
    path = np.array([[0, 0], [1, 0], [1, 1]])
    assert mel_cepstral_distortion(c, np.zeros((2, 25)), path) == pytest.approx(2 / 3 * MCD_SCALE)


def test_f0_errors_in_cents_and_voicing():
    a = np.array([100.0, 100.0, 0.0, 200.0, 0.0])
    b = np.array([200.0, 100.0, 150.0, 0.0, 0.0])
    path = np.stack([np.arange(5)] * 2, axis=1)
    errors = f0_errors(a, b, path)
    assert errors.voiced_pairs == 2
    assert errors.rmse_cents == pytest.approx(1200 / math.sqrt(2))  # one octave, one exact
    assert errors.vuv_error == pytest.approx(2 / 5)
    assert f0_errors(np.zeros(3), np.zeros(3), path[:3]).rmse_cents is None


@needs_world
def test_warped_mel_cepstrum_of_an_analytic_envelope():
    """sp2mc inverts log |X(ω)| = Σ c̃_m cos(m ω̃(ω)) with SPTK's α for 22050 Hz (0.455)."""
    config = WorldConfig()
    alpha = config.resolved_alpha()
    assert alpha == pytest.approx(0.455)
    import pysptk

    c = np.zeros(25)
    c[[0, 1, 2, 5]] = [-3.0, 0.3, -0.2, 0.1]
    omega = np.linspace(0, np.pi, 513)
    log_amplitude = sum(c[m] * np.cos(m * warp(omega, alpha)) for m in range(25))
    recovered = pysptk.sp2mc(np.exp(2 * log_amplitude)[None], 24, alpha)[0]
    np.testing.assert_allclose(recovered, c, atol=2e-3)


@needs_world
def test_mcd_of_a_known_filter_matches_its_cepstral_distance():
    """A pulse train and the same train through a filter whose mel-cepstrum is c: WORLD + SPTK
    must measure MCD = (10/ln 10) · sqrt(2 Σ c_m²); a gain change (c0 only) must measure 0."""
    config = WorldConfig()
    alpha = config.resolved_alpha()
    c = np.zeros(25)
    c[[1, 2, 5]] = [0.3, -0.2, 0.1]
    x = pulse_train()
    filtered = filter_by_mel_cepstrum(x, c, alpha)
    source = analyse(x, config)
    expected = MCD_SCALE * math.sqrt(np.sum(c[1:] ** 2))  # 2.298 dB
    assert compare(analyse(filtered, config), source).mcd_db == pytest.approx(expected, rel=0.02)
    louder = compare(analyse(3.0 * x, config), source)
    assert louder.mcd_db < 0.01
    assert louder.f0.rmse_cents == pytest.approx(0.0, abs=0.5)


@needs_world
def test_mcd_grows_with_added_noise(speech_wav):
    speech = load_audio(speech_wav, FS).astype(np.float64)
    reference = analyse(speech)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(speech))
    rms = np.sqrt(np.mean(speech**2))
    mcds = []
    for snr_db in (40, 20, 0):
        noisy = speech + noise * rms * 10 ** (-snr_db / 20)
        mcds.append(compare(analyse(noisy), reference).mcd_db)
    assert all(a < b for a, b in zip(mcds, mcds[1:], strict=False)), mcds
    # Even 40 dB SNR costs ~4 dB: the noise fills the pauses, and MCD counts silent frames.
    assert mcds[0] > 0 and mcds[-1] > mcds[0] + 3, mcds


# -- (c) WER and CER ------------------------------------------------------------------------------


def test_edit_counts_hand_computed():
    def edits(reference: str, hypothesis: str) -> tuple[int, int]:
        counts = error_counts(reference, hypothesis)
        return counts.word_edits, counts.char_edits

    assert edits("kitten", "sitting") == (1, 3)
    assert edits("", "abc") == (1, 3)
    assert edits("abc", "") == (1, 3)
    assert edits("a b c", "a c") == (1, 2)
    assert edits("flaw", "lawn") == (1, 2)


def test_wer_and_cer_hand_computed():
    ref = "The cat sat on the mat."
    deletion = error_counts(ref, "the cat sat on mat")  # 1 word deleted; "the " = 4 chars
    assert (deletion.word_edits, deletion.words, deletion.wer) == (1, 6, pytest.approx(1 / 6))
    assert (deletion.char_edits, deletion.chars) == (4, 22)
    mixed = error_counts(ref, "a cat sat on the mat too")  # substitution + insertion
    assert (mixed.word_edits, mixed.wer) == (2, pytest.approx(2 / 6))
    assert error_counts(ref, "").wer == 1.0
    assert error_counts("", "anything").wer is None


def test_normalisation_makes_numbers_and_punctuation_match():
    assert scoring_words("He paid $42, on Jan. 3rd!") == scoring_words(
        "he paid forty two dollars on january third"
    )
    assert scoring_words("read(2) the BOOK") == ["read", "the", "book"]
    # Accents stay for the phonemiser but not in the comparison: one word, not "m" + "ller".
    assert scoring_words("to arrest Müller, café") == ["to", "arrest", "muller", "cafe"]
    assert error_counts("Dr. Smith's 2 cats.", "doctor smith's two cats").word_edits == 0


def test_corpus_wer_is_total_edits_over_total_words():
    rows = [
        {
            "ref_words": 1,
            "ref_chars": 3,
            "sphinx_synth_word_edits": 1,
            "sphinx_synth_char_edits": 3,
        },
        {
            "ref_words": 9,
            "ref_chars": 40,
            "sphinx_synth_word_edits": 0,
            "sphinx_synth_char_edits": 0,
        },
    ]
    rates = corpus_rates(rows)["sphinx_synth"]
    assert rates["wer"] == pytest.approx(0.1)  # the mean of per-utterance WERs would be 0.5
    assert rates["cer"] == pytest.approx(3 / 43)


def test_mean_ci_uses_the_t_distribution():
    stats = mean_ci([1.0, 2.0, 3.0, None, float("nan")])
    assert (stats.mean, stats.n, stats.std) == (2.0, 3, 1.0)
    assert stats.ci95 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # t(0.975, 2)
    assert mean_ci([5.0]).ci95 is None and mean_ci([]).mean is None


# -- (d) festival speech against itself -----------------------------------------------------------


@pytest.mark.festival
def test_festival_speech_against_itself(festival_refs, full_evaluator):
    from tts_ebm.evaluate.asr import ASR_RATE, PocketSphinx

    wavs = festival_refs / "wavs"
    pairs = [Pair(i, wavs / f"{i}.wav", wavs / f"{i}.wav", t) for i, t in HARVARD.items()]
    result = full_evaluator.evaluate(Pairing(pairs), progress=False)
    assert [row["id"] for row in result.rows] == list(HARVARD)
    recognizer = PocketSphinx()
    for row in result.rows:
        assert row["mcd_db"] < 0.01 and row["f0_rmse_cents"] == 0 and row["vuv_error"] == 0
        # Same audio, same score on both sides, equal to the recogniser's own WER on it.
        wav = resample(load_audio(wavs / f"{row['id']}.wav", FS), FS, ASR_RATE)
        own = error_counts(HARVARD[row["id"]], recognizer.transcribe(wav))
        assert row["sphinx_synth_wer"] == row["sphinx_ref_wer"] == own.wer
        assert row["sphinx_synth_cer"] == own.cer
        assert row["mos_synth"] == pytest.approx(row["mos_ref"])
        assert 1.0 <= row["mos_synth"] <= 5.0
    corpus = corpus_rates(result.rows)
    assert corpus["sphinx_synth"]["wer"] == corpus["sphinx_ref"]["wer"] < 0.5


@pytest.mark.festival
def test_sphinx_transcripts_do_not_depend_on_earlier_utterances(festival_refs):
    """A reused recogniser gives each utterance the transcript a fresh one would: without the
    per-utterance reset, loud speech decoded first shifted the next utterances' feature means."""
    from tts_ebm.evaluate.asr import ASR_RATE, PocketSphinx

    wavs = {
        i: resample(load_audio(festival_refs / "wavs" / f"{i}.wav", FS), FS, ASR_RATE)
        for i in HARVARD
    }
    loud = np.concatenate([4.0 * wav for wav in wavs.values()])
    reused = PocketSphinx()
    reused.transcribe(loud)
    for wav in wavs.values():
        assert reused.transcribe(wav) == PocketSphinx().transcribe(wav)


# -- (e) the MOS predictor ranks HiFi-GAN above Griffin-Lim ---------------------------------------


@pytest.mark.festival
@needs("distillmos")
def test_mos_ranks_hifigan_copy_synthesis_above_griffin_lim(festival_refs):
    from tts_ebm.evaluate.mos import MOS_RATE, DistillMOS
    from tts_ebm.vocoder import load_vocoder

    mos = DistillMOS()
    mel = MelSpectrogram()
    vocoders = {name: load_vocoder(name) for name in ("universal", "griffin-lim")}
    scores: dict[str, list[float]] = {name: [] for name in vocoders}
    for utt_id in HARVARD:
        wav = load_audio(festival_refs / "wavs" / f"{utt_id}.wav", FS)
        log_mel = mel(torch.from_numpy(wav))
        for name, vocoder in vocoders.items():
            audio = vocoder(log_mel).numpy()
            scores[name].append(mos.predict(resample(audio, FS, MOS_RATE)))
    means = {name: float(np.mean(values)) for name, values in scores.items()}
    assert means["universal"] > means["griffin-lim"] + 0.3, means


# -- (f) the command line end to end --------------------------------------------------------------


@pytest.mark.festival
def test_cli_evaluates_a_folder_and_reports_bad_and_unpaired_wavs(festival_refs, tmp_path, capsys):
    if not all(_usable(m) for m in ("pyworld", "pysptk", "pocketsphinx", "distillmos")):
        pytest.skip("needs the eval extra")
    synth = tmp_path / "synth"
    synth.mkdir()
    # "Synthesised": h1 = the reference at half the level (float, so no new quantisation
    # noise), h2 = the reference resampled to 44.1 kHz.
    quiet = 0.5 * load_audio(festival_refs / "wavs" / "h1.wav", FS)
    sf.write(synth / "h1.wav", quiet, FS, subtype="FLOAT")
    save_wav(synth / "h2.wav", load_audio(festival_refs / "wavs" / "h2.wav", 44100), 44100)
    (synth / "h3.wav").write_bytes(b"RIFF not really a wav")
    shutil.copy(festival_refs / "wavs" / "h4.wav", synth / "extra.wav")
    out = tmp_path / "out"
    args = [str(synth), "--references", str(festival_refs), "--out", str(out), "--quiet"]
    code, stdout, stderr = evaluate(capsys, *args)
    assert code == 0, stderr
    rows = read_rows(out / "utterances.csv")
    assert [row["id"] for row in rows] == ["h1", "h2"]
    assert "skipped h3: cannot read audio file" in stderr
    assert "unpaired: 1 synthesised wavs have no counterpart: extra" in stderr
    assert "unpaired: 1 reference wavs have no counterpart: h4" in stderr
    # c0 is excluded, so the level does not count; resampling twice (to 44.1 kHz and back to
    # the evaluation rate) changes the band near Nyquist, which MCD sees (~2.4 dB).
    assert float(rows[0]["mcd_db"]) < 0.01
    assert 0.5 < float(rows[1]["mcd_db"]) < 5
    assert all(row["text"] and float(row["sphinx_ref_wer"]) >= 0 for row in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["utterances"] == 2 and list(summary["skipped"]) == ["h3"]
    assert summary["unpaired"] == {"synthesised_only": ["extra"], "reference_only": ["h4"]}
    assert summary["metrics"]["mcd_db"]["n"] == 2 and summary["metrics"]["mcd_db"]["ci95"] > 0
    assert {"sphinx_synth", "sphinx_ref"} <= summary["corpus"].keys()
    for plot in ("mcd.png", "mos.png", "f0.png", "wer.png"):
        assert (out / plot).stat().st_size > 1000
    assert "MCD (dB)" in stdout and "corpus WER sphinx (synthesised)" in stdout
    assert "evaluated 2 of 3 pairs" in stdout


def test_cli_bad_input_gives_one_line_and_a_non_zero_exit(tmp_path, speech_wav, capsys):
    refs, synth, lonely, broken = (tmp_path / n for n in ("refs", "synth", "lonely", "broken"))
    for folder in (refs, synth, lonely, broken):
        folder.mkdir()
    shutil.copy(speech_wav, refs / "a.wav")
    shutil.copy(speech_wav, synth / "a.wav")
    shutil.copy(speech_wav, lonely / "zzz.wav")
    (broken / "a.wav").write_bytes(b"\x00" * 10)
    out = ["--out", str(tmp_path / "out")]
    cases = {
        "missing synth": ([str(tmp_path / "nope"), "--references", str(refs), *out], "not found"),
        "missing refs": ([str(synth), "--references", str(tmp_path / "nope"), *out], "not found"),
        "no pairs": ([str(lonely), "--references", str(refs), *out], "has a reference"),
        "unreadable": (
            [str(broken), "--references", str(refs), *out, "--metrics", "mcd"],
            "none of the 1 pairs could be read",
        ),
        "unknown metric": (
            [str(synth), "--references", str(refs), *out, "--metrics", "pesq"],
            "pesq",
        ),
        "no transcripts": (
            [str(synth), "--references", str(refs), *out, "--metrics", "asr"],
            "asr needs transcripts",
        ),
        "whisper": (
            [str(synth), "--references", str(refs), *out, "--whisper", str(tmp_path / "w")],
            "not found locally",
        ),
        "sweep without checkpoint": (
            ["--sweep-steps", "0,1", "--references", str(refs), *out],
            "--checkpoint",
        ),
        "no references": ([str(synth), *out], "--references"),
    }
    for name, (args, _) in cases.items():
        code, _, err = evaluate(capsys, *args)
        lines = err.strip().splitlines()
        assert code != 0, name
        assert len(lines) >= 1 and lines[-1].startswith("tts-ebm: error: "), (name, err)
        assert cases[name][1] in lines[-1], (name, err)
        assert "Traceback" not in err, (name, err)
    assert not (tmp_path / "out" / "utterances.csv").exists()


# -- (g) a step sweep on a toy checkpoint ---------------------------------------------------------


@needs_world
def test_sweep_on_a_toy_checkpoint(toy_checkpoint, tmp_path, capsys):
    from tts_ebm.data.toy import synthesize_toy

    texts = {"t1": "la mis fo.", "t2": "mu sel ni.", "t3": "fa lo."}
    listing = tmp_path / "texts.txt"
    listing.write_text("".join(f"{i}|{t}\n" for i, t in texts.items()))
    refs = tmp_path / "refs"
    rng = np.random.default_rng(0)
    for utt_id, text in texts.items():  # the toy language's own audio of each text
        save_wav(refs / f"{utt_id}.wav", synthesize_toy(text, rng), FS)
    out = tmp_path / "sweep"
    args = ["--sweep-steps", "1,0", "--checkpoint", str(toy_checkpoint), "--texts", str(listing)]
    args += ["--references", str(refs), "--out", str(out), "--metrics", "mcd", "--quiet"]
    code, stdout, stderr = evaluate(capsys, *args, "--vocoder", "griffin-lim")
    assert code == 0, stderr
    rows = read_rows(out / "sweep.csv")
    assert [int(r["steps"]) for r in rows] == [0, 1]
    for row in rows:
        assert int(row["utterances"]) == 3 and int(row["mcd_db_n"]) == 3
        assert 0 < float(row["mcd_db_mean"]) < 40 and float(row["mcd_db_ci95"]) > 0
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["steps"] == [0, 1] and set(sweep["summaries"]) == {"0", "1"}
    assert (out / "sweep.png").stat().st_size > 1000
    for k in (0, 1):
        assert sorted(p.name for p in (out / f"steps-{k}").glob("*.wav")) == [
            "t1.wav",
            "t2.wav",
            "t3.wav",
        ]
        assert len(read_rows(out / f"steps-{k}" / "utterances.csv")) == 3
    # The sweep really changes K: μ itself (K = 0) and one refinement step differ.
    zero, one = (sf.read(out / f"steps-{k}" / "t1.wav")[0] for k in (0, 1))
    assert zero.shape == one.shape and not np.allclose(zero, one)
    assert "K = 0 steps" in stdout and "K = 1 steps" in stdout


def test_help_names_the_metric_families_and_the_sweep(capsys):
    from tts_ebm.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("mcd = mel-cepstral distortion", "log-F0 RMSE (cents)", "--sweep-steps"):
        assert phrase in text
    assert "--whisper" in text and "never downloads" in text

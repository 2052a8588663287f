"""Recipes and end-to-end pipelines: the LJSpeech downloader and split, the custom-corpus check,
copy synthesis, the summary table, and the egs/ chains themselves (festival smoke, LJSpeech).

Network is never used: a local HTTP server (with Range support, and a switch that cuts a
response short) serves archives and filelists that the tests build.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_ebm import plots
from tts_ebm.checkpoint import load_inference_checkpoint
from tts_ebm.cli import main as cli_main
from tts_ebm.data import download as dl
from tts_ebm.data import ljspeech
from tts_ebm.data.custom import CheckOptions, check_corpus, write_clean_corpus
from tts_ebm.recipe import (
    HEADLINES,
    TrainSpeed,
    acoustic_rtf,
    budget_curves,
    collect_results,
    comparison_curves,
    summarize,
)

REPO = Path(__file__).resolve().parents[1]
needs_festival = pytest.mark.skipif(
    shutil.which("festival") is None,
    reason="festival is not on PATH (apt-get install festival festvox-us-slt-hts)",
)


# ---- a local HTTP server -----------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless ``server.ignore_range``;
    ``server.cut_after`` (a list) cuts the next responses after that many body bytes."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not server.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_after:
            self.wfile.write(body[: server.cut_after.pop(0)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    files: dict[str, bytes]
    requests: list[tuple[str, str | None]]
    ignore_range: bool = False
    cut_after: list[int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture()
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.cut_after = {}, [], []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def closed_port_url() -> str:
    """A URL nothing listens on: connections are refused at once (the offline case)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


PAYLOAD = bytes(range(256)) * 4000  # ~1 MB, several read chunks


# ---- downloads ---------------------------------------------------------------------------


def test_download_resumes_a_partial_file_with_a_range_request(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    dest.with_name("a.bin.part").write_bytes(PAYLOAD[:300_000])
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    out = dl.download(f"{server.url}/a.bin", dest, checksums=(dl.Checksum("sha256", sha),))
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert not dest.with_name("a.bin.part").exists()
    assert server.requests == [("/a.bin", "bytes=300000-")]
    # Done once: a second call verifies and reuses the file without any request.
    dl.download(f"{server.url}/a.bin", dest, checksums=(dl.Checksum("sha256", sha),))
    assert len(server.requests) == 1


def test_download_continues_after_the_connection_drops(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    server.cut_after = [100_000, 200_000]  # two responses cut short, then a full one
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    dest = dl.download(
        f"{server.url}/a.bin",
        tmp_path / "a.bin",
        size=len(PAYLOAD),
        checksums=(dl.Checksum("md5", md5),),
        retry_wait=0,
    )
    assert dest.read_bytes() == PAYLOAD
    ranges = [r for _, r in server.requests]
    assert ranges[0] is None and ranges[1] == "bytes=100000-" and ranges[2] == "bytes=300000-"


def test_a_server_without_range_support_restarts_from_zero(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    server.ignore_range = True
    dest = tmp_path / "a.bin"
    dest.with_name("a.bin.part").write_bytes(b"stale bytes that must not be kept")
    dl.download(f"{server.url}/a.bin", dest, size=len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_is_a_clear_error_and_the_bad_file_is_deleted(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    with pytest.raises(dl.DownloadError, match=r"corrupt: sha256 of a.bin is .*deleted"):
        dl.download(f"{server.url}/a.bin", dest, checksums=(dl.Checksum("sha256", "0" * 64),))
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_is_refused_before_hashing(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    with pytest.raises(dl.DownloadError, match="expected 12"):
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", size=12)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_and_unreachable_server_say_what_happened(server, tmp_path):
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download(f"{server.url}/nothing", tmp_path / "x")
    with pytest.raises(dl.DownloadError, match="cannot download .*refused"):
        dl.download(f"{closed_port_url()}/x", tmp_path / "x", retries=1, retry_wait=0)
    server.files["/a.bin"] = PAYLOAD
    server.cut_after = [1000]
    with pytest.raises(dl.DownloadError, match=r"1000 bytes kept in .*a.bin.part; run again"):
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", retries=0)
    dl.download(f"{server.url}/a.bin", tmp_path / "a.bin")  # the rerun resumes
    assert server.requests[-1] == ("/a.bin", "bytes=1000-")
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:bz2") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (("top/../../evil.txt", b"x"), "outside the destination"),
        (("/tmp/evil.txt", b"x"), "absolute path"),
        (_symlink("top/link", "/etc/passwd"), "is a link"),
    ],
)
def test_extraction_refuses_path_traversal_and_links(tmp_path, member, message):
    archive = tmp_path / "bad.tar.bz2"
    archive.write_bytes(_tar([("top/good.txt", b"fine"), member]))
    dest = tmp_path / "out"
    with pytest.raises(dl.UnsafeArchiveError, match=message):
        dl.extract_tar(archive, dest)
    assert list(dest.iterdir()) == []  # nothing of the refused archive is left
    assert not (tmp_path / "evil.txt").exists()


def test_extraction_writes_files_and_moves_them_into_place(tmp_path):
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(_tar([("top/a/b.txt", b"hello"), ("top/c.txt", b"")], mode="w:gz"))
    assert dl.extract_tar(archive, tmp_path / "out") == ["top"]
    assert (tmp_path / "out/top/a/b.txt").read_bytes() == b"hello"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["top"]


# ---- LJSpeech ----------------------------------------------------------------------------


def _wav_bytes(seconds: float = 0.5, rate: int = 22050, channels: int = 1, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.3 * np.sin(2 * np.pi * (150 + 50 * seed) * t) + 0.01 * rng.standard_normal(t.size)
    if channels > 1:
        audio = np.stack([audio] * channels, axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, audio.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


LJ_IDS = [f"LJ001-{i:04d}" for i in range(1, 13)]


def _ljspeech_archive() -> bytes:
    """An LJSpeech-1.1-shaped tar.bz2: metadata.csv (3 columns), README, wavs/."""
    metadata = "".join(
        f"{i}|Sentence {n}, raw.|Sentence {n}, normalised.\n" for n, i in enumerate(LJ_IDS)
    )
    members = [("LJSpeech-1.1/metadata.csv", metadata.encode()), ("LJSpeech-1.1/README", b"r")]
    members += [
        (f"LJSpeech-1.1/wavs/{i}.wav", _wav_bytes(0.4, seed=n)) for n, i in enumerate(LJ_IDS)
    ]
    return _tar(members)


def _filelist(ids: list[str]) -> bytes:
    return "".join(f"DUMMY/{i}.wav|text of {i}\n" for i in ids).encode()


def _serve_ljspeech(server: _Server) -> tuple[str, str, int]:
    data = _ljspeech_archive()
    server.files["/data/LJSpeech-1.1.tar.bz2"] = data
    lists = {"train": LJ_IDS[:8], "val": LJ_IDS[8:10], "test": LJ_IDS[10:]}
    for name, ids in lists.items():
        server.files[f"/filelists/{ljspeech.FILELISTS[name]}"] = _filelist(ids)
    return f"{server.url}/data/LJSpeech-1.1.tar.bz2", hashlib.sha256(data).hexdigest(), len(data)


def test_ljspeech_download_extract_and_tacotron2_split(server, tmp_path, capsys):
    url, sha, size = _serve_ljspeech(server)
    out = tmp_path / "lj"
    args = ["corpus", "ljspeech", str(out), "--url", url, "--sha256", sha, "--size", str(size)]
    args += ["--filelists-url", f"{server.url}/filelists"]
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert "8 train / 2 val / 2 test (tacotron2 split)" in printed
    assert (out / "downloads/LJSpeech-1.1.tar.bz2").is_file()
    view = out / "corpus"
    assert (view / "wavs").is_symlink() and (view / "wavs" / "LJ001-0001.wav").is_file()
    rows = (view / "metadata.csv").read_text().splitlines()
    assert len(rows) == 10 and all(r.count("|") == 2 for r in rows)
    assert (view / "val_ids.txt").read_text().split() == LJ_IDS[8:10]
    assert (out / "test.txt").read_text().splitlines() == [
        "LJ001-0011|Sentence 10, normalised.",
        "LJ001-0012|Sentence 11, normalised.",
    ]
    meta = json.loads((out / "split.json").read_text())
    assert meta["source"] == "tacotron2" and meta["fell_back"] is False

    # A rerun reuses everything and keeps the split, even with the lists gone.
    server.files.clear()
    assert cli_main(args) == 0
    assert "keeping the existing tacotron2 split" in capsys.readouterr().out
    assert (out / "test_ids.txt").read_text().split() == LJ_IDS[10:]


def test_ljspeech_archive_with_wrong_checksum_is_refused(server, tmp_path, capsys):
    url, _, size = _serve_ljspeech(server)
    out = tmp_path / "lj"
    assert cli_main(["corpus", "ljspeech", str(out), "--url", url, "--sha256", "ab" * 32]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "corrupt" in err
    assert not any((out / "downloads").iterdir())


def test_existing_folder_and_offline_filelists_fall_back_to_a_seeded_split(tmp_path, capsys):
    source = tmp_path / "LJSpeech-1.1"
    (source / "wavs").mkdir(parents=True)
    (source / "metadata.csv").write_text("".join(f"{i}|t {i}|n {i}\n" for i in LJ_IDS))
    for i in LJ_IDS:
        (source / "wavs" / f"{i}.wav").write_bytes(_wav_bytes(0.3))
    out = tmp_path / "lj"
    args = ["corpus", "ljspeech", str(out), "--source", str(source)]
    assert cli_main([*args, "--filelists-url", closed_port_url()]) == 0
    printed = capsys.readouterr().out
    assert "FELL BACK to a seeded random split (seed 0)" in printed
    assert "seeded fallback split" in printed
    meta = json.loads((out / "split.json").read_text())
    assert meta["fell_back"] is True and meta["sizes"] == {"train": 10, "val": 1, "test": 1}
    # The link points at the existing folder, which is not copied.
    assert (out / "corpus" / "wavs").resolve() == (source / "wavs").resolve()
    assert not (out / ljspeech.LJSPEECH_DIR).exists()


def test_seeded_fallback_has_the_standard_sizes_and_is_reproducible(tmp_path, server):
    ids = [f"LJ{i // 1000:03d}-{i % 1000:04d}" for i in range(13_100)]
    # The lists are "unavailable": the server answers 404.
    split = ljspeech.tacotron2_split(ids, tmp_path / "lists", base_url=server.url, seed=3)
    assert split.fell_back and split.source == "seeded"
    assert split.sizes() == {"train": 12_500, "val": 100, "test": 500}
    assert "FELL BACK" in split.note and "12500 / 100 / 500" in split.note
    assert "not comparable with published" in split.note
    again = ljspeech.seeded_split(ids, seed=3)
    assert (again.train, again.val, again.test) == (split.train, split.val, split.test)
    assert ljspeech.seeded_split(ids, seed=4).test != split.test
    assert not set(split.train) & set(split.test) and not set(split.val) & set(split.test)


def test_filelists_not_matching_the_corpus_fall_back(server, tmp_path):
    for n, name in enumerate(ljspeech.SPLITS):
        server.files[f"/f/{ljspeech.FILELISTS[name]}"] = _filelist([f"LJ050-000{n}"])
    split = ljspeech.tacotron2_split(LJ_IDS, tmp_path, base_url=f"{server.url}/f")
    assert split.fell_back and "no utterance of the Tacotron 2 train/val/test" in split.note


# ---- custom corpora ----------------------------------------------------------------------


def test_custom_check_reports_bad_lines_and_rates_and_keeps_good_ones(tmp_path, capsys):
    corpus = tmp_path / "mine"
    wavs = corpus / "wavs"
    wavs.mkdir(parents=True)
    (wavs / "good1.wav").write_bytes(_wav_bytes(1.0))
    (wavs / "good2.wav").write_bytes(_wav_bytes(1.0, rate=44100))
    (wavs / "st.wav").write_bytes(_wav_bytes(1.0, channels=2))
    (wavs / "low.wav").write_bytes(_wav_bytes(1.0, rate=16000))
    (wavs / "short.wav").write_bytes(_wav_bytes(0.1))
    (wavs / "broken.wav").write_bytes(b"RIFF not really a wav")
    (wavs / "empty.wav").write_bytes(_wav_bytes(1.0))
    lines = [
        "good1|Hello there.|Hello there.",
        "good2|Recorded at forty-four kilohertz.",
        "st|A stereo file.",
        "no separator on this line",
        "empty|",
        "good1|The same id again.",
        "missing|No audio for this one.",
        "low|Sixteen kilohertz.",
        "short|Too short.",
        "broken|Not audio.",
        "../evil|Unsafe id.",
        "",
    ]
    (corpus / "metadata.csv").write_text("\n".join(lines))
    out = tmp_path / "clean"
    assert cli_main(["corpus", "check", str(corpus), str(out)]) == 0
    captured = capsys.readouterr()
    err = captured.err
    for line_no, fragment in [
        (4, "malformed line"),
        (5, "empty transcript"),
        (6, "duplicate id (first on line 1)"),
        (7, "audio not found"),
        (8, "sample rate 16000 Hz is below 22050 Hz"),
        (9, "too short"),
        (10, "unreadable audio"),
        (11, "not a safe file name"),
    ]:
        assert re.search(rf"metadata.csv:{line_no}\b.*{re.escape(fragment)}", err), fragment
    assert "44100 Hz: 1 files (kept, resampled to 22050 Hz" in captured.out
    assert "16000 Hz: 1 files (refused)" in captured.out
    assert "mixes them down to mono" in captured.out
    assert "3 good entries" in captured.out and "8 left out" in captured.out
    rows = (out / "metadata.csv").read_text().splitlines()
    assert rows == [
        "good1|Hello there.|Hello there.",
        "good2|Recorded at forty-four kilohertz.|Recorded at forty-four kilohertz.",
        "st|A stereo file.|A stereo file.",
    ]
    assert (out / "wavs" / "good2.wav").resolve() == (wavs / "good2.wav").resolve()
    assert len((out / "problems.tsv").read_text().splitlines()) == 1 + 8
    assert json.loads((out / "check.json").read_text())["sample_rates"]["16000"] == 1
    # --strict turns any problem into a failure; accepting 16 kHz keeps that file.
    assert cli_main(["corpus", "check", str(corpus), str(out), "--strict"]) == 1
    capsys.readouterr()
    assert cli_main(["corpus", "check", str(corpus), str(out), "--min-sample-rate", "16000"]) == 0
    assert "low|" in (out / "metadata.csv").read_text()


def test_custom_check_reads_path_text_lists_and_prepare_accepts_the_result(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    (audio / "a.wav").write_bytes(_wav_bytes(1.0, seed=1))
    (audio / "b.wav").write_bytes(_wav_bytes(1.2, seed=2))
    listing = tmp_path / "list.txt"
    listing.write_text("audio/a.wav|First one.\naudio/b.wav|Second|extra\nmissing.wav|Gone.\n")
    report = check_corpus(listing, CheckOptions())
    assert [e.id for e in report.good] == ["a"]
    assert [(p.line, p.reason.split(" (")[0]) for p in report.problems] == [
        (2, "more than 2 columns"),
        (3, f"audio not found: {tmp_path / 'missing.wav'}"),
    ]
    out = write_clean_corpus(report, tmp_path / "clean")
    from tts_ebm.data.corpus import read_corpus

    utterances, skipped = read_corpus(out)
    assert [u.id for u in utterances] == ["a"] and not skipped


def test_custom_check_with_nothing_usable_fails_in_one_line(tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text("nothing.wav|No audio.\n")
    assert cli_main(["corpus", "check", str(listing), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("tts-ebm: error: no usable entry")


# ---- copy synthesis, summary ---------------------------------------------------------------


def test_vocode_copies_synthesis_reports_bad_wavs_and_resumes(tmp_path, speech_wav, capsys):
    refs = tmp_path / "refs"
    refs.mkdir()
    shutil.copy(speech_wav, refs / "good.wav")
    (refs / "bad.wav").write_bytes(b"not audio")
    out = tmp_path / "vocoded"
    assert cli_main(["vocode", str(refs), str(out), "--vocoder", "universal"]) == 0
    captured = capsys.readouterr()
    assert "skipped bad.wav" in captured.err
    assert "vocoded 1 wavs with hifigan-universal" in captured.out
    made, _ = sf.read(out / "good.wav")
    ref, rate = sf.read(speech_wav)
    assert rate == 22050 and abs(len(made) - len(ref)) < 256
    # Copy synthesis of real speech with HiFi-GAN follows the recording's energy contour.
    n = min(len(made), len(ref)) // 256 * 256
    energy = [np.log(np.mean(x[:n].reshape(-1, 256) ** 2, axis=1) + 1e-8) for x in (made, ref)]
    assert np.corrcoef(*energy)[0, 1] > 0.9
    assert sorted(p.name for p in out.iterdir()) == ["good.wav"]
    assert cli_main(["vocode", str(refs), str(out), "--vocoder", "griffin-lim"]) == 0
    assert "(1 already there" in capsys.readouterr().out
    assert cli_main(["vocode", str(refs), str(refs)]) == 2


def _evaluate_summary(mcd: float, wer: float) -> dict:
    stats = {"mean": mcd, "ci95": 0.1, "std": 0.3, "n": 3, "ci95_low": 0, "ci95_high": 1}
    return {
        "utterances": 3,
        "pairs": 3,
        "metrics": {
            "mcd_db": stats,
            "mos_synth": {**stats, "mean": 3.5},
            "mos_ref": {**stats, "mean": 4.2},
        },
        "corpus": {
            "sphinx_synth": {"wer": wer, "cer": wer / 2, "words": 30, "utterances": 3},
            "sphinx_ref": {"wer": 0.1, "cer": 0.05, "words": 30, "utterances": 3},
        },
        "config": {"sample_rate": 22050},
    }


def test_summary_table_orders_systems_and_lists_stage_times(tmp_path, capsys):
    for name, mcd in [("delta-k10", 7.0), ("vocoded", 3.0), ("delta-k4", 6.0), ("ssm-k1", 6.5)]:
        (tmp_path / "eval" / name).mkdir(parents=True)
        (tmp_path / "eval" / name / "summary.json").write_text(
            json.dumps(_evaluate_summary(mcd, 0.3))
        )
    (tmp_path / "timings.tsv").write_text("0-data\t5\tx\n2-train\t90\tx\n2-train\t300\tx\n")
    assert [r.name for r in collect_results(tmp_path)] == [
        "recordings",
        "vocoded",
        "delta-k4",
        "delta-k10",
        "ssm-k1",
    ]
    assert cli_main(["recipe", "summary", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("| system"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "system",
        "n",
        "mcd_db",
        "mos",
        "sphinx_wer",
        "sphinx_cer",
    ]
    assert re.search(r"\| recordings +\| 3 +\| – +\| 4\.200", text)
    assert re.search(r"\| 2-train +\| 5\.0 min", text) and "| total" in text
    numbers = json.loads((tmp_path / "summary.json").read_text())
    assert numbers["systems"]["delta-k4"]["mcd_db"] == 6.0
    assert summarize(tmp_path) == (tmp_path / "summary.md").read_text()


def _comparison_experiment(exp: Path) -> None:
    """Three criteria under a shared prior (μ once, as delta-k0): delta timed and logged,
    flow timed and trained before step times were logged, nce neither."""
    mcds = {"vocoded": 3.0, "delta-k0": 8.0, "delta-k1": 6.0, "delta-k4": 5.0}
    mcds |= {"flow-k2": 5.5, "nce-k1": 7.0}
    for name, mcd in mcds.items():
        (exp / "eval" / name).mkdir(parents=True)
        (exp / "eval" / name / "summary.json").write_text(json.dumps(_evaluate_summary(mcd, 0.3)))
    rtfs = {"delta-k0": 0.002, "delta-k1": 0.004, "delta-k4": 0.012, "flow-k2": 0.02}
    for name, rtf in rtfs.items():
        (exp / "synth" / name).mkdir(parents=True)
        (exp / "synth" / name / "timing.json").write_text(json.dumps({"acoustic_rtf": rtf}))
    for version, seconds in (("0", ["0.5", "", "0.7"]), ("1", ["0.6", "0.9", "10.0"])):
        csv_dir = exp / "runs/delta/csv" / f"version_{version}"
        csv_dir.mkdir(parents=True)
        rows = [f"{step},{value},1.0" for step, value in enumerate(seconds)]
        (csv_dir / "metrics.csv").write_text(
            "\n".join(["step,train/step_seconds,train/loss", *rows])
        )
    (exp / "runs/flow").mkdir(parents=True)
    (exp / "runs/flow/config.yaml").write_text("trainer:\n  max_steps: 200\n")
    lines = ["2-train\t400\tx", "train-flow\t100\tx", "train-delta\t999\tx", "train-flow\t50\tx"]
    (exp / "timings.tsv").write_text("\n".join(lines) + "\n")


def _cells(text: str, system: str) -> dict[str, str]:
    header = next(line for line in text.splitlines() if line.startswith("| system"))
    row = next(line for line in text.splitlines() if line.startswith(f"| {system} "))
    names, values = ([c.strip() for c in line.strip("|").split("|")] for line in (header, row))
    return dict(zip(names, values, strict=True))


def test_summary_gives_each_system_its_acoustic_rtf_and_its_criterion_s_training_speed(tmp_path):
    _comparison_experiment(tmp_path)
    text = summarize(tmp_path)
    # delta: the median of its five logged step times over both versions (0.5 0.6 0.7 0.9 10).
    delta = _cells(text, "delta-k4")
    assert (delta["mcd_db"], delta["acoustic_rtf"], delta["train_s_per_step"]) == (
        "5.000",
        "0.012",
        "0.700",
    )
    assert _cells(text, "delta-k1")["train_s_per_step"] == "0.700"
    # flow logged none: (100 + 50) s of its two timing lines over max_steps 200, marked.
    assert _cells(text, "flow-k2")["train_s_per_step"] == "0.750†"
    assert "† the run logged no step times" in text and "trainer.max_steps" in text
    assert re.search(r"\| total +\| 6\.7 min", text)  # 2-train's 400 s; its units are inside
    nce = _cells(text, "nce-k1")
    assert nce["acoustic_rtf"] == nce["train_s_per_step"] == "–"
    assert _cells(text, "vocoded")["train_s_per_step"] == "–"
    numbers = json.loads((tmp_path / "summary.json").read_text())
    assert numbers["systems"]["delta-k0"]["acoustic_rtf"] == 0.002
    assert numbers["systems"]["delta-k4"]["train_s_per_step"] == 0.7
    assert "acoustic_rtf" not in numbers["systems"]["nce-k1"]
    assert numbers["training"] == {
        "delta": {"seconds_per_step": 0.7, "measured": True},
        "flow": {"seconds_per_step": 0.75, "measured": False},
    }


def test_by_steps_tables_put_each_criterion_on_a_row_and_each_k_in_a_column(tmp_path):
    _comparison_experiment(tmp_path)
    text = summarize(tmp_path)
    section = text[text.index("## By steps") :]
    mcd = section[section.index("MCD (dB):") : section.index("WER (PocketSphinx):")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in mcd.splitlines()]
    rows = [row for row in rows if len(row) > 1 and not set(row[0]) <= {"-"}]
    assert rows == [
        ["criterion", "K = 0", "K = 1", "K = 2", "K = 4"],
        ["delta", "8.000", "6.000", "–", "5.000"],  # every row starts at the shared μ
        ["flow", "8.000", "–", "5.500", "–"],
        ["nce", "8.000", "7.000", "–", "–"],
    ]
    assert "predicted MOS (DistillMOS):" in section


def test_a_side_by_side_benchmark_replaces_each_run_s_own_rtf(tmp_path):
    _comparison_experiment(tmp_path)
    rows = [
        {"decoder": decoder, "steps": k, "batch_size": batch, "rtf": rtf}
        for batch, scale in ((1, 10.0), (16, 1.0))
        for decoder, k, rtf in (("ebm", 0, 0.01), ("ebm", 1, 0.03), ("euler", 2, 0.05))
        for rtf in [rtf * scale]
    ]
    rows.append({"decoder": "ebm", "steps": 4})  # a row without its times is passed over
    (tmp_path / "acoustic_benchmark.json").write_text(json.dumps({"acoustic": rows}))
    text = summarize(tmp_path)
    # The largest batch; every EBM criterion at its K, the flow at its Euler steps, none untimed.
    assert _cells(text, "delta-k1")["benchmark_rtf"] == _cells(text, "nce-k1")["benchmark_rtf"]
    assert _cells(text, "nce-k1")["benchmark_rtf"] == "0.030"
    assert _cells(text, "flow-k2")["benchmark_rtf"] == "0.050"
    assert _cells(text, "delta-k4")["benchmark_rtf"] == "–"  # K = 4 was not benchmarked
    assert "acoustic_rtf" not in text and "(batch 16; flow: Euler steps" in text
    numbers = json.loads((tmp_path / "summary.json").read_text())
    assert numbers["systems"]["delta-k0"]["benchmark_rtf"] == 0.01


def test_comparison_figure_has_a_panel_per_metric_against_steps_and_against_rtf(tmp_path):
    _comparison_experiment(tmp_path)
    summarize(tmp_path)
    results = collect_results(tmp_path)
    rtfs = {r.name: rtf for r in results if (rtf := acoustic_rtf(tmp_path, r.name)) is not None}
    curves = comparison_curves(results, rtfs)
    assert list(curves) == ["mcd_db", "sphinx_wer", "mos"]
    # Every line starts at the shared prior μ (delta-k0); nce-k1, untimed, is kept against K.
    assert curves["mcd_db"] == {
        "delta": [(0, 0.002, 8.0), (1, 0.004, 6.0), (4, 0.012, 5.0)],
        "flow": [(0, 0.002, 8.0), (2, 0.02, 5.5)],
        "nce": [(0, 0.002, 8.0), (1, None, 7.0)],
    }
    references = {r.name: r.metrics for r in results if r.name in ("recordings", "vocoded")}
    labels = {metric: HEADLINES[metric] for metric in curves}
    figure = plots.comparison_figure(curves, labels, references)
    top, bottom = figure.axes[:3], figure.axes[3:]
    assert [a.get_ylabel() for a in top] == [a.get_ylabel() for a in bottom]
    assert [a.get_ylabel() for a in top] == ["MCD (dB)", "WER (PocketSphinx)", HEADLINES["mos"]]
    assert {a.get_xlabel() for a in top} == {"steps K (0 = the prior μ)"}
    assert {a.get_xlabel() for a in bottom} == {"acoustic model RTF"}
    mcd_lines = {
        line.get_label(): np.asarray(line.get_ydata()).tolist() for line in top[0].get_lines()
    }
    assert mcd_lines["delta"] == [8.0, 6.0, 5.0] and mcd_lines["vocoded"] == [3.0, 3.0]
    assert "recordings" not in mcd_lines  # the recordings have no MCD; their MOS has a line
    assert {line.get_label() for line in top[2].get_lines()} >= {"recordings", "vocoded"}
    rtf_lines = [np.asarray(line.get_xdata()).tolist() for line in bottom[0].get_lines()]
    assert rtf_lines[:3] == [[0.002, 0.004, 0.012], [0.002, 0.02], [0.002]]
    # The file summarize wrote is this figure: 3 panels wide, 2 high, at 100 dpi.
    width, height = (figure.get_size_inches() * 100).round()
    assert _png_size(tmp_path / "comparison.png") == (width, height) == (1260, 680)


def _learning_curve_experiment(exp: Path) -> None:
    """delta and flow trained on to 1,000 and 2,000 steps (``--budgets``): μ once, as
    delta@1000-k0; each budget's teacher-forced table; delta logged 0.9 s a step, flow 0.45."""
    mcds = {"vocoded": 3.0, "delta@1000-k0": 8.0, "delta@1000-k1": 6.0, "delta@2000-k1": 5.0}
    mcds |= {"flow@1000-k2": 7.0, "flow@2000-k2": 5.5, "flow@2000-k10": 5.2}
    for name, mcd in mcds.items():
        (exp / "eval" / name).mkdir(parents=True)
        (exp / "eval" / name / "summary.json").write_text(json.dumps(_evaluate_summary(mcd, 0.3)))
    for criterion, seconds in (("delta", 0.9), ("flow", 0.45)):
        csv_dir = exp / "runs" / criterion / "csv/version_0"
        csv_dir.mkdir(parents=True)
        (csv_dir / "metrics.csv").write_text(f"step,train/step_seconds\n1,{seconds}\n2,{seconds}\n")
    tables = {
        "delta@1000": {"prior": 0.2, "best": {"1": {"step_size": 1.0, "mse": 0.1}}},
        "flow@2000": {"prior": 0.2, "best": {"2": {"temperature": 0.0, "mse": 0.08}}},
    }
    for system, table in tables.items():
        (exp / "runs" / system).mkdir(parents=True)
        (exp / "runs" / system / "step_sizes.json").write_text(json.dumps(table))


def test_learning_curves_tabulate_each_system_by_budget_with_its_training_hours(tmp_path):
    _learning_curve_experiment(tmp_path)
    text = summarize(tmp_path)
    # The criterion's one run gives every budget its training speed.
    assert _cells(text, "delta@2000-k1")["train_s_per_step"] == "0.900"
    assert _cells(text, "flow@1000-k2")["train_s_per_step"] == "0.450"
    section = text[text.index("## By training budget") :]
    mcd = section[section.index("MCD (dB):") : section.index("WER (PocketSphinx):")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in mcd.splitlines()]
    rows = [row for row in rows if len(row) > 1 and not set(row[0]) <= {"-"}]
    assert rows == [
        ["system", "steps = 1000", "steps = 2000"],
        ["delta-k1", "6.000", "5.000"],  # μ (K = 0) is a reference, not a curve
        ["flow-k2", "7.000", "5.500"],
        ["flow-k10", "–", "5.200"],
    ]
    curves = budget_curves(collect_results(tmp_path), {"delta": TrainSpeed(0.9, measured=True)})
    assert curves["mcd_db"]["delta-k1"] == [(1000, 0.25, 6.0), (2000, 0.5, 5.0)]
    assert curves["mcd_db"]["flow-k2"] == [(1000, None, 7.0), (2000, None, 5.5)]
    tuned = text[text.index("## Teacher-forced") :]
    assert re.search(r"\| delta@1000 +\| 0\.200 +\| 0\.100 +\| – +\|", tuned)
    assert re.search(r"\| flow@2000 +\| 0\.200 +\| – +\| 0\.080 +\|", tuned)
    assert _png_size(tmp_path / "budgets.png") == (1260, 680)


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, from its header."""
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


# ---- the egs/ chains ---------------------------------------------------------------------


def run_script(script: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(REPO / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_unknown_option_and_help(tmp_path):
    result = run_script("egs/festival/run.sh", "--bogus")
    assert result.returncode == 2 and "unknown option: --bogus" in result.stderr
    result = run_script("egs/ljspeech/run.sh", "--help")
    assert result.returncode == 0 and "--stop-stage" in result.stdout


def test_a_failing_command_is_reported_with_its_own_exit_status(tmp_path):
    script = tmp_path / "run.sh"
    script.write_text(
        "set -euo pipefail\n"
        f'source "{REPO}/egs/common/pipeline.sh"\n'
        "pipeline_defaults\n"
        "sh -c 'exit 2'\n"
    )
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "run.sh: failed (exit 2) at line 4: sh -c 'exit 2'" in result.stderr


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, float]:
    exp = tmp_path_factory.mktemp("smoke") / "exp"
    start = time.monotonic()
    result = run_script("egs/festival/run.sh", "--smoke", "--exp", str(exp))
    return exp, result, time.monotonic() - start


@pytest.mark.festival
@needs_festival
def test_festival_smoke_chain_runs_every_stage(smoke):
    exp, result, seconds = smoke
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stage in range(8):
        assert f"stage {stage}:" in result.stdout
    summary = (exp / "summary.md").read_text()
    for system in ("vocoded", "delta-k0", "delta-k1", "flow-k1"):
        assert re.search(rf"\| {system} +\| 3 +\| \d", summary), system
    assert "| 2-train" in summary and "| total" in summary
    # Synthesis times from one side-by-side benchmark: delta at K = 0, 1, the flow at 1 Euler step.
    timed = json.loads((exp / "acoustic_benchmark.json").read_text())["acoustic"]
    assert {(r["decoder"], r["steps"]) for r in timed} >= {("ebm", 0), ("ebm", 1), ("euler", 1)}
    for system in ("delta-k1", "flow-k1"):
        assert float(_cells(summary, system)["benchmark_rtf"]) > 0, system
    # Trained side by side, one timing line each; the flow decoder is what its run exported.
    timings = (exp / "timings.tsv").read_text()
    assert "train-delta\t" in timings and "train-flow\t" in timings
    flow = load_inference_checkpoint(exp / "runs/flow/model.safetensors")
    assert flow.model.energy_config.form == "flow"
    tuned = json.loads((exp / "runs/delta/step_sizes.json").read_text())
    assert tuned["grid"] == [0.5, 1.0] and set(tuned["best"]) == {"1"}
    # The flow is tuned alike: its temperature τ per number of Euler steps.
    flow_tuned = json.loads((exp / "runs/flow/step_sizes.json").read_text())
    assert set(flow_tuned["best"]) == {"1"} and "temperature" in flow_tuned["best"]["1"]
    manifest = json.loads((exp / "listening/mushra/test.json").read_text())
    assert set(manifest["systems"]) >= {"delta", "flow", "vocoded"}
    assert len(list((exp / "synth/vocoded").glob("*.wav"))) == 3
    print(f"smoke chain: {seconds:.0f} s")


@pytest.mark.festival
@needs_festival
def test_festival_smoke_rerun_skips_finished_work_and_failures_stop_the_script(smoke):
    exp, first, _ = smoke
    assert first.returncode == 0
    start = time.monotonic()
    again = run_script("egs/festival/run.sh", "--smoke", "--exp", str(exp))
    assert again.returncode == 0, again.stderr[-3000:]
    for unit in ("festival-corpus", "statistics", "train-delta", "synth-flow-k1", "eval-vocoded"):
        assert f"{unit}: done before, skipped" in again.stdout
    assert time.monotonic() - start < 120
    failed = run_script(
        "egs/festival/run.sh",
        "--smoke",
        "--exp",
        str(exp),
        "--stage",
        "2",
        "--stop-stage",
        "2",
        "--criteria",
        "no_such_criterion",
    )
    assert failed.returncode != 0
    assert "FAILED" in failed.stderr and "bad training config" in failed.stderr
    assert "stage 3:" not in failed.stdout


def _ljspeech_from_festival(corpus: Path, dest: Path) -> Path:
    """An LJSpeech-1.1-shaped folder (metadata.csv with 3 columns, wavs/) of festival audio."""
    (dest / "wavs").mkdir(parents=True)
    rows = (corpus / "metadata.csv").read_text().splitlines()
    assert rows and all(row.count("|") == 2 for row in rows)
    (dest / "metadata.csv").write_text("\n".join(rows) + "\n")
    for row in rows:
        utt = row.split("|")[0]
        shutil.copy(corpus / "wavs" / f"{utt}.wav", dest / "wavs" / f"{utt}.wav")
    return dest


def _ljspeech_chain(
    smoke, tmp_path, criteria: str, *extra: str
) -> tuple[Path, subprocess.CompletedProcess]:
    exp_smoke, result, _ = smoke
    assert result.returncode == 0
    source = _ljspeech_from_festival(exp_smoke / "data/corpus", tmp_path / "LJSpeech-1.1")
    exp = tmp_path / "exp"
    result = run_script(
        "egs/ljspeech/run.sh",
        "--ljspeech", str(source),
        "--data", str(tmp_path / "data"),
        "--exp", str(exp),
        "--filelists-url", closed_port_url(),
        "--criteria", criteria,
        "--model", "tiny",
        "--max-steps", "10",
        "--batch-size", "8",
        "--steps", "0 1",
        "--vocoder", "griffin-lim",
        "--metrics", "mcd,f0",
        "--eval-args", "--f0-method dio",
        "--train-args", "data.num_workers=0 trainer.val_every_steps=1000000 "
        "trainer.checkpoint_every_steps=10 trainer.val_media=0 trainer.vocoder=griffin-lim",
        *extra,
    )  # fmt: skip
    return exp, result


@pytest.mark.festival
@needs_festival
def test_ljspeech_chain_on_an_ljspeech_shaped_folder(smoke, tmp_path):
    """Also the comparison's shared prior: the smoke's delta encoder, frozen, under a new energy,
    and a learning curve: one run trained on to 5 and then 10 steps, each budget a system."""
    prior = smoke[0] / "runs/delta/model.safetensors"
    exp, result = _ljspeech_chain(
        smoke, tmp_path, "delta", "--prior", str(prior), "--budgets", "5 10"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "resume: from" in (exp / "logs/train-delta@10.log").read_text()
    budgets = [
        load_inference_checkpoint(exp / f"runs/delta@{b}/model.safetensors") for b in (5, 10)
    ]
    energies = [b.model.energy.state_dict() for b in budgets]
    assert any(not torch.equal(energies[0][name], t) for name, t in energies[1].items())
    runs = (prior, exp / "runs/delta@10/model.safetensors")
    shared, trained = (load_inference_checkpoint(path).model for path in runs)
    for name, tensor in shared.encoder.state_dict().items():
        assert torch.equal(trained.encoder.state_dict()[name], tensor), name
    # μ of the frozen prior is in its own normalisation: the run takes its statistics.
    stats = [load_inference_checkpoint(path).stats for path in runs]
    assert stats[0] == stats[1]
    prepared = json.loads((exp / "prepared/stats.json").read_text())
    assert prepared["mel_mean"] != stats[0].mean
    log = (exp / "logs/train-delta@5.log").read_text()
    n_energy = len(shared.energy.state_dict())
    assert re.search(rf"tensors loaded, {n_energy} start fresh \(energy\.", log)
    assert "FELL BACK to a seeded random split" in result.stdout  # offline: said, not hidden
    split = json.loads((tmp_path / "data/split.json").read_text())
    assert split["sizes"] == {"train": 9, "val": 1, "test": 1}
    test_ids = (exp / "data/test_ids.txt").read_text().split()
    prepared = (exp / "prepared/train.jsonl").read_text() + (exp / "prepared/val.jsonl").read_text()
    assert test_ids and not any(i in prepared for i in test_ids)  # test never trained on
    summary = (exp / "summary.md").read_text()
    for system in ("delta@5-k0", "delta@5-k1", "delta@10-k1"):
        assert re.search(rf"\| {system} +\| 1 +\| \d", summary), system
    assert "## By training budget" in summary and (exp / "budgets.png").is_file()
    assert (exp / "listening/mushra/test.json").is_file()


@pytest.mark.slow
@pytest.mark.festival
@needs_festival
def test_ljspeech_chain_trains_every_criterion(smoke, tmp_path):
    exp, result = _ljspeech_chain(smoke, tmp_path, "delta ssm sance nce cd")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = (exp / "summary.md").read_text()
    for crit in ("delta", "ssm", "sance", "nce", "cd"):
        assert re.search(rf"\| {crit}-k1 +\| 1 +\| \d", summary), crit

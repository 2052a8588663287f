"""`tts-ebm benchmark`: every benchmark reachable, training and synthesis at tiny size, their JSON,
and the pieces they rely on."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from tts_ebm.benchmarks.common import time_interleaved
from tts_ebm.benchmarks.file_memory import N_SENTENCES, file_memory, sentence_lines
from tts_ebm.benchmarks.synthesis_acoustic import fit_durations, passage
from tts_ebm.benchmarks.training import parse_frames
from tts_ebm.benchmarks.vocoder_runtimes import snr_db
from tts_ebm.cli import main
from tts_ebm.vocoder.runtime import cpu_has_native_bf16

# One thread: on a loaded 2-core machine two threads that wait for each other are far noisier.
TINY = ["--model", "tiny", "--threads", "1"]


def run_benchmark(tmp_path, *args: str) -> dict:
    out = tmp_path / "result.json"
    assert main(["benchmark", *args, *TINY, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_training_benchmark_reports_speed_memory_and_mas_share(tmp_path, capsys):
    result = run_benchmark(
        tmp_path, "training", "--batch-size", "2", "--frames", "64", "--steps", "1"
    )
    assert "MAS share" in capsys.readouterr().out
    assert result["benchmark"] == "training"
    assert result["batch"]["batch_size"] == 2 and result["batch"]["padded_frames"] == 64
    assert len(result["step_seconds"]) == 1
    for key in (
        "seconds_per_step",
        "cpu_seconds_per_step",
        "steps_per_second",
        "frames_per_second",
    ):
        assert result[key] > 0
    assert result["peak_memory_bytes"] >= 0 and result["memory_method"]
    assert set(result["breakdown"]) == {
        "encoder",
        "mas",
        "objective",
        "backward",
        "optimizer",
        "other",
    }
    for name in ("encoder", "mas", "objective", "backward", "optimizer"):
        assert result["breakdown"][name]["seconds"] > 0
    assert 0 < result["mas_share"] < 1
    assert result["mas_target"]["applies"] is False  # set for the default size at batch 32


def test_synthesis_benchmark_reports_rtf_baseline_and_vocoder(tmp_path, capsys):
    result = run_benchmark(
        tmp_path,
        "synthesis",
        "--sections",
        "acoustic",
        "--seconds",
        "1",
        "--steps-list",
        "0,1,4,8",
        "--batch-sizes",
        "1,2",
        "--vocoder",
        "griffin-lim",
        # Two timed runs, no warm-up: the fastest of two still orders K = 8 above K = 0.
        "--repeats",
        "2",
        "--warmup",
        "0",
    )
    assert "EBM (K steps) / Euler" in capsys.readouterr().out
    assert result["frames"] == round(22050 / 256)
    rows = {(r["decoder"], r["batch_size"], r["steps"]): r for r in result["acoustic"]}
    expected = {("ebm", b, k) for b in (1, 2) for k in (0, 1, 4, 8)}
    expected |= {("euler", b, k) for b in (1, 2) for k in (0, 1, 4, 8, 10)}
    assert set(rows) == expected
    for row in result["acoustic"] + result["vocoder"]:
        assert row["seconds"] > 0 and row["cpu_seconds"] > 0 and row["rtf"] > 0
        assert row["peak_memory_bytes"] >= 0
        assert row["rtf"] == pytest.approx(
            row["seconds"] / (row["batch_size"] * result["audio_seconds"])
        )
    for batch_size in (1, 2):
        # More work takes longer; the fastest of the repeats is the least disturbed by load.
        eight = min(rows[("ebm", batch_size, 8)]["seconds_all"])
        assert eight > min(rows[("ebm", batch_size, 0)]["seconds_all"])
    assert [v["batch_size"] for v in result["vocoder"]] == [1, 2]
    assert {(r["batch_size"], r["steps"]) for r in result["pipeline"]} == {
        (b, k) for b in (1, 2) for k in (0, 1, 4, 8)
    }
    ratios = result["ratios"]
    assert [(r["batch_size"], r["ebm_steps"], r["euler_steps"]) for r in ratios] == [
        (b, k, 10) for b in (1, 2) for k in (1, 4)
    ]
    assert all(r["ratio"] > 0 for r in ratios)
    assert result["output_shapes"] == {"ebm": [2, 80, 86], "euler": [2, 80, 86]}
    # The CPU targets are printed, but flagged: they are set for the default model and 10 s.
    assert result["targets"] and not any(t["applies"] for t in result["targets"])
    assert "vocoder_runtimes" not in result and "file_memory" not in result


# The sections below run the default voice; their settings are the shortest that still measure.
SHORT = ["--repeats", "1", "--warmup", "0", "--seconds", "1"]


def test_synthesis_benchmark_compares_vocoder_runtimes_with_the_reference(tmp_path, capsys):
    result = run_benchmark(tmp_path, "synthesis", "--sections", "vocoders", *SHORT)
    assert "vocoder runtimes on one mel" in capsys.readouterr().out
    section = result["vocoder_runtimes"]
    rows = {row["name"]: row for row in section["runtimes"]}
    expected = {"reference", "torch", "cpu-fp32"}
    expected |= {"cpu-bf16"} if cpu_has_native_bf16() else set()
    expected |= {"onnx-cpu"} if importlib.util.find_spec("onnxruntime") else set()
    assert set(rows) == expected
    assert len(rows) + len(section["skipped"]) == 5  # each one not run is said why
    assert section["default_runtime"] in rows and section["threads"] == 1
    assert rows["reference"]["speedup"] == 1.0 and rows["reference"]["snr_db"] is None
    for name, row in rows.items():
        assert row["seconds"] > 0 and row["cpu_seconds"] > 0 and row["first_call_seconds"] > 0
        if name != "reference":
            # float32 rounding is ~1e-6 of full scale; bf16 stages keep ~40 dB.
            assert row["snr_db"] > (30 if name == "cpu-bf16" else 80)
    default = f"vocoder {section['default_runtime']} (default) vs reference"
    names = {t["name"] for t in result["targets"]}
    assert {f"{default}, 1 thread: × speed", f"{default}: SNR dB"} <= names


def test_synthesis_benchmark_streams_and_times_the_whole_pipeline(tmp_path):
    # Griffin-Lim keeps it short; the chunking of HiFi-GAN streams is pinned by test_synthesis.
    result = run_benchmark(
        tmp_path, "synthesis", "--sections", "stream,pipeline", "--vocoder", "griffin-lim", *SHORT
    )
    stream = result["streaming"]
    assert stream["sentences"] == 6 and stream["audio_seconds"] > 10
    assert stream["join_same_length"] and stream["join_max_abs_difference"] == 0
    assert 0 < stream["first_chunk_seconds"] < stream["stream"]["seconds"]
    assert 0 < stream["first_chunk_ratio"] < 1
    pipeline = result["pipeline_rtf"]
    assert [row["threads"] for row in pipeline["threads"]] == [1, 2]
    for row in pipeline["threads"]:
        assert row["rtf"] == pytest.approx(row["seconds"] / pipeline["audio_seconds"])
        assert row["acoustic_seconds"] > 0 and row["vocoder_seconds"] > 0
        assert row["acoustic_seconds"] + row["vocoder_seconds"] <= row["seconds"]
    targets = {t["name"]: t for t in result["targets"]}
    assert targets["stream chunks joined vs synthesize(): max |difference|"]["passed"]


def test_interleaved_rounds_rotate_the_order():
    calls: list[str] = []
    contenders = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    timings = time_interleaved(contenders, torch.device("cpu"), repeats=3, warmup=1)
    assert "".join(calls) == "abc" + "abc" + "bca" + "cab"
    assert all(len(t.wall) == len(t.cpu) == 3 for t in timings.values())


def test_snr_of_a_known_error_and_of_identical_audio():
    reference = torch.ones(4)
    assert snr_db(reference, reference.clone()) is None
    # Signal power 4, error power 4 · 0.1²: a ratio of 100, 20 dB.
    noisy = reference + torch.tensor([0.1, -0.1, 0.1, -0.1])
    assert snr_db(reference, noisy) == pytest.approx(20.0)


def test_file_memory_sentences_and_a_failing_command(tmp_path):
    lines, source = sentence_lines(["One.", "Two."])
    assert len(lines) == N_SENTENCES and all(line.strip() for line in lines)
    if source.startswith("the benchmark"):
        assert lines[:3] == ["One.", "Two.", "One."]
    with pytest.raises(OSError, match="exited with 2"):
        file_memory(tmp_path / "missing.safetensors", "griffin-lim", "cpu", 1, ["One."])


@pytest.mark.slow
def test_compiled_energy_network_runs_on_the_cpu(tmp_path):
    """A cold inductor compile of even the tiny network takes minutes on a 2-core CPU."""
    result = run_benchmark(
        tmp_path,
        "synthesis",
        "--sections",
        "acoustic",
        "--compile",
        "--steps-list",
        "1",
        "--batch-sizes",
        "1",
        "--vocoder",
        "none",
        *SHORT,
    )
    (row,) = result["compiled"]
    assert row["steps"] == 1 and row["compiled_seconds"] > 0 and row["first_call_seconds"] > 0


def test_fit_durations_hits_the_frame_count_and_keeps_every_token():
    durations = torch.tensor([[1, 1, 3, 2, 0], [5, 1, 1, 0, 0]])
    fitted = fit_durations(durations, 20)
    assert fitted.sum(dim=1).tolist() == [20, 20]
    assert torch.all(fitted[durations > 0] >= 1) and torch.all(fitted[durations == 0] == 0)
    assert fitted[0, 2] > fitted[0, 0]  # longer predictions stay longer
    with pytest.raises(ValueError):
        fit_durations(durations, 3)


def test_frames_spec_and_passage_length():
    assert parse_frames("400") == (300, 400)
    assert parse_frames("200:400") == (200, 400)
    for bad in ("x", "400:200", "0"):
        with pytest.raises(ValueError):
            parse_frames(bad)
    assert len(passage(10).split()) == 26


def test_every_benchmark_is_a_benchmark_command(capsys):
    from tts_ebm.commands.benchmark import STUDIES

    for name in ["training", "synthesis", *(study[0] for study in STUDIES)]:
        with pytest.raises(SystemExit) as done:
            main(["benchmark", name, "--help"])
        assert done.value.code == 0
        assert f"usage: tts-ebm benchmark {name}" in capsys.readouterr().out


def test_criteria_cost_worker_times_one_criterion(capsys):
    args = ["--worker", "tiny", "delta", "--batch", "2", "--frames", "40", "--steps", "2"]
    assert main(["benchmark", "criteria-cost", *args, "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(result["seconds"]) == 2 and all(s > 0 for s in result["seconds"])
    assert result["peak_mb"] >= 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_gpu_benchmark_refuses_without_cuda(tmp_path, capsys):
    assert main(["benchmark", "gpu", "--json", str(tmp_path / "gpu.json")]) == 2
    assert "no CUDA device" in capsys.readouterr().out
    assert not (tmp_path / "gpu.json").exists()

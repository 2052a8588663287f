"""`tts-ebm benchmark`: both benchmarks at tiny size, their JSON, and the pieces they rely on."""

from __future__ import annotations

import json

import pytest
import torch

from tts_ebm.benchmarks.flow_baseline import FlowDecoder, euler_sample
from tts_ebm.benchmarks.synthesis import fit_durations, passage
from tts_ebm.benchmarks.training import parse_frames
from tts_ebm.cli import main
from tts_ebm.model.energy import EnergyConfig, EnergyNetwork

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
        "--seconds",
        "1",
        "--steps-list",
        "0,1,4,8",
        "--batch-sizes",
        "1,2",
        "--vocoder",
        "griffin-lim",
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


def test_euler_baseline_shape_size_and_padding_invariance():
    config = EnergyConfig.tiny()
    decoder = FlowDecoder(config).eval()
    mu = torch.randn(2, 80, 37)
    mask = torch.ones(2, 1, 37)
    mask[1, :, 30:] = 0
    out = euler_sample(decoder, mu, mask, steps=3, temperature=0.0)
    assert out.shape == (2, 80, 37)
    assert torch.all(out[1, :, 30:] == 0)
    alone = euler_sample(decoder, mu[1:, :, :30], mask[1:, :, :30], steps=3, temperature=0.0)
    torch.testing.assert_close(alone, out[1:, :, :30], atol=1e-5, rtol=1e-5)
    # The same U-Net: only the time conditioning and the 80-channel head are added.
    unet = sum(p.numel() for p in EnergyNetwork(config).parameters())
    extra = sum(p.numel() for n, p in decoder.named_parameters() if n.startswith(("time", "out")))
    assert sum(p.numel() for p in decoder.parameters()) - extra == unet - config.channels[0]


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

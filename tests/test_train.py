"""Training end to end on the toy corpus: it learns, resumes exactly, survives bad steps."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tts_ebm.checkpoint import load_inference_checkpoint
from tts_ebm.sampling import RefineConfig, refine

TOY = ["experiment=toy", "data.toy.n_utterances=120", "data.val_size=8"]


def train_command(run_dir: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "tts_ebm.cli", "train", *TOY, f"run_dir={run_dir}", *overrides]


def run_training(run_dir: Path, *overrides: str, timeout: int = 900):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        train_command(run_dir, *overrides), capture_output=True, text=True, timeout=timeout, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def metrics(run_dir: Path) -> list[dict]:
    """All metrics.csv rows of a run, over resumed versions in order."""
    rows = []
    versions = sorted((run_dir / "csv").glob("version_*"), key=lambda p: int(p.name.split("_")[1]))
    for version in versions:
        with open(version / "metrics.csv") as handle:
            rows += [{k: v for k, v in r.items() if v != ""} for r in csv.DictReader(handle)]
    return rows


def series(rows: list[dict], key: str) -> dict[int, float]:
    return {int(r["step"]): float(r[key]) for r in rows if key in r}


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("toy") / "run"
    os.environ.setdefault("TTS_EBM_CACHE", str(tmp_path_factory.mktemp("cache")))
    run_training(run_dir, "trainer.max_steps=300", "trainer.val_every_steps=50")
    return run_dir


def test_toy_training_learns_and_refinement_beats_prior(toy_run):
    rows = metrics(toy_run)
    prior = series(rows, "val/mse_prior")
    refined = series(rows, "val/mse_refined_1")
    steps = sorted(prior)
    assert len(steps) >= 4
    first, last = steps[0], steps[-1]
    assert prior[last] < 0.8 * prior[first]
    assert refined[last] < 0.8 * refined[first]
    assert refined[last] < prior[last]


def test_scalar_energy_form_trains_and_one_step_beats_the_prior(tmp_path):
    """The toy model's energy is quadratic; the scalar head (the voices' form) must learn too."""
    run_dir = tmp_path / "scalar"
    os.environ.setdefault("TTS_EBM_CACHE", str(tmp_path / "cache"))
    run_training(
        run_dir,
        "trainer.max_steps=200",
        "trainer.val_every_steps=100",
        "model.network.energy.form=scalar",
    )
    rows = metrics(run_dir)
    prior, refined = series(rows, "val/mse_prior"), series(rows, "val/mse_refined_1")
    assert refined[199] < 0.85 * prior[199]
    assert load_inference_checkpoint(run_dir / "model.safetensors").model.energy.config.form == (
        "scalar"
    )


def test_init_from_starts_a_new_energy_head_on_the_trained_encoder(toy_run, tmp_path):
    """The warm-started run's prior is the trained one from its first step (a fresh one is not)."""
    result = run_training(
        tmp_path / "warm",
        f"init_from={toy_run / 'model.safetensors'}",
        "model.network.energy.form=scalar",
        "trainer.max_steps=1",
        "trainer.val_every_steps=1",
    )
    assert "1 start fresh (energy.out.weight)" in result.stdout
    trained = series(metrics(toy_run), "val/mse_prior")
    warm = series(metrics(tmp_path / "warm"), "val/mse_prior")
    assert warm[0] < 1.1 * trained[max(trained)]


@pytest.mark.parametrize("objective", ["delta", "ssm", "sance", "nce", "cd"])
def test_every_criterion_trains_thirty_toy_steps(objective, tmp_path):
    """The criteria issue's check: `tts-ebm train experiment=toy objective=NAME` runs through."""
    run_dir = tmp_path / objective
    os.environ.setdefault("TTS_EBM_CACHE", str(tmp_path / "cache"))
    run_training(
        run_dir, f"objective={objective}", "trainer.max_steps=30", "trainer.val_every_steps=30"
    )
    checkpoint = load_inference_checkpoint(run_dir / "model.safetensors")
    assert checkpoint.info["steps_trained"] == 30
    assert checkpoint.info["objective"]["name"] == objective
    losses = series(metrics(run_dir), "train/loss")
    assert len(losses) >= 3 and all(map(math.isfinite, losses.values()))


def test_run_dir_contents_and_exported_checkpoint(toy_run):
    assert (toy_run / "config.yaml").is_file()
    ckpts = sorted(p.name for p in (toy_run / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and "step=00000300.ckpt" in ckpts
    assert list((toy_run / "tensorboard").glob("events.out.tfevents.*"))
    ckpt = load_inference_checkpoint(toy_run / "model.safetensors")
    assert ckpt.frontend["kind"] == "chars" and ckpt.info["steps_trained"] == 300
    tokens = torch.tensor([ckpt_tokens(ckpt, "la mi.")])
    prior = ckpt.model.prior(tokens, torch.tensor([tokens.shape[1]]))
    assert prior.mu.shape[1] == 80 and prior.mu.shape[2] == int(prior.durations.sum())
    same = refine(ckpt.model.energy, prior.mu, prior.frame_mask, RefineConfig(steps=0))
    assert torch.equal(same, prior.mu)


def ckpt_tokens(ckpt, text: str) -> list[int]:
    from tts_ebm.text import TextFrontend

    return TextFrontend.from_config(ckpt.frontend).process(text).ids


def test_export_command_writes_fp16_checkpoint(toy_run, tmp_path):
    from tts_ebm.cli import main

    out = tmp_path / "half.safetensors"
    assert main(["export", str(toy_run / "checkpoints" / "last.ckpt"), str(out), "--fp16"]) == 0
    full = load_inference_checkpoint(toy_run / "model.safetensors")
    half = load_inference_checkpoint(out)
    assert out.stat().st_size < 0.6 * (toy_run / "model.safetensors").stat().st_size
    a = dict(full.model.named_parameters())["encoder.embedding.weight"]
    b = dict(half.model.named_parameters())["encoder.embedding.weight"]
    assert torch.allclose(a, b, atol=1e-2)
    assert half.inference == full.inference


def test_export_sets_the_default_inference_knobs(toy_run, tmp_path):
    from tts_ebm.cli import main

    out = tmp_path / "tuned.safetensors"
    ckpt = str(toy_run / "checkpoints" / "last.ckpt")
    assert main(["export", ckpt, str(out), "--steps", "4", "--step-size", "0.5"]) == 0
    tuned = load_inference_checkpoint(out).inference
    full = load_inference_checkpoint(toy_run / "model.safetensors").inference
    assert (tuned["steps"], tuned["step_size"]) == (4, 0.5)
    assert tuned["temperature"] == full["temperature"]


def test_export_adds_a_speaking_rate_that_synthesis_then_uses(toy_run, tmp_path, capsys):
    from tts_ebm.cli import main
    from tts_ebm.synthesis import Synthesizer
    from tts_ebm.vocoder import load_vocoder

    out = tmp_path / "rated.safetensors"
    ckpt = str(toy_run / "checkpoints" / "last.ckpt")
    assert main(["export", ckpt, str(out), "--speaking-rate", "0.9"]) == 0
    assert "speaking_rate" not in load_inference_checkpoint(toy_run / "model.safetensors").inference
    synth = Synthesizer(load_inference_checkpoint(out), load_vocoder("griffin-lim"))
    assert synth.options().speaking_rate == 0.9
    assert synth.options(speaking_rate=1.0).speaking_rate == 1.0
    # An inference checkpoint can be rewritten too: its knobs and weights carried over.
    again = tmp_path / "again.safetensors"
    assert main(["export", str(out), str(again), "--steps", "3"]) == 0
    rewritten = load_inference_checkpoint(again)
    assert rewritten.inference == {**load_inference_checkpoint(out).inference, "steps": 3}
    before = load_inference_checkpoint(out).model.state_dict()
    assert all(torch.equal(v, before[k]) for k, v in rewritten.model.state_dict().items())
    refused = ["export", ckpt, str(tmp_path / "refused.safetensors"), "--speaking-rate"]
    assert main([*refused, "0"]) == 2
    assert "speaking_rate" in capsys.readouterr().err


def test_sigkill_then_resume_continues_the_same_curve(tmp_path):
    os.environ.setdefault("TTS_EBM_CACHE", str(tmp_path / "cache"))
    common = (
        "trainer.max_steps=60",
        "trainer.checkpoint_every_steps=20",
        "trainer.log_every_steps=1",
    )
    reference = tmp_path / "reference"
    run_training(reference, *common)

    run_dir = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        train_command(run_dir, *common),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    target = run_dir / "checkpoints" / "step=00000040.ckpt"
    deadline = time.time() + 600
    while not target.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert target.exists()

    run_training(run_dir, *common, "resume=true")
    original = series(metrics(reference), "train/loss")
    resumed = series(metrics(run_dir), "train/loss")
    assert max(resumed) == max(original) == 59  # steps are logged 0-based
    for step in range(45, 60):
        assert resumed[step] == pytest.approx(original[step], rel=1e-4, abs=1e-6)


def test_sigterm_writes_checkpoint_and_exits_143_without_export(tmp_path):
    os.environ.setdefault("TTS_EBM_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "term"
    process = subprocess.Popen(
        train_command(run_dir, "trainer.max_steps=100000", "trainer.checkpoint_every_steps=1000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.time() + 300
    while not list((run_dir / "csv").glob("version_*/hparams.yaml")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 143, output[-3000:]  # 128 + SIGTERM: stopped, not finished
    assert "SIGTERM: checkpoint written" in output
    assert not (run_dir / "model.safetensors").exists()
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert 0 < checkpoint["global_step"] < 100000


def test_two_process_ddp_on_cpu(tmp_path):
    """DDP through Lightning's strategy: two gloo processes train and agree on the weights."""
    os.environ.setdefault("TTS_EBM_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "ddp"
    result = run_training(
        run_dir,
        "trainer.strategy=ddp",
        "trainer.devices=2",
        "trainer.max_steps=6",
        "trainer.val_every_steps=3",
        "trainer.checkpoint_every_steps=3",
        "trainer.val_media=0",
    )
    assert "MEMBER: 2/2" in result.stdout + result.stderr
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 6
    assert load_inference_checkpoint(run_dir / "model.safetensors").info["steps_trained"] == 6


def four_step_trainer(logger=False):
    """Four in-process training steps, no validation, checkpoints or progress bar."""
    import lightning as L

    return L.Trainer(
        max_steps=4,
        accelerator="cpu",
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        use_distributed_sampler=False,
    )


def test_non_finite_loss_skips_the_update_and_training_continues(tmp_path, monkeypatch):
    """A NaN loss at one step changes no weight, is counted, and training reaches max_steps."""

    from tts_ebm.objectives.delta import DeltaObjective
    from tts_ebm.train.module import EBMTTSModule
    from tts_ebm.train.run import complete_config, compose_config
    from tts_ebm.train.trainer import build_datamodule

    monkeypatch.setenv("TTS_EBM_CACHE", str(tmp_path / "cache"))
    config = compose_config([*TOY, f"run_dir={tmp_path / 'nan'}", "trainer.max_steps=4"])
    config, prepared = complete_config(config)
    original_forward = DeltaObjective.forward
    snapshots = {}

    def forward(self, energy, inputs):
        out = original_forward(self, energy, inputs)
        snapshots[inputs.step] = [p.detach().clone() for p in energy.parameters()]
        if inputs.step == 2:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(DeltaObjective, "forward", forward)
    module = EBMTTSModule(config)
    trainer = four_step_trainer()
    trainer.fit(module, datamodule=build_datamodule(config, prepared))
    assert trainer.global_step == 4 and module.skipped_updates == 1
    for before, after in zip(snapshots[2], snapshots[3], strict=True):
        assert torch.equal(before, after)  # the NaN step left the energy network untouched
    assert any(not torch.equal(a, b) for a, b in zip(snapshots[1], snapshots[2], strict=True))


def test_step_seconds_run_from_one_step_start_to_the_next_skipped_steps_included(
    tmp_path, monkeypatch
):
    """``train/step_seconds`` on a clock that reads 10, 10.5, 11.5, 13 at the steps' starts:
    each step after the first logs the time since the previous start, the skipped one too."""
    from lightning.pytorch.loggers import CSVLogger

    from tts_ebm.objectives.delta import DeltaObjective
    from tts_ebm.train import module as module_lib
    from tts_ebm.train.run import complete_config, compose_config
    from tts_ebm.train.trainer import build_datamodule

    monkeypatch.setenv("TTS_EBM_CACHE", str(tmp_path / "cache"))
    config = compose_config([*TOY, f"run_dir={tmp_path / 'run'}", "trainer.max_steps=4"])
    config, prepared = complete_config(config)
    starts = iter([10.0, 10.5, 11.5, 13.0])
    monkeypatch.setattr(module_lib, "time", SimpleNamespace(perf_counter=lambda: next(starts)))
    original_forward = DeltaObjective.forward

    def forward(self, energy, inputs):
        out = original_forward(self, energy, inputs)
        out.loss = out.loss * (float("nan") if inputs.step == 1 else 1.0)
        return out

    monkeypatch.setattr(DeltaObjective, "forward", forward)
    module = module_lib.EBMTTSModule(config)
    trainer = four_step_trainer(CSVLogger(tmp_path / "run", name="csv"))
    trainer.fit(module, datamodule=build_datamodule(config, prepared))
    assert module.skipped_updates == 1
    assert series(metrics(tmp_path / "run"), "train/step_seconds") == {1: 0.5, 2: 1.0, 3: 1.5}


def test_step_sizes_pick_the_eta_with_the_lowest_teacher_forced_error(toy_run, tmp_path):
    from omegaconf import OmegaConf

    from tts_ebm.cli import main
    from tts_ebm.train.refinement import masked_mse
    from tts_ebm.train.step_sizes import prepared_batches

    model = toy_run / "model.safetensors"
    prepared = OmegaConf.load(toy_run / "config.yaml").data.prepared_dir
    out = tmp_path / "sizes.json"
    args = ["step-sizes", str(model), prepared, "--steps", "2,1", "--grid", "1,0.25", "--out"]
    assert main([*args, str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["steps"] == [1, 2] and table["grid"] == [0.25, 1.0]
    # One entry recomputed by hand: 2 steps of 0.25 from the aligned μ, pooled over elements.
    ckpt = load_inference_checkpoint(model)
    squares = elements = 0.0
    for batch in prepared_batches(ckpt, prepared):
        aligned = ckpt.model.align(batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths)
        mask = aligned.frame_mask
        y = refine(ckpt.model.energy, aligned.mu, mask, RefineConfig(steps=2, step_size=0.25))
        n = float(mask.sum()) * y.shape[1]
        squares += float(masked_mse(y, batch.mel, mask)) * n
        elements += n
    assert table["errors"]["2@0.25"] == pytest.approx(squares / elements, rel=1e-5)
    for k in ("1", "2"):
        best = table["best"][k]
        assert best["mse"] == min(table["errors"][f"{k}@{eta:g}"] for eta in (0.25, 1.0))
        assert table["errors"][f"{k}@{best['step_size']:g}"] == best["mse"]
    assert table["prior"] > table["best"]["1"]["mse"]
    # The speaking rate at which the predicted durations add up to the recorded frames.
    durations = table["durations"]
    rate = durations["speaking_rate"]
    recorded = predicted = at_one = 0
    for batch in prepared_batches(ckpt, prepared):
        tokens, lengths = batch.tokens, batch.token_lengths
        recorded += int(batch.mel_lengths.sum())
        predicted += int(ckpt.model.prior(tokens, lengths, rate).durations.sum())
        at_one += int(ckpt.model.prior(tokens, lengths).durations.sum())
    assert durations["recorded"] == recorded
    assert abs(predicted - recorded) <= 0.02 * recorded
    assert durations["length_ratio"] == pytest.approx(at_one / recorded, rel=1e-9)

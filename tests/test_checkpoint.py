"""Inference checkpoints as files: their mode, and a training run's folder in their place."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from models import untrained_tts

from tts_ebm.audio import MelStats
from tts_ebm.checkpoint import CheckpointError, load_checkpoint, save_inference_checkpoint
from tts_ebm.cli import main
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.text import TextFrontend

INFERENCE = {"steps": 1, "step_size": 1.0, "temperature": 0.0, "langevin": 0.0}


def export(path: Path) -> Path:
    frontend = TextFrontend("chars")
    model = untrained_tts(frontend, EnergyConfig(channels=(16,), n_blocks=1, groups=4))
    return save_inference_checkpoint(path, model, frontend.to_config(), MelStats(-6, 2), INFERENCE)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_an_export_gets_the_mode_of_any_written_file(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = export(tmp_path / "model.safetensors")
        (tmp_path / "other.txt").write_text("x")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE((tmp_path / "other.txt").stat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_run_folder_stands_for_its_exported_model(tmp_path):
    run = tmp_path / "run"
    export(run / "model.safetensors")
    assert load_checkpoint(run).stats == MelStats(-6.0, 2.0)
    out = tmp_path / "out.wav"
    args = ["synthesize", "la mi.", "--checkpoint", str(run), "--vocoder", "griffin-lim"]
    assert main([*args, "--device", "cpu", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_a_run_folder_without_its_model_says_what_it_lacks(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match=r"run is a folder without model\.safetensors"):
        load_checkpoint(run)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    args = ["synthesize", "la mi.", str(tmp_path / "o.wav"), "--checkpoint", str(run)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "without model.safetensors" in err
    assert f"instead, e.g. {run / 'checkpoints' / 'last.ckpt'}" in err

"""Careless and broken training runs (issue 16, class 5 and the training half of class 4).

Wrong types and ranges in Hydra overrides are one line naming the key, written before anything
is prepared or created; a run stopped by SIGINT/SIGTERM keeps its checkpoint but exits 130/143
and exports nothing; a truncated ``last.ckpt`` falls back to the newest intact checkpoint;
non-finite statistics and a run whose every update was skipped fail instead of exporting an
untrained model. Runs are in-process toy runs of a few steps on a 40-utterance toy corpus.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch

from tts_ebm.cli import main
from tts_ebm.train.module import EBMTTSModule
from tts_ebm.train.run import RUN_DIR_ENV, prepare_data
from tts_ebm.train.trainer import PreparedDataModule

TOY = [
    "experiment=toy",
    "data.toy.n_utterances=40",
    "data.val_size=4",
    "trainer.val_media=0",
    "trainer.val_every_steps=1000",
    "trainer.log_every_steps=1",
    "trainer.checkpoint_every_steps=1",
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """The toy corpus, prepared once into a cache of this module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TTS_EBM_CACHE", str(tmp_path_factory.mktemp("cache")))
        data = {"corpus": "toy", "toy": {"n_utterances": 40, "seed": 0}, "prepared_dir": None}
        yield prepare_data({**data, "frontend": "chars", "val_size": 4})


def train(capsys, prepared: Path, run_dir: Path, *overrides: str) -> tuple[int, str, str]:
    """``tts-ebm train`` in this process: (exit code, stdout, stderr); the environment that
    training exports (run dir, Lightning's seed) is undone after."""
    saved = dict(os.environ)
    os.environ[RUN_DIR_ENV] = str(run_dir)
    try:
        args = [*TOY, f"data.prepared_dir={prepared}", f"run_dir={run_dir}", *overrides]
        code = main(["train", *args])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_steps=abc", "trainer.max_steps must be an integer >= 1, got 'abc'"),
        ("trainer.max_steps=0", "trainer.max_steps must be >= 1, got 0"),
        ("trainer.max_steps=2.5", "trainer.max_steps must be an integer >= 1, got 2.5"),
        (
            "trainer.optim.lr=fast",
            "trainer.optim.lr must be a finite number > 0 and <= 1, got 'fast'",
        ),
        ("trainer.optim.lr=nan", "trainer.optim.lr must be positive and <= 1, got nan"),
        ("trainer.optim.lr=-1e-3", "trainer.optim.lr must be positive and <= 1, got -0.001"),
        ("data.batch_size=0", "data.batch_size must be >= 1 and <= 4096, got 0"),
        ("data.batch_size=[1]", "data.batch_size must be an integer >= 1 and <= 4096, got [1]"),
        ("data.num_workers=-1", "data.num_workers must be >= 0 and <= 256, got -1"),
        ("data.add_blank=maybe", "data.add_blank must be true or false, got 'maybe'"),
        ("data.frontend=klingon", "data.frontend must be one of 'ipa', 'chars', got 'klingon'"),
        ("seed=-1", "seed must be >= 0 and <= 4294967295, got -1"),
        ("resume=yes please", "resume must be true or false, got 'yes please'"),
        ("trainer.optim.betas=[0.9]", "trainer.optim.betas must be a list of 2 items, each"),
        ("trainer.optim.schedule=steep", "trainer.optim.schedule must be one of 'cosine', 'const"),
        ("trainer.checkpoint_every_steps=0", "trainer.checkpoint_every_steps must be >= 1, got 0"),
        ("inference.temperature=inf", "inference.temperature must be >= 0 and <= 10, got inf"),
        (
            "inference.steps=1e9",
            "inference.steps must be an integer >= 0 and <= 10000, got 1000000000.0",
        ),
        (
            "model.network.encoder.channels=100000",
            "model.network.encoder.channels must be >= 1 and",
        ),
        ("model.network.energy.channels=[]", "model.network.energy.channels must be a list of 1"),
        ("+model.network.encoder.typo=1", "model.network.encoder has an unknown key 'typo'"),
        ("model.loss_weights.prior=nan", "model.loss_weights.prior must be >= 0 and <= 1e+06"),
        ("objective.name=magic", "objective.name must be one of 'cd', 'delta', 'flow', 'nce'"),
    ],
)
def test_a_wrong_override_is_one_line_naming_the_key(capsys, prepared, tmp_path, override, message):
    run_dir = tmp_path / "run"
    code, _, err = train(capsys, prepared, run_dir, override)
    assert code == 2
    assert one_line(err).startswith(f"tts-ebm: error: bad training config: {message}")
    assert not run_dir.exists()


def test_an_accelerator_this_machine_lacks_is_one_line(capsys, prepared, tmp_path):
    code, _, err = train(capsys, prepared, tmp_path / "run", "trainer.accelerator=mps")
    assert code == 2
    assert one_line(err).startswith(
        "tts-ebm: error: bad trainer config: `MPSAccelerator` can not run"
    )


def test_non_finite_statistics_are_refused_before_training(capsys, prepared, tmp_path):
    for name, (stats, message) in {
        "nan mean": ({"mel_mean": math.nan, "mel_std": 2.0}, "mel_mean must be >= -100 and <="),
        "inf std": ({"mel_mean": -6.0, "mel_std": math.inf}, "mel_std must be >= 1e-06 and <="),
    }.items():
        copy = tmp_path / name
        shutil.copytree(prepared, copy)
        (copy / "stats.json").write_text(json.dumps(stats))
        code, _, err = train(capsys, copy, tmp_path / f"run {name}")
        assert code == 2
        line = one_line(err)
        assert f"{copy / 'stats.json'}: {message}" in line
        assert not (tmp_path / f"run {name}").exists()


def send_at_step(monkeypatch, step: int, signum: int) -> None:
    """Deliver ``signum`` to this process during training step ``step``, as a user's kill would."""
    original = EBMTTSModule.training_step

    def training_step(self, batch, batch_idx):
        if self.global_step == step:
            os.kill(os.getpid(), signum)
        return original(self, batch, batch_idx)

    monkeypatch.setattr(EBMTTSModule, "training_step", training_step)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_keeps_the_checkpoint_exits_non_zero_and_exports_nothing(
    capsys, monkeypatch, prepared, tmp_path, signum, code
):
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        send_at_step(patch, 1, signum)
        got, out, err = train(capsys, prepared, run_dir, "trainer.max_steps=50")
    assert got == code
    name = signal.Signals(signum).name
    assert f"{name}: checkpoint written" in out
    line = one_line(err)
    assert f"{name}: training stopped at step 2 of 50; no model exported" in line
    assert f"resume=true run_dir={run_dir}" in line
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    assert not (run_dir / "model.safetensors").exists()


def test_a_sigterm_before_the_first_step_is_not_a_success(capsys, monkeypatch, prepared, tmp_path):
    """Lightning's own handler is active while the loaders are built; it exits with status 0."""
    original = PreparedDataModule.train_dataloader

    def train_dataloader(self):
        os.kill(os.getpid(), signal.SIGTERM)
        return original(self)

    monkeypatch.setattr(PreparedDataModule, "train_dataloader", train_dataloader)
    run_dir = tmp_path / "run"
    code, _, err = train(capsys, prepared, run_dir, "trainer.max_steps=50")
    assert code == 143
    assert "SIGTERM: training stopped at step" in one_line(err)
    assert not (run_dir / "model.safetensors").exists()


def test_a_truncated_last_checkpoint_falls_back_to_the_newest_intact_one(
    capsys, prepared, tmp_path
):
    run_dir = tmp_path / "run"
    assert train(capsys, prepared, run_dir, "trainer.max_steps=3")[0] == 0
    checkpoints = run_dir / "checkpoints"
    (run_dir / "model.safetensors").unlink()
    last = checkpoints / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])

    code, out, _ = train(capsys, prepared, run_dir, "resume=true", "trainer.max_steps=4")
    assert code == 0
    skipped = [line for line in out.splitlines() if line.startswith("resume: skipping")]
    assert len(skipped) == 1 and f"{last} is not a readable training checkpoint" in skipped[0]
    assert f"resume: from {checkpoints / 'step=00000003.ckpt'}" in out
    assert torch.load(last, weights_only=True)["global_step"] == 4
    assert (run_dir / "model.safetensors").exists()

    for ckpt in checkpoints.glob("*.ckpt"):
        ckpt.write_bytes(b"")
    code, _, err = train(capsys, prepared, run_dir, "resume=true", "trainer.max_steps=5")
    assert code == 2
    assert one_line(err) == f"tts-ebm: error: no intact checkpoint to resume from in {checkpoints}"


def test_an_untrusted_checkpoint_to_resume_from_is_refused(capsys, prepared, tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "callbacks": Payload()}, evil)
    run_dir = tmp_path / "run"
    code, _, err = train(capsys, prepared, run_dir, f"ckpt_path={evil}")
    assert code == 2
    line = one_line(err)
    assert f"{evil} is not a trusted checkpoint" in line and "weights_only" not in line
    assert not run_dir.exists()


def test_a_run_whose_every_update_was_skipped_fails_and_exports_nothing(
    capsys, monkeypatch, prepared, tmp_path
):
    original = EBMTTSModule._losses

    def nan_losses(self, batch, step):
        losses, logs = original(self, batch, step)
        losses["loss"] = losses["loss"] * math.nan
        return losses, logs

    monkeypatch.setattr(EBMTTSModule, "_losses", nan_losses)
    run_dir = tmp_path / "run"
    code, _, err = train(capsys, prepared, run_dir, "trainer.max_steps=2")
    assert code == 2
    assert "every one of the 2 updates of this run was skipped" in one_line(err)
    assert not (run_dir / "model.safetensors").exists()

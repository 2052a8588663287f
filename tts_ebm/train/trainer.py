"""Lightning Trainer and DataModule assembly from the resolved config."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch.utils.data import DataLoader

from tts_ebm.audio import MelStats
from tts_ebm.text import TextFrontend
from tts_ebm.train.callbacks import AtomicCheckpointIO, CheckpointOnSignal, StepProgressBar
from tts_ebm.train.data import BucketBatchSampler, PreparedDataset, collate
from tts_ebm.train.media import ValidationMedia
from tts_ebm.train.prior_cache import SharedPriorCache


class PreparedDataModule(L.LightningDataModule):
    """Train/val loaders over a prepared folder; the train loader starts at the current step."""

    def __init__(self, config: dict, prepared_dir: Path):
        super().__init__()
        self.config = config
        self.prepared_dir = prepared_dir
        data = config["data"]
        tokenizer = TextFrontend.from_config(data["frontend_config"]).tokenizer
        stats = MelStats.from_dict(data["stats"])
        self.train_set = PreparedDataset(
            prepared_dir, "train", tokenizer, stats, data.get("durations_dir")
        )
        self.val_set = PreparedDataset(
            prepared_dir, "val", tokenizer, stats, data.get("durations_dir")
        )

    def train_dataloader(self) -> DataLoader:
        data = self.config["data"]
        # Called after a resumed checkpoint is restored: global_step is where to continue.
        sampler = BucketBatchSampler(
            self.train_set.frame_counts,
            data["batch_size"],
            seed=self.config["seed"],
            start=self.trainer.global_step,
            rank=self.trainer.global_rank,
            world_size=self.trainer.world_size,
        )
        return DataLoader(
            self.train_set,
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=data["num_workers"],
            persistent_workers=data["num_workers"] > 0,
        )

    def val_dataloader(self) -> DataLoader:
        data = self.config["data"]
        return DataLoader(
            self.val_set,
            batch_size=data["batch_size"],
            shuffle=False,
            collate_fn=collate,
            num_workers=0,
        )

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        return batch.to(device)


def build_datamodule(config: dict, prepared_dir: Path) -> PreparedDataModule:
    return PreparedDataModule(config, prepared_dir)


class WeightAverage(EMAWeightAveraging):
    """An exponential moving average of the weights (``trainer.ema_decay``), updated after every
    optimiser step.

    With it every checkpoint is a fair model of its budget under a constant learning rate: its
    ``state_dict`` (what export, ``init_from`` and evaluation read) holds the average, and
    ``current_model_state`` the raw weights a resumed run continues from. Validation runs on the
    average.
    """

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Leave the raw weights in the module, unlike Lightning: the checkpoint written at the
        end then still holds them, so the run can be resumed to a larger budget; the export
        takes the average through :func:`averaged_for_export`."""


def averaged_for_export(trainer: L.Trainer, module: L.LightningModule) -> None:
    """Put the weight average into ``module`` after training, where one was kept."""
    for callback in trainer.callbacks:
        if isinstance(callback, WeightAverage):
            callback._copy_average_to_current(module)


def build_trainer(config: dict, run_dir: Path) -> L.Trainer:
    # Lightning's advice for manual optimisation does not apply: checkpoints are written after
    # the step on purpose (the resumed run continues from the updated weights).
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)")
    tcfg = config["trainer"]
    checkpoints = run_dir / "checkpoints"
    periodic = ModelCheckpoint(
        dirpath=checkpoints,
        filename="step={step:08d}",
        auto_insert_metric_name=False,
        every_n_train_steps=tcfg["checkpoint_every_steps"],
        save_top_k=tcfg["keep_checkpoints"],
        monitor="step",
        mode="max",
        save_last=True,
        save_on_train_epoch_end=False,
    )
    callbacks = [
        periodic,
        CheckpointOnSignal(checkpoints / "last.ckpt"),
        LearningRateMonitor(logging_interval="step"),
        StepProgressBar(leave=True),
        ValidationMedia(tcfg["val_media"], tcfg["vocoder"]),
    ]
    if tcfg.get("ema_decay"):
        callbacks.append(WeightAverage(decay=tcfg["ema_decay"]))
    if config["model"].get("freeze_encoder"):
        callbacks.append(SharedPriorCache(config["data"]["prepared_dir"]))
        # The frozen encoder is in eval mode on purpose (module.py): not worth a warning.
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    val_every = tcfg["val_every_steps"]
    try:
        return L.Trainer(
            default_root_dir=run_dir,
            max_steps=tcfg["max_steps"],
            accelerator=tcfg["accelerator"],
            devices=tcfg["devices"],
            strategy=tcfg["strategy"],
            num_nodes=tcfg["num_nodes"],
            precision=tcfg["precision"],
            logger=[
                TensorBoardLogger(run_dir, name="tensorboard", version=""),
                # metrics.csv, easy to read back; a resumed run writes the next version_N folder.
                CSVLogger(run_dir, name="csv"),
            ],
            callbacks=callbacks,
            plugins=[AtomicCheckpointIO()],
            val_check_interval=val_every,
            check_val_every_n_epoch=None,
            log_every_n_steps=tcfg["log_every_steps"],
            num_sanity_val_steps=0,
            use_distributed_sampler=False,
            enable_model_summary=True,
        )
    except (MisconfigurationException, ImportError) as exc:
        # e.g. trainer.accelerator=gpu on a machine without one, or tpu without torch_xla.
        raise ValueError(f"bad trainer config: {str(exc).strip().splitlines()[0]}") from None

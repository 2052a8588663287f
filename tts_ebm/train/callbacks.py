"""Training callbacks: atomic checkpoint I/O, checkpoint-on-signal, validation media."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import RichProgressBar

from tts_ebm.lightning_checkpoint import read_training_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file and rename: a crash mid-write leaves the old checkpoint intact.

    Loading never unpickles arbitrary objects (``weights_only=True``): checkpoints hold only
    tensors and plain containers.
    """

    def save_checkpoint(self, checkpoint: dict, path: str | Path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(buffer.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only=None):
        return read_training_checkpoint(path)  # on the CPU; Lightning moves what it restores


class CheckpointOnSignal(L.Callback):
    """SIGINT/SIGTERM: finish the current step, write ``last.ckpt``, then stop; ``requested``
    tells the caller the run was stopped, not finished (``train`` then exports nothing)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        self.requested = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread (some launchers) signals cannot be caught: leave them be.
            with contextlib.suppress(ValueError):
                self._previous[sig] = signal.signal(sig, self._handle)

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if self.requested is None:
            return
        trainer.save_checkpoint(self.path)
        if trainer.is_global_zero:
            name = signal.Signals(self.requested).name
            print(f"\n{name}: checkpoint written to {self.path} at step {trainer.global_step}")
        trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exc) -> None:
        self._restore()  # a failed fit must not leave this process deaf to Ctrl-C

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class StepProgressBar(RichProgressBar):
    """Rich bar counted in optimiser steps (runs are step-based, epochs are endless)."""

    def _get_train_description(self, current_epoch: int) -> str:
        return "training"

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics

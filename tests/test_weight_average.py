"""An exponential moving average of the weights (``trainer.ema_decay``): what checkpoints and
export hold, and that a resumed run continues the same average."""

from __future__ import annotations

import os

import torch
from safetensors.torch import load_file
from test_train import run_training

EMA = (
    "trainer.ema_decay=0.9",
    "trainer.optim.schedule=constant",
    "trainer.val_every_steps=10",
    "trainer.val_media=0",
)


def _energy_weights(state: dict) -> dict[str, torch.Tensor]:
    return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.energy.")}


def test_checkpoints_and_export_hold_the_average_and_a_resumed_run_continues_it(tmp_path):
    os.environ.setdefault("TTS_EBM_CACHE", str(tmp_path / "cache"))
    straight = tmp_path / "straight"
    run_training(straight, *EMA, "trainer.max_steps=30")
    stopped = tmp_path / "stopped"
    run_training(stopped, *EMA, "trainer.max_steps=20", "trainer.checkpoint_every_steps=20")
    run_training(stopped, *EMA, "trainer.max_steps=30", "resume=true")

    checkpoint = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)
    average = _energy_weights(checkpoint["state_dict"])
    current = _energy_weights(checkpoint["current_model_state"])
    assert int(checkpoint["averaging_state"]["n_averaged"]) == 30
    # The average lags the raw weights: they differ, and it is what the export holds.
    assert any(not torch.equal(average[k], current[k]) for k in average)
    exported = load_file(straight / "model.safetensors")
    for name, value in average.items():
        torch.testing.assert_close(exported[name].float(), value.float())
    # Stopping at 20 and resuming gives the same average (and raw weights) at 30.
    resumed = torch.load(stopped / "checkpoints" / "last.ckpt", weights_only=True)
    for key in ("state_dict", "current_model_state"):
        a, b = _energy_weights(checkpoint[key]), _energy_weights(resumed[key])
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)

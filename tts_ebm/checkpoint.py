"""Self-describing inference checkpoints: one safetensors file, config in its metadata.

The file holds the acoustic model's weights and, as JSON in the safetensors header, everything
needed to use them without Hydra or the training code: network config, front-end config with
the full symbol table, mel convention and statistics, and default inference knobs. Loading
never unpickles (safetensors cannot carry code).
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.model.tts import EBMTTS

FORMAT = "tts-ebm/1"
METADATA_KEY = "tts_ebm"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or not a tts-ebm inference checkpoint."""


@dataclass
class InferenceCheckpoint:
    model: EBMTTS
    frontend: dict  # TextFrontend.to_config()
    mel: MelConfig
    stats: MelStats
    inference: dict  # default knobs: steps, step_size, temperature, langevin
    info: dict  # provenance: criterion, training steps, run config summary


def save_inference_checkpoint(
    path: str | Path,
    model: EBMTTS,
    frontend: dict,
    stats: MelStats,
    inference: dict,
    info: dict | None = None,
    mel: MelConfig = MelConfig(),
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write atomically; ``dtype=torch.float16`` halves the size for shipping."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "network": model.to_config(),
        "frontend": frontend,
        "mel": mel.to_dict(),
        "stats": stats.to_dict(),
        "inference": inference,
        "info": info or {},
    }
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})
    os.replace(tmp, path)
    return path


def load_inference_checkpoint(path: str | Path, device: str = "cpu") -> InferenceCheckpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
        tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc
    if raw is None:
        raise CheckpointError(f"{path} is a safetensors file without tts-ebm metadata")
    try:
        meta = json.loads(raw)
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: unsupported checkpoint format {meta.get('format')!r}")
        model = EBMTTS.from_config(meta["network"])
        mel = MelConfig.from_dict(meta["mel"])
        stats = MelStats.from_dict(meta["stats"])
        frontend, inference = dict(meta["frontend"]), dict(meta["inference"])
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has malformed tts-ebm metadata: {exc!r}") from exc
    state = {k: v.float() for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match its own network config "
            f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})"
        )
    model.to(device).eval()
    return InferenceCheckpoint(
        model=model,
        frontend=frontend,
        mel=mel,
        stats=stats,
        inference=inference,
        info=meta.get("info", {}),
    )


def load_checkpoint(path: str | Path, device: str = "cpu") -> InferenceCheckpoint:
    """A ``.safetensors`` inference checkpoint or a Lightning ``.ckpt`` training checkpoint.

    Commands take either, so a run can be listened to or evaluated mid-training without an
    export step.
    """
    path = Path(path)
    if path.suffix != ".ckpt":
        return load_inference_checkpoint(path, device=device)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    from tts_ebm.train.run import load_training_checkpoint

    try:
        ckpt = load_training_checkpoint(path)
    except (pickle.UnpicklingError, RuntimeError, KeyError, OSError, EOFError) as exc:
        # torch.load's errors for corrupt or foreign files; its advice (weights_only=False)
        # would run arbitrary code, so only the kind of failure is passed on.
        raise CheckpointError(
            f"{path} is not a readable training checkpoint ({type(exc).__name__})"
        ) from exc
    ckpt.model.to(device)
    return ckpt

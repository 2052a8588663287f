"""Lightning training checkpoints (``.ckpt``) as inference checkpoints: read with
``weights_only=True`` only, mapped from the run's config, checked like a safetensors header."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from tts_ebm.audio import MelConfig
from tts_ebm.checkpoint_header import (
    FORMAT,
    CheckpointError,
    InferenceCheckpoint,
    TensorInfo,
    build,
    check_metadata,
    one_line,
)
from tts_ebm.schema import SchemaError


def read_training_checkpoint(path: str | Path) -> dict:
    """A Lightning ``.ckpt`` loaded with ``weights_only=True``; failures are one line.

    torch's own message for a refused file advises ``weights_only=False``, which would run
    whatever code the file holds: it is never passed on.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not _is_torch_file(path):
            raise CheckpointError(f"{path} is not a readable training checkpoint") from None
        raise CheckpointError(
            f"{path} is not a trusted checkpoint: it holds more than tensors and plain "
            "containers (such a file can run code when loaded, so tts-ebm refuses it)"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, RecursionError) as exc:
        detail = one_line(exc).split(". ")[0][:160]  # torch adds advice after the first
        raise CheckpointError(f"{path} is not a readable training checkpoint ({detail})") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(f"{path} is not a Lightning training checkpoint (no state_dict)")
    return ckpt


def _is_torch_file(path: str | Path) -> bool:
    """Whether ``path`` starts like ``torch.save`` output (a zip archive, or a legacy pickle),
    so a refused unpickling means refused content rather than a file of some other kind."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    return head == b"PK" or head[:1] == pickle.PROTO


def load_training_checkpoint(path: str | Path, device: str = "cpu") -> InferenceCheckpoint:
    """A Lightning training checkpoint as an in-memory inference checkpoint.

    One mapping from the training config to the self-describing fields, shared by ``export``
    and every command that accepts either kind of checkpoint; checked like a safetensors header.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    ckpt = read_training_checkpoint(path)
    prefix = "model."
    state = {
        k[len(prefix) :]: v
        for k, v in ckpt["state_dict"].items()
        if isinstance(k, str) and k.startswith(prefix)
    }
    try:
        config = ckpt["hyper_parameters"]["config"]
        meta = {
            "format": FORMAT,
            "network": config["model"]["network"],
            "frontend": config["data"]["frontend_config"],
            "mel": MelConfig().to_dict(),
            "stats": config["data"]["stats"],
            "inference": config["inference"],
        }
        info = {"objective": config["objective"], "steps_trained": int(ckpt["global_step"])}
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a tts-ebm training checkpoint (its config lacks {exc})"
        ) from None
    try:
        tensors = {
            k: TensorInfo(tuple(v.shape), v.is_floating_point())
            for k, v in state.items()
            if isinstance(v, torch.Tensor)
        }
        check_metadata(meta, tensors)
        return build(meta, state, info, device)
    except SchemaError as exc:
        raise CheckpointError(f"{path} has malformed tts-ebm metadata: {exc}") from None

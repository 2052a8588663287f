"""Start a run from another checkpoint's weights (``init_from=``), not from its training state.

Resuming (``resume=true``) continues one run exactly: optimiser, schedule, step count. Warm
starting begins a *new* run whose network copies every tensor of a trained one that has the same
name and shape: fine-tuning on another corpus, a different criterion on a trained encoder, or a
new energy head on a trained trunk (``model.network.energy.form=quadratic`` keeps the encoder and
the U-Net and starts only the head). Tensors that do not fit start fresh and are listed, so a
mismatch that was not meant (another text frontend's vocabulary) is visible, not silent.
``init_from_only=[encoder]`` copies only the named top-level modules: a shared pretrained prior
under a fresh energy or flow decoder, as an equal-budget comparison of decoders needs (with
``model.freeze_encoder=true``), even where the source's energy would fit.

Refused: checkpoints from another text frontend (the token ids would mean other symbols).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from tts_ebm.checkpoint import CheckpointError, load_checkpoint


@dataclass
class WarmStart:
    """What ``init_from`` copied: tensor names loaded and those left at their fresh values."""

    source: Path
    loaded: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = f"init_from {self.source}: {len(self.loaded)} tensors loaded"
        if self.fresh:
            shown = ", ".join(self.fresh[:8]) + (" ..." if len(self.fresh) > 8 else "")
            line += f", {len(self.fresh)} start fresh ({shown})"
        return line


def warm_start(
    model: nn.Module, path: str | Path, frontend: dict, only: Sequence[str] | None = None
) -> WarmStart:
    """Copy the matching tensors of checkpoint ``path`` into ``model`` (in place).

    ``only``: top-level module names (``encoder``, ``energy``) whose tensors may be copied; the
    others start fresh (listed). None copies every tensor that fits.
    ``frontend`` is the new run's text-frontend config: a checkpoint made with other symbols is
    refused, since its embedding rows would be read as the wrong characters or phones.
    """
    source = load_checkpoint(path)
    if source.frontend.get("symbol_table") != frontend.get("symbol_table"):
        raise CheckpointError(
            f"init_from {path}: its text frontend ({source.frontend.get('kind')}) has other "
            f"symbols than this run's ({frontend.get('kind')}); warm starting would scramble the "
            "token embeddings. Use the same data.frontend as the checkpoint."
        )
    theirs = source.model.state_dict()
    ours = model.state_dict()
    result = WarmStart(Path(path))
    update = {}
    wanted = None if only is None else set(only)
    unknown = (wanted or set()) - {name for name, _ in model.named_children()}
    if unknown:
        raise ValueError(f"init_from_only: no module named {', '.join(sorted(unknown))}")
    for name, tensor in ours.items():
        other = theirs.get(name)
        if wanted is not None and name.split(".")[0] not in wanted:
            other = None
        if other is not None and other.shape == tensor.shape:
            update[name] = other.to(tensor.dtype)
            result.loaded.append(name)
        else:
            result.fresh.append(name)
    model.load_state_dict(update, strict=False)
    return result

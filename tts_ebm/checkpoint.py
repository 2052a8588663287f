"""Self-describing inference checkpoints: one safetensors file, config in its metadata.

The file holds the acoustic model's weights and, as JSON in the safetensors header, everything
needed to use them without Hydra or the training code: network config, front-end config with
the full symbol table, mel convention and statistics, and default inference knobs. Loading
never unpickles (safetensors cannot carry code), and it trusts nothing in the header: the
metadata must pass :data:`HEADER` and agree with the shapes of the tensors actually present
before any module is built, so an edited size cannot make the loader allocate more than the
file holds (the header's schema and checks: ``tts_ebm.checkpoint_header``). Training checkpoints
(``.ckpt``, ``tts_ebm.lightning_checkpoint``) go through the same checks; :func:`load_checkpoint`
takes either, or a training run's folder.

A *voice* is a checkpoint that rides on a packaged base voice (``tts_ebm/voices``): it stores
only the tensors outside the modules it shares with the base (the energy or flow decoder, not
the encoder and durations), with the base's name and a fingerprint of the shared tensors. Loading
takes those from the base and refuses a base whose shared tensors are not the ones the voice was
made with, so a retrained default voice cannot silently pair with an old decoder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.checkpoint_header import (
    BASE,
    FORMAT,
    HEADER,
    METADATA_KEY,
    SHARED_MODULES,
    CheckpointError,
    InferenceCheckpoint,
    TensorInfo,
    build,
    check_metadata,
    header_metadata,
    one_line,
    tensor_info,
)
from tts_ebm.lightning_checkpoint import load_training_checkpoint
from tts_ebm.model.tts import EBMTTS
from tts_ebm.sampling import KNOBS
from tts_ebm.schema import SchemaError

VOICES = "voices"  # package data of tts_ebm: NAME.safetensors
DEFAULT_VOICE = "default"
DEFAULT_VOICE_ENV = "TTS_EBM_DEFAULT_VOICE"
RUN_MODEL = "model.safetensors"  # what a training run exports into its folder


def save_inference_checkpoint(
    path: str | Path,
    model: EBMTTS,
    frontend: dict,
    stats: MelStats,
    inference: dict,
    info: dict | None = None,
    mel: MelConfig = MelConfig(),
    dtype: torch.dtype = torch.float32,
    base: dict | None = None,
) -> Path:
    """Write atomically; ``dtype=torch.float16`` halves the size for shipping. With ``base``
    (a :data:`BASE` record) the tensors of its modules are left out: a voice."""
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
    if base is not None:
        meta["base"] = base
        tensors = {k: v for k, v in tensors.items() if k not in shared(tensors, base["modules"])}
    tmp = path.with_name(f".{path.name}.tmp")
    # Written by Python, not by save_file, which makes the file 0600: an export gets the mode
    # of any other written file (0666 less the umask).
    tmp.write_bytes(save(tensors, metadata={METADATA_KEY: json.dumps(meta)}))
    os.replace(tmp, path)
    return path


def load_inference_checkpoint(path: str | Path, device: str = "cpu") -> InferenceCheckpoint:
    """Read and check the header; only a header that passes gets its tensors read. A voice
    gets its shared tensors from its base (:func:`voice_path`)."""
    path = Path(path)
    meta, state = _read_checked(path, within_base=False)
    with _refusals(path):
        return build(meta, state, meta.get("info", {}), device)


def _read_checked(path: Path, within_base: bool) -> tuple[dict, dict[str, torch.Tensor]]:
    """The checked metadata and tensors of a safetensors checkpoint, a voice's base merged in."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    with _refusals(path), safe_open(str(path), framework="pt") as handle:
        meta = header_metadata(handle)
        names = handle.keys()  # a safe_open handle is not iterable
        tensors = {name: tensor_info(handle, name) for name in names}
        from_base = _base_tensors(path, meta, tensors, within_base)
        check_metadata(meta, {**tensors, **_tensor_infos(from_base)})
        state = {name: handle.get_tensor(name) for name in tensors}
    return meta, {**from_base, **state}


@contextmanager
def _refusals(path: Path) -> Iterator[None]:
    """Whatever goes wrong reading ``path`` becomes a one-line CheckpointError naming it."""
    try:
        yield
    except CheckpointError:
        raise
    except SchemaError as exc:
        raise CheckpointError(f"{path} has malformed tts-ebm metadata: {exc}") from None
    except (SafetensorError, OSError, ValueError, RecursionError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint: {one_line(exc)[:200]}"
        ) from None


def _base_tensors(
    path: Path, meta: Any, tensors: Mapping[str, TensorInfo], within_base: bool
) -> dict[str, torch.Tensor]:
    """The tensors a voice takes from its base, once the base proves to be the one the voice
    was made with; {} for a full checkpoint."""
    if not isinstance(meta, Mapping) or "base" not in meta:
        return {}
    BASE.check(meta["base"], "base")
    name, modules = meta["base"]["name"], meta["base"]["modules"]
    if within_base:
        raise SchemaError(f"a base voice must be a full checkpoint, but this one rides on {name!r}")
    own = sorted(shared(tensors, modules))
    if own:
        raise SchemaError(f"tensor {own[0]} is one that the base {name!r} provides")
    try:
        base_path = voice_path(name)
        _, base_state = _read_checked(base_path, within_base=True)
    except CheckpointError as exc:
        raise CheckpointError(f"{path} rides on voice {name!r}: {exc}") from None
    from_base = shared(base_state, modules)
    if fingerprint(from_base) != meta["base"]["sha256"]:
        raise CheckpointError(
            f"{path} was made on another {name!r} voice than {base_path} (its "
            f"{', '.join(modules)} differs): use the voice with the tts-ebm release it came "
            "with, or export it again from its run with `tts-ebm voice export`"
        )
    return from_base


def _tensor_infos(state: Mapping[str, torch.Tensor]) -> dict[str, TensorInfo]:
    return {k: TensorInfo(tuple(v.shape), v.is_floating_point()) for k, v in state.items()}


def shared(state: Mapping[str, Any], modules: Sequence[str]) -> dict[str, Any]:
    """The entries of ``state`` that belong to the top-level ``modules`` (``encoder.*``, ...)."""
    return {k: v for k, v in state.items() if k.split(".", 1)[0] in modules}


def fingerprint(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, shapes and float32 values: equal for a base stored in fp16 or fp32
    (fp16 → fp32 is exact), different for any retrained or resized tensor."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        values = tensors[name].detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}\0{list(values.shape)}\0".encode())
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()


def default_voice() -> Path:
    """The shipped default voice, or the file ``$TTS_EBM_DEFAULT_VOICE`` names instead.

    The variable lets a site make its own model the default (and tests exercise a missing file).
    """
    override = os.environ.get(DEFAULT_VOICE_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        path = _voices_dir() / f"{DEFAULT_VOICE}.safetensors"
    if not path.is_file():
        source = f"{DEFAULT_VOICE_ENV} names {path}" if override else f"{path} is missing"
        raise CheckpointError(
            f"no default voice: {source}; reinstall tts-ebm or pass "
            "--checkpoint PATH or hf://OWNER/REPO/FILE.safetensors"
        )
    return path


def _voices_dir() -> Path:
    return Path(str(files("tts_ebm") / VOICES))


def packaged_voices() -> list[str]:
    """The voice names: ``default`` and the stem of every other ``tts_ebm/voices/*.safetensors``."""
    return sorted({p.stem for p in _voices_dir().glob("*.safetensors")} | {DEFAULT_VOICE})


def voice_path(name: str) -> Path:
    """The file of packaged voice ``name`` (``default``: :func:`default_voice`); an unknown name
    is refused in one line listing the voices there are."""
    if name == DEFAULT_VOICE:
        return default_voice()
    voices = packaged_voices()
    if name not in voices:
        raise CheckpointError(f"no voice named {name!r}; available voices: {', '.join(voices)}")
    return _voices_dir() / f"{name}.safetensors"


def voice_header(name: str) -> dict:
    """The checked metadata of packaged voice ``name``, without reading its tensors (listing)."""
    path = voice_path(name)
    with _refusals(path), safe_open(str(path), framework="pt") as handle:
        meta = header_metadata(handle)
        HEADER.check(meta, "")
    return meta


def save_with_knobs(
    checkpoint: InferenceCheckpoint,
    out: str | Path,
    inference: Mapping[str, Any] | None,
    dtype: torch.dtype,
    base: dict | None = None,
) -> Path:
    """Write ``checkpoint`` with some of its default knobs replaced or added (e.g. a step count
    chosen after evaluation, a speaking rate); an unknown knob or a value the loader would
    refuse is never written."""
    knobs = {**checkpoint.inference, **(inference or {})}
    KNOBS.check(knobs, "inference")  # a closed record: an unknown knob is refused by name
    return save_inference_checkpoint(
        out,
        checkpoint.model,
        frontend=checkpoint.frontend,
        stats=checkpoint.stats,
        inference=knobs,
        info=checkpoint.info,
        mel=checkpoint.mel,
        dtype=dtype,
        base=base,
    )


def export_voice(
    source: str | Path,
    out: str | Path,
    base: str = DEFAULT_VOICE,
    inference: dict | None = None,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Write ``source`` (any checkpoint) as a voice on packaged voice ``base``: only its
    tensors outside :data:`SHARED_MODULES`, which must equal the base's (a run trained with
    ``init_from`` the base and ``model.freeze_encoder``). ``inference`` replaces some of the
    run's default knobs."""
    checkpoint = load_checkpoint(source)
    _, base_state = _read_checked(voice_path(base), within_base=True)
    modules = list(SHARED_MODULES)
    sha256 = fingerprint(shared(base_state, modules))
    if fingerprint(shared(checkpoint.model.state_dict(), modules)) != sha256:
        raise CheckpointError(
            f"{source}: its {', '.join(modules)} is not that of voice {base!r}; a voice can "
            "ride only on the base its run was trained on (init_from with model.freeze_encoder)"
        )
    return save_with_knobs(
        checkpoint, out, inference, dtype, {"name": base, "modules": modules, "sha256": sha256}
    )


def load_checkpoint(path: str | Path, device: str = "cpu") -> InferenceCheckpoint:
    """A ``.safetensors`` inference checkpoint or a Lightning ``.ckpt`` training checkpoint.

    Commands take either, so a run can be listened to or evaluated mid-training without an
    export step.
    """
    path = Path(path)
    if path.is_dir():
        path = run_model(path)
    if path.suffix == ".ckpt":
        return load_training_checkpoint(path, device=device)
    return load_inference_checkpoint(path, device=device)


def run_model(run_dir: Path) -> Path:
    """The model a training run's folder exported (``RUN_DIR/model.safetensors``), so a run's
    folder can be passed wherever a checkpoint is; a folder without it is refused in one line
    that says what it lacks."""
    model = run_dir / RUN_MODEL
    if model.is_file():
        return model
    saved = sorted((run_dir / "checkpoints").glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    hint = f"; pass one of its training checkpoints instead, e.g. {saved[-1]}" if saved else ""
    raise CheckpointError(
        f"{run_dir} is a folder without {RUN_MODEL} (a training run writes it when it "
        f"finishes){hint}"
    )

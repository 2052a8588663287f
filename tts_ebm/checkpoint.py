"""Self-describing inference checkpoints: one safetensors file, config in its metadata.

The file holds the acoustic model's weights and, as JSON in the safetensors header, everything
needed to use them without Hydra or the training code: network config, front-end config with
the full symbol table, mel convention and statistics, and default inference knobs. Loading
never unpickles (safetensors cannot carry code), and it trusts nothing in the header: the
metadata must pass :data:`HEADER` and agree with the shapes of the tensors actually present
before any module is built, so an edited size cannot make the loader allocate more than the
file holds. Training checkpoints (``.ckpt``) go through the same checks.

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
import pickle
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch.overrides import TorchFunctionMode

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.model.encoder import EncoderConfig
from tts_ebm.model.energy import FORMS, EnergyConfig
from tts_ebm.model.tts import EBMTTS
from tts_ebm.sampling import KNOBS
from tts_ebm.schema import (
    Bool,
    Float,
    Int,
    ListOf,
    Record,
    SchemaError,
    Str,
    required_fields,
)

FORMAT = "tts-ebm/1"
METADATA_KEY = "tts_ebm"
VOICES = "voices"  # package data of tts_ebm: NAME.safetensors
DEFAULT_VOICE = "default"
DEFAULT_VOICE_ENV = "TTS_EBM_DEFAULT_VOICE"
SHARED_MODULES = ("encoder",)  # what a voice takes from its base: text encoder and durations
RUN_MODEL = "model.safetensors"  # what a training run exports into its folder

# Upper bounds on sizes: far above any sensible model, low enough that a config within them
# can be built on the meta device in milliseconds (its shapes are then compared to the file's).
MAX_CHANNELS = 8192
MAX_LAYERS = 64
MAX_VOCAB = 10_000
MAX_MELS = 512
MAX_KERNEL = 31

ENCODER = Record(
    {
        "n_vocab": Int(1, MAX_VOCAB),
        "n_mels": Int(1, MAX_MELS),
        "channels": Int(1, MAX_CHANNELS),
        "filter_channels": Int(1, 4 * MAX_CHANNELS),
        "n_heads": Int(1, 64),
        "n_layers": Int(0, MAX_LAYERS),
        "kernel_size": Int(1, MAX_KERNEL, odd=True),
        "dropout": Float(0.0, 0.99),
        "prenet_layers": Int(0, MAX_LAYERS),
        "prenet_kernel": Int(1, MAX_KERNEL, odd=True),
        "duration_channels": Int(1, MAX_CHANNELS),
        "duration_kernel": Int(1, MAX_KERNEL, odd=True),
        "duration_dropout": Float(0.0, 0.99),
        "pre_norm": Bool(),
        "rope_base": Float(1.0, 1e9, low_open=True),
    },
    required_fields(EncoderConfig),
)
ENERGY = Record(
    {
        "n_mels": Int(1, MAX_MELS),
        "channels": ListOf(Int(1, MAX_CHANNELS), 1, 8),
        "n_blocks": Int(1, 16),
        "kernel_size": Int(1, MAX_KERNEL, odd=True),
        "groups": Int(1, 512),
        "anchor_beta": Float(0.0, 1e6),
        "dropout": Float(0.0, 0.99),
        "form": Str(FORMS),
        "curvature": Float(0.0, 1e6, low_open=True),
    },
    required_fields(EnergyConfig),
)
NETWORK = Record({"encoder": ENCODER, "energy": ENERGY}, frozenset({"encoder", "energy"}))
SYMBOL_TABLE = Record(
    {"name": Str(), "version": Int(1, 10_000), "symbols": ListOf(Str(), 1, MAX_VOCAB)},
    frozenset({"name", "version", "symbols"}),
)
FRONTEND = Record(
    {"kind": Str(), "add_blank": Bool(), "language": Str(), "symbol_table": SYMBOL_TABLE},
    frozenset({"kind", "add_blank", "language", "symbol_table"}),
)
MEL = Record(
    {
        "sample_rate": Int(1000, 384_000),
        "n_fft": Int(16, 65_536),
        "win_length": Int(16, 65_536),
        "hop_length": Int(1, 65_536),
        "n_mels": Int(1, MAX_MELS),
        "f_min": Float(0.0, 192_000.0),
        "f_max": Float(0.0, 192_000.0, low_open=True),
        "convention": Str(),
    },
    required_fields(MelConfig),
)
# Log-mel statistics: the HiFi-GAN log-mel lies in about [-11.5, 5]; std 1e-6 is the floor the
# accumulator itself applies.
STATS = Record(
    {"mel_mean": Float(-100.0, 100.0), "mel_std": Float(1e-6, 100.0), "n_frames": Int(0)},
    frozenset({"mel_mean", "mel_std"}),
)
# A voice's base: a packaged voice name, the top-level modules taken from it, and the sha256
# of those tensors (:func:`fingerprint`).
BASE = Record(
    {"name": Str(), "modules": ListOf(Str(SHARED_MODULES), 1, 1), "sha256": Str()},
    frozenset({"name", "modules", "sha256"}),
)
HEADER = Record(
    {
        "format": Str((FORMAT,)),
        "network": NETWORK,
        "frontend": FRONTEND,
        "mel": MEL,
        "stats": STATS,
        "inference": KNOBS,  # the synthesizer's own ranges and rules
        "info": Record({}, closed=False),
        "base": BASE,
    },
    frozenset({"format", "network", "frontend", "mel", "stats", "inference"}),
    closed=False,
)
_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


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


class TensorInfo(NamedTuple):
    """What the header says of a tensor: enough to check it against the config unread."""

    shape: tuple[int, ...]
    floating: bool


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


def check_metadata(meta: Any, tensors: Mapping[str, TensorInfo]) -> None:
    """Refuse (SchemaError, one line naming the field) metadata that is malformed, inconsistent
    or that does not describe exactly the ``tensors`` present. Builds nothing but meta tensors."""
    HEADER.check(meta, "")
    _check_consistency(meta)
    expected = _expected_shapes(meta["network"])
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    if missing or unexpected:
        raise SchemaError(
            "the weights do not match the network config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for name, shape in expected.items():
        if tensors[name].shape != shape:
            raise SchemaError(
                f"tensor {name} has shape {list(tensors[name].shape)} but the network config "
                f"implies {list(shape)}"
            )
        if not tensors[name].floating:
            raise SchemaError(f"tensor {name} is not floating point")


def _check_consistency(meta: dict) -> None:
    """Cross-field rules a per-field schema cannot state."""
    network = meta["network"]
    n_mels = {
        "mel.n_mels": MelConfig(**meta["mel"]).n_mels,
        "network.encoder.n_mels": network["encoder"].get("n_mels", EncoderConfig.n_mels),
        "network.energy.n_mels": network["energy"].get("n_mels", EnergyConfig.n_mels),
    }
    if len(set(n_mels.values())) > 1:
        raise SchemaError(f"n_mels disagree: {n_mels}")
    n_symbols = len(meta["frontend"]["symbol_table"]["symbols"])
    if network["encoder"]["n_vocab"] != n_symbols:
        raise SchemaError(
            f"network.encoder.n_vocab ({network['encoder']['n_vocab']}) differs from the "
            f"{n_symbols} symbols of frontend.symbol_table"
        )
    mel = MelConfig(**meta["mel"])
    if not mel.hop_length <= mel.win_length <= mel.n_fft:
        raise SchemaError(
            f"mel needs hop_length <= win_length <= n_fft, got {mel.hop_length}, "
            f"{mel.win_length}, {mel.n_fft}"
        )
    if not mel.f_min < mel.f_max <= mel.sample_rate / 2:
        raise SchemaError(
            f"mel needs f_min < f_max <= sample_rate / 2, got {mel.f_min}, {mel.f_max}, "
            f"{mel.sample_rate}"
        )


class _SkipNormalInit(TorchFunctionMode):
    """Leaves ``normal_`` initialisation out: meaningless on the meta device, where torch 2.13
    routes it through code that imports torch._dynamo (~1.5 s of every synthesis start)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.normal_, torch.nn.init.normal_):
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))


def _expected_shapes(network: dict) -> dict[str, tuple[int, ...]]:
    """Parameter shapes the config implies, from a model built on the meta device (no memory).

    The model's own constructors apply its structural rules (heads divide channels, groups
    divide U-Net channels); their ValueErrors name the problem.
    """
    try:
        with torch.device("meta"), _SkipNormalInit():
            model = EBMTTS.from_config(network)
    except ValueError as exc:
        raise SchemaError(f"network: {exc}") from None
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def _build(
    meta: dict, state: Mapping[str, torch.Tensor], info: dict, device: str
) -> InferenceCheckpoint:
    """The checkpoint of validated ``meta`` and matching ``state`` (any floating dtype)."""
    for name, tensor in state.items():
        if not torch.isfinite(tensor).all():
            raise SchemaError(f"tensor {name} holds NaN or infinite values")
    model = EBMTTS.from_config(meta["network"])
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.to(device).eval()
    return InferenceCheckpoint(
        model=model,
        frontend=dict(meta["frontend"]),
        mel=MelConfig(**meta["mel"]),
        stats=MelStats.from_dict(meta["stats"]),
        inference=dict(meta["inference"]),
        info=info,
    )


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def load_inference_checkpoint(path: str | Path, device: str = "cpu") -> InferenceCheckpoint:
    """Read and check the header; only a header that passes gets its tensors read. A voice
    gets its shared tensors from its base (:func:`voice_path`)."""
    path = Path(path)
    meta, state = _read_checked(path, within_base=False)
    with _refusals(path):
        return _build(meta, state, meta.get("info", {}), device)


def _read_checked(path: Path, within_base: bool) -> tuple[dict, dict[str, torch.Tensor]]:
    """The checked metadata and tensors of a safetensors checkpoint, a voice's base merged in."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    with _refusals(path), safe_open(str(path), framework="pt") as handle:
        meta = _header_metadata(handle)
        names = handle.keys()  # a safe_open handle is not iterable
        tensors = {name: _tensor_info(handle, name) for name in names}
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
            f"{path} is not a readable safetensors checkpoint: {_one_line(exc)[:200]}"
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
        meta = _header_metadata(handle)
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


def _header_metadata(handle: Any) -> Any:
    """The decoded tts-ebm JSON of an open safetensors file (not yet checked)."""
    raw = (handle.metadata() or {}).get(METADATA_KEY)
    if raw is None:
        raise SchemaError("a safetensors file without tts-ebm metadata")
    return json.loads(raw)


def _tensor_info(handle: Any, name: str) -> TensorInfo:
    view = handle.get_slice(name)
    return TensorInfo(tuple(view.get_shape()), view.get_dtype() in _FLOAT_DTYPES)


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
        detail = _one_line(exc).split(". ")[0][:160]  # torch adds advice after the first
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
        return _build(meta, state, info, device)
    except SchemaError as exc:
        raise CheckpointError(f"{path} has malformed tts-ebm metadata: {exc}") from None


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

"""Hostile checkpoints (issue 16, class 2): nothing in a checkpoint's metadata is trusted.

Every edit of a safetensors header (sizes, statistics, symbol table, types, missing fields,
inference knobs) or of the tensors beside it, garbage and truncated files, and training
checkpoints that are untrusted pickles or carry edited configs end in one line naming the field,
before any module is built. A tiny untrained model keeps each probe in milliseconds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from models import untrained_tts
from safetensors import safe_open
from safetensors.torch import save_file

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.checkpoint import CheckpointError, load_checkpoint, save_inference_checkpoint
from tts_ebm.checkpoint_header import ENCODER, ENERGY, MEL
from tts_ebm.cli import main
from tts_ebm.model.encoder import EncoderConfig
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.text import TextFrontend

NAN, INF = math.nan, math.inf
INFERENCE = {"steps": 1, "step_size": 1.0, "temperature": 0.0, "langevin": 0.0}


def make_model():
    frontend = TextFrontend("chars")
    model = untrained_tts(frontend, EnergyConfig(channels=(16,), n_blocks=1, groups=4))
    return model, frontend


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    model, frontend = make_model()
    path = tmp_path_factory.mktemp("good") / "model.safetensors"
    return save_inference_checkpoint(path, model, frontend.to_config(), MelStats(-6, 2), INFERENCE)


def read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["tts_ebm"])
        return meta, {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118


def rewrite(source: Path, out: Path, edit_meta=None, edit_tensors=None) -> Path:
    """``source`` with its header metadata and/or tensors edited as an attacker would."""
    meta, tensors = read(source)
    if edit_meta:
        edit_meta(meta)
    if edit_tensors:
        edit_tensors(tensors)
    save_file(tensors, str(out), metadata={"tts_ebm": json.dumps(meta)})
    return out


def setter(dotted: str, value) -> Callable[[dict], None]:
    """An edit putting ``value`` at ``dotted`` (``DELETE`` removes the key)."""

    def edit(meta: dict) -> None:
        *parents, last = dotted.split(".")
        node = meta
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


DELETE = object()

HEADER_PROBES = [
    # Sizes that would have been allocated before anything was checked.
    ("network.encoder.channels", 10**6, "network.encoder.channels must be >= 1 and <= 8192, got"),
    ("network.encoder.n_layers", 10**6, "network.encoder.n_layers must be >= 0 and <= 64, got"),
    ("network.encoder.n_vocab", 10**9, "network.encoder.n_vocab must be >= 1 and <= 10000, got"),
    ("network.energy.channels", [2**40], "network.energy.channels[0] must be >= 1 and <= 8192"),
    ("network.energy.channels", [64] * 100, "network.energy.channels must be a list of 1 to 8"),
    ("mel.n_mels", 10**7, "mel.n_mels must be >= 1 and <= 512, got 10000000"),
    # Statistics.
    ("stats.mel_std", NAN, "stats.mel_std must be >= 1e-06 and <= 100, got nan"),
    ("stats.mel_std", INF, "stats.mel_std must be >= 1e-06 and <= 100, got inf"),
    ("stats.mel_std", 0.0, "stats.mel_std must be >= 1e-06 and <= 100, got 0.0"),
    ("stats.mel_std", -2.0, "stats.mel_std must be >= 1e-06 and <= 100, got -2.0"),
    ("stats.mel_mean", NAN, "stats.mel_mean must be >= -100 and <= 100, got nan"),
    ("stats.mel_mean", 10**400, "stats.mel_mean must be >= -100 and <= 100, got 1000"),  # no float
    (
        "stats.mel_std",
        "2.0",
        "stats.mel_std must be a finite number >= 1e-06 and <= 100, got '2.0'",
    ),
    # The symbol table.
    ("frontend.symbol_table", None, "frontend.symbol_table must be a mapping, got None"),
    ("frontend.symbol_table.symbols", None, "frontend.symbol_table.symbols must be a list"),
    ("frontend.symbol_table.symbols", "abc", "frontend.symbol_table.symbols must be a list"),
    ("frontend.symbol_table.symbols", [1, 2], "frontend.symbol_table.symbols[0] must be a non"),
    ("frontend.symbol_table.symbols", ["a"] * 5, "network.encoder.n_vocab (38) differs from the 5"),
    ("frontend", [], "frontend must be a mapping, got []"),
    # A string (or a bool, or a float) where an integer belongs.
    (
        "network.encoder.n_layers",
        "2",
        "network.encoder.n_layers must be an integer >= 0 and <= 64, got '2'",
    ),
    (
        "network.encoder.n_heads",
        True,
        "network.encoder.n_heads must be an integer >= 1 and <= 64, got True",
    ),
    (
        "network.encoder.channels",
        16.0,
        "network.encoder.channels must be an integer >= 1 and <= 8192, got 16.0",
    ),
    ("network.encoder.kernel_size", 4, "network.encoder.kernel_size must be an odd integer >= 1"),
    ("network.energy.form", "cubic", "network.energy.form must be one of 'scalar', 'quadratic'"),
    (
        "network.encoder.dropout",
        NAN,
        "network.encoder.dropout must be >= 0 and <= 0.99, got nan",
    ),
    # Missing fields and unknown ones.
    ("stats.mel_std", DELETE, "stats.mel_std is missing"),
    ("network.encoder.n_vocab", DELETE, "network.encoder.n_vocab is missing"),
    ("network", DELETE, "network is missing"),
    ("frontend.symbol_table", DELETE, "frontend.symbol_table is missing"),
    ("network.encoder.evil", 1, "network.encoder has an unknown key 'evil'"),
    ("format", "tts-ebm/99", "format must be one of 'tts-ebm/1', got 'tts-ebm/99'"),
    # Cross-field rules.
    ("mel.n_mels", 100, "n_mels disagree"),
    ("mel.f_max", 20000.0, "mel needs f_min < f_max <= sample_rate / 2"),
    ("network.encoder.n_heads", 3, "network: channels (16) must be divisible by n_heads (3)"),
    # Inference knobs stored as defaults.
    ("inference.steps", 10**9, "inference.steps must be >= 0 and <= 10000, got 1000000000"),
    ("inference.steps", "1", "inference.steps must be an integer >= 0 and <= 10000, got '1'"),
    ("inference.step_size", NAN, "inference.step_size must be a finite number > 0 and <= 100"),
    ("inference.step_size", [1.0, INF], "inference.step_size must be a finite number > 0 and <="),
    ("inference.temperature", INF, "inference.temperature must be >= 0 and <= 10, got inf"),
    (
        "inference.speaking_rate",
        1e9,
        "inference.speaking_rate must be >= 0.1 and <= 10, got 1000000000.0",
    ),
    ("inference.stop_threshold", INF, "inference.stop_threshold must be >= 0 and finite, got inf"),
    ("inference.schedule", "cubic", "inference.schedule must be one of 'constant', 'linear', 'co"),
    # The synthesizer's rules between knobs (the loader used to pass these).
    ("inference.step_size", [1.0, 0.5], "inference: a step_size list needs one value per step: 2"),
    ("inference.typo", 1, "inference has an unknown key 'typo'"),
    # Sizes within bounds that the weights present do not have.
    (
        "network.encoder.channels",
        8192,
        "has shape [38, 16] but the network config implies [38, 8192]",
    ),
    ("network.encoder.filter_channels", 32768, "but the network config implies [32768, 16, 3]"),
    ("network.encoder.n_layers", 64, "the weights do not match the network config (missing"),
    ("network.energy.channels", [8192] * 8, "the weights do not match the network config"),
]


@pytest.mark.parametrize(("field", "value", "message"), HEADER_PROBES)
def test_an_edited_header_is_refused_naming_the_field(checkpoint, tmp_path, field, value, message):
    bad = rewrite(checkpoint, tmp_path / "bad.safetensors", edit_meta=setter(field, value))
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(bad)
    text = str(refused.value)
    assert message in text and "\n" not in text
    assert text.startswith(f"{bad} has malformed tts-ebm metadata: ")


def test_an_edited_header_asking_for_a_huge_model_is_refused_fast_and_small(checkpoint, tmp_path):
    """Within every per-field bound, the model would take ~130 GB: only the shapes refuse it."""

    def huge(meta: dict) -> None:
        meta["network"]["encoder"].update(channels=8192, filter_channels=32768, n_layers=64)
        meta["network"]["energy"]["channels"] = [8192] * 8

    bad = rewrite(checkpoint, tmp_path / "huge.safetensors", edit_meta=huge)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="do not match the network config"):
        load_checkpoint(bad)
    assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000  # KiB


TENSOR_PROBES = [
    (
        "embedding row added",
        lambda t: t.update({"encoder.embedding.weight": torch.zeros(39, 16)}),
        "encoder.embedding.weight has shape [39, 16] but the network config implies [38, 16]",
    ),
    (
        "mel channels",
        lambda t: t.update({"encoder.proj.weight": torch.zeros(100, 16, 1)}),
        "tensor encoder.proj.weight has shape [100, 16, 1] but the network config implies [80",
    ),
    (
        "tensor missing",
        lambda t: t.pop("encoder.proj.bias"),
        "the weights do not match the network config (missing ['encoder.proj.bias']",
    ),
    (
        "tensor added",
        lambda t: t.update({"payload": torch.zeros(3)}),
        "unexpected ['payload']",
    ),
    (
        "integer weights",
        lambda t: t.update({"encoder.proj.bias": torch.zeros(80, dtype=torch.int32)}),
        "tensor encoder.proj.bias is not floating point",
    ),
    (
        "NaN weights",
        lambda t: t["encoder.proj.bias"].fill_(NAN),
        "tensor encoder.proj.bias holds NaN or infinite values",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"), [p[1:] for p in TENSOR_PROBES], ids=[p[0] for p in TENSOR_PROBES]
)
def test_weights_that_disagree_with_the_header_are_refused(checkpoint, tmp_path, edit, message):
    bad = rewrite(checkpoint, tmp_path / "bad.safetensors", edit_tensors=edit)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(bad)
    assert message in str(refused.value)


def write_raw_header(path: Path, metadata: str) -> Path:
    save_file({"w": torch.zeros(1)}, str(path), metadata={"tts_ebm": metadata})
    return path


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("{not json", "is not a readable safetensors checkpoint: Expecting property name"),
        ("[1, 2]", "the top level must be a mapping, got [1, 2]"),
        ("null", "the top level must be a mapping, got None"),
        ("[" * 100_000 + "]" * 100_000, "is not a readable safetensors checkpoint"),
        ('{"format": "tts-ebm/1"}', "malformed tts-ebm metadata: frontend is missing"),
    ],
    ids=["not json", "a list", "null", "deeply nested", "format only"],
)
def test_metadata_that_is_not_a_header_is_one_line(tmp_path, metadata, message):
    bad = write_raw_header(tmp_path / "bad.safetensors", metadata)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(bad)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_truncated_garbage_and_empty_files_are_one_line(checkpoint, tmp_path):
    data = checkpoint.read_bytes()
    files = {
        "truncated": data[: len(data) // 2],
        "header only": data[:200],
        "garbage": os.urandom(4096),
        "empty": b"",
        "huge header length": (2**62).to_bytes(8, "little") + b"{}",
    }
    for name, content in files.items():
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(content)
        with pytest.raises(
            CheckpointError, match="is not a readable safetensors checkpoint"
        ) as refused:
            load_checkpoint(bad)
        assert "\n" not in str(refused.value), name


def test_the_cli_refuses_an_edited_checkpoint_in_one_line(checkpoint, tmp_path, capsys):
    bad = rewrite(checkpoint, tmp_path / "nan.safetensors", edit_meta=setter("stats.mel_std", NAN))
    out = tmp_path / "out.wav"
    args = ["synthesize", "la mi.", str(out), "--checkpoint", str(bad), "--vocoder", "griffin-lim"]
    assert main([*args, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "stats.mel_std must be >= 1e-06 and <= 100, got nan" in err
    assert not out.exists()


def test_good_checkpoints_still_load_in_float32_and_float16(checkpoint, tmp_path):
    loaded = load_checkpoint(checkpoint)
    assert loaded.stats == MelStats(-6.0, 2.0) and loaded.inference == INFERENCE
    half = save_inference_checkpoint(
        tmp_path / "half.safetensors",
        loaded.model,
        loaded.frontend,
        loaded.stats,
        loaded.inference,
        dtype=torch.float16,
    )
    weights = load_checkpoint(half).model.state_dict()
    for name, value in loaded.model.state_dict().items():
        torch.testing.assert_close(weights[name], value.half().float())


@pytest.mark.parametrize(
    ("schema", "config"), [(ENCODER, EncoderConfig), (ENERGY, EnergyConfig), (MEL, MelConfig)]
)
def test_the_schema_covers_every_field_of_the_config_it_guards(schema, config):
    assert set(schema.fields) == {f.name for f in dataclasses.fields(config)}


# -- training checkpoints (.ckpt) ---------------------------------------------------------------


class Payload:
    """What a malicious checkpoint carries: unpickling it would run code."""

    def __reduce__(self):
        return (os.system, ("echo owned > owned.txt",))


def training_checkpoint(path: Path, edit=None, payload: object = None) -> Path:
    """A Lightning-shaped ``.ckpt`` of the tiny model, its config edited by ``edit``."""
    model, frontend = make_model()
    config = {
        "model": {"network": model.to_config()},
        "data": {"frontend_config": frontend.to_config(), "stats": {"mel_mean": -6, "mel_std": 2}},
        "inference": dict(INFERENCE),
        "objective": {"name": "delta"},
    }
    if edit:
        edit(config)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    ckpt = {"state_dict": state, "hyper_parameters": {"config": config}, "global_step": 3}
    if payload is not None:
        ckpt["callbacks"] = payload
    torch.save(ckpt, path)
    return path


def test_a_training_checkpoint_is_checked_like_a_header(tmp_path):
    good = load_checkpoint(training_checkpoint(tmp_path / "good.ckpt"))
    assert good.info["steps_trained"] == 3
    probes = {
        "model.network.encoder.channels": (10**6, "network.encoder.channels must be >= 1 and <="),
        "data.stats.mel_std": (NAN, "stats.mel_std must be >= 1e-06 and <= 100, got nan"),
        "data.frontend_config": (None, "frontend must be a mapping, got None"),
        "model.network.encoder.n_layers": (64, "the weights do not match the network config"),
    }
    for field, (value, message) in probes.items():
        bad = training_checkpoint(tmp_path / "bad.ckpt", setter(field, value))
        with pytest.raises(CheckpointError) as refused:
            load_checkpoint(bad)
        assert message in str(refused.value), field


def test_a_pickle_that_runs_code_is_not_a_trusted_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = training_checkpoint(tmp_path / "evil.ckpt", payload=Payload())
    with pytest.raises(CheckpointError, match="is not a trusted checkpoint"):
        load_checkpoint(evil)
    out = tmp_path / "out.safetensors"
    assert main(["export", str(evil), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a trusted checkpoint" in err
    assert "weights_only" not in err
    assert not out.exists() and not (tmp_path / "owned.txt").exists()


def test_truncated_and_foreign_training_checkpoints_are_one_line(tmp_path):
    data = training_checkpoint(tmp_path / "good.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "text.ckpt").write_bytes(b"not a checkpoint")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "configless.ckpt")
    expected = {
        "truncated": "is not a readable training checkpoint (",
        "empty": "is not a readable training checkpoint (EOFError",
        "text": "is not a readable training checkpoint",
        "foreign": "is not a Lightning training checkpoint (no state_dict)",
        "configless": "is not a tts-ebm training checkpoint (its config lacks 'hyper_parameters')",
    }
    for name, message in expected.items():
        with pytest.raises(CheckpointError) as refused:
            load_checkpoint(tmp_path / f"{name}.ckpt")
        assert message in str(refused.value) and "\n" not in str(refused.value), name


def test_an_unedited_copy_round_trips(checkpoint, tmp_path):
    """The rewriting helper itself changes nothing: the probes above differ only by their edit."""
    same = rewrite(checkpoint, tmp_path / "same.safetensors")
    assert load_checkpoint(same).frontend == load_checkpoint(checkpoint).frontend


def test_export_refuses_default_knobs_the_loader_would_refuse(tmp_path, capsys):
    good = training_checkpoint(tmp_path / "good.ckpt")
    for flags, message in [
        (["--steps", "-5"], "inference.steps must be >= 0 and <= 10000, got -5"),
        (["--step-size", "nan"], "inference.step_size must be a finite number > 0 and <= 100"),
    ]:
        out = tmp_path / "out.safetensors"
        assert main(["export", str(good), str(out), *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
        assert not out.exists()

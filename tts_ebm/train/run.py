"""``tts-ebm train``: compose the Hydra config, prepare data, run Lightning, export the model."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import torch

from tts_ebm.audio import MelStats
from tts_ebm.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_inference_checkpoint,
    save_with_knobs,
)
from tts_ebm.checkpoint_header import STATS
from tts_ebm.data.prepare import PrepareOptions, prepare_corpus
from tts_ebm.lightning_checkpoint import read_training_checkpoint
from tts_ebm.schema import SchemaError
from tts_ebm.text import TextFrontend
from tts_ebm.train.config_schema import check_training_config

RUN_DIR_ENV = "TTS_EBM_RUN_DIR"  # DDP children re-run the command: they must share the run_dir


class TrainingStopped(Exception):
    """The run ended before ``trainer.max_steps``: its checkpoint is kept, nothing exported.

    Not a success, so the command exits non-zero: 128 + the signal number when a signal
    stopped it (130 for SIGINT, 143 for SIGTERM, as shells report), else 1.
    """

    def __init__(self, message: str, signum: int | None = None):
        super().__init__(message)
        self.exit_code = 128 + signum if signum else 1


class TrainingFailed(ValueError):
    """The run finished but learnt nothing usable (every update was skipped)."""


def compose_config(overrides: list[str]) -> dict:
    """Resolve ``train.yaml`` with Hydra overrides (packaged configs, no working-dir changes)."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_module(config_module="tts_ebm.configs", version_base="1.3"):
            cfg = compose("train", overrides=overrides)
        config = OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
        # Hydra's messages end with search-path dumps; the first line says what is wrong.
        first_line = str(exc).strip().splitlines()[0]
        raise ValueError(f"bad training config: {first_line} (see `tts-ebm train --help`)") from exc
    if os.environ.get(RUN_DIR_ENV):
        config["run_dir"] = os.environ[RUN_DIR_ENV]
    return config


def _saved_config(run_dir: Path, overrides: list[str]) -> dict | None:
    """On resume, the run's own saved config wins; new key=value overrides are applied on top."""
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    saved = run_dir / "config.yaml"
    if not saved.is_file():
        return None
    extra = [o for o in overrides if "=" in o and o.split("=")[0].lstrip("+~") not in _GROUPS]
    try:
        base = OmegaConf.load(saved)
        merged = OmegaConf.merge(base, OmegaConf.from_dotlist([o.lstrip("+") for o in extra]))
        return OmegaConf.to_container(merged, resolve=True)
    except (OmegaConfBaseException, yaml.YAMLError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ValueError(f"{saved} cannot be read back: {first_line}") from None


_GROUPS = {"data", "model", "objective", "trainer", "experiment"}


def prepare_data(data: dict) -> Path:
    """Make sure the prepared folder exists (building the toy corpus if asked); return it."""
    if data["corpus"] == "toy":
        from tts_ebm.data.toy import default_toy_cache_dir, make_toy_corpus

        toy = data["toy"]
        root = default_toy_cache_dir() / f"n{toy['n_utterances']}-seed{toy['seed']}"
        corpus = make_toy_corpus(root / "corpus", toy["n_utterances"], toy["seed"])
        prepared = Path(data["prepared_dir"] or root / f"prepared-{data['frontend']}")
    else:
        corpus = data["corpus"]
        if not data["prepared_dir"]:
            raise ValueError(
                "data.prepared_dir is not set: pass data.prepared_dir=DIR (a folder made by "
                "`tts-ebm prepare`, or where to prepare data.corpus=PATH), or experiment=toy"
            )
        prepared = Path(data["prepared_dir"])
    if corpus is not None and not (prepared / "train.jsonl").is_file():
        options = PrepareOptions(frontend=data["frontend"], val_size=data["val_size"])
        report = prepare_corpus(corpus, prepared, options)
        for item in report.skipped:
            print(f"skipped {item.id}: {item.reason}")
    if not (prepared / "train.jsonl").is_file():
        raise FileNotFoundError(
            f"{prepared} holds no prepared corpus: set data.corpus=PATH to prepare one, "
            f"or run `tts-ebm prepare CORPUS {prepared}`"
        )
    return prepared


def complete_config(config: dict) -> tuple[dict, Path]:
    """Fill in what comes from the data: statistics, front end, vocabulary size."""
    prepared = prepare_data(config["data"])
    meta = json.loads((prepared / "prepare.json").read_text())
    frontend_config = dict(meta["cache_key"]["frontend"], add_blank=config["data"]["add_blank"])
    frontend = TextFrontend.from_config(frontend_config)
    config["data"]["prepared_dir"] = str(prepared)
    config["data"]["stats"] = run_stats(config, prepared).to_dict()
    config["data"]["frontend_config"] = frontend.to_config()
    if config["data"].get("durations_dir"):
        from tts_ebm.train.durations import check_durations

        check_durations(
            config["data"]["durations_dir"], config["data"]["frontend_config"], prepared
        )
    config["model"]["network"]["encoder"]["n_vocab"] = len(frontend.symbols.symbols)
    return config, prepared


def run_stats(config: dict, prepared: Path) -> MelStats:
    """The prepared data's statistics, except under a frozen prior from ``init_from``: its μ is
    in its own normalisation, which the mels must then share (the source's statistics)."""
    if config.get("init_from") and config["model"].get("freeze_encoder"):
        return load_checkpoint(config["init_from"]).stats
    return read_stats(prepared / "stats.json")


def read_stats(path: Path) -> MelStats:
    """A prepared folder's statistics, refused unless finite and in range (a NaN std would
    make every training update non-finite)."""
    try:
        data = json.loads(path.read_text())
        STATS.check(data, "")
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: {exc}; prepare the corpus again (`tts-ebm prepare`)") from None
    return MelStats.from_dict(data)


def find_resume_checkpoint(run_dir: Path) -> Path | None:
    """The newest intact checkpoint of ``run_dir``: ``last.ckpt``, else the periodic ones,
    newest first. Each unreadable one is reported in a line; none at all is an error."""
    folder = run_dir / "checkpoints"
    candidates = [folder / "last.ckpt"] if (folder / "last.ckpt").is_file() else []
    candidates += sorted(folder.glob("step=*.ckpt"), reverse=True)
    for candidate in candidates:
        try:
            read_training_checkpoint(candidate)
        except CheckpointError as exc:
            print(f"resume: skipping {exc}")
            continue
        return candidate
    if candidates:
        raise CheckpointError(f"no intact checkpoint to resume from in {folder}")
    return None


def train(overrides: list[str]) -> Path:
    """Run training; returns the exported inference checkpoint.

    Raises TrainingStopped (a signal or an early stop: the checkpoint is kept, nothing is
    exported) and TrainingFailed (every update skipped)."""
    import lightning as L
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    config = resolve_config(overrides)
    run_dir = Path(config["run_dir"])
    ckpt_path = resume_point(config, run_dir)
    os.environ[RUN_DIR_ENV] = str(run_dir)
    config, prepared = complete_config(config)

    L.seed_everything(config["seed"], workers=True, verbose=False)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_config(run_dir, config)

    from tts_ebm.train.module import EBMTTSModule
    from tts_ebm.train.trainer import averaged_for_export, build_datamodule, build_trainer

    module = EBMTTSModule(config)
    if config.get("init_from") and not ckpt_path:
        from tts_ebm.train.warm_start import warm_start

        started = warm_start(
            module.model,
            config["init_from"],
            config["data"]["frontend_config"],
            only=config.get("init_from_only"),
        )
        print(started.summary())
    trainer = build_trainer(config, run_dir)
    datamodule = build_datamodule(config, prepared)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SIGTERMException:
        # Lightning's own handler, in the moment before ours is installed: a SystemExit(0).
        raise _stopped(trainer, run_dir, signal.SIGTERM) from None
    check_finished(trainer, module, run_dir)
    averaged_for_export(trainer, module)
    return export_from_module(module, run_dir / "model.safetensors", trainer.global_step)


def resolve_config(overrides: list[str]) -> dict:
    """The composed config (a resumed run's saved one, with new overrides), schema-checked."""
    config = compose_config(overrides)
    if config["resume"] or config["ckpt_path"]:
        config = _saved_config(Path(config["run_dir"]), overrides) or config
    try:
        check_training_config(config)
    except SchemaError as exc:
        raise ValueError(f"bad training config: {exc}") from None
    return config


def resume_point(config: dict, run_dir: Path) -> str | None:
    """The checkpoint to continue from, checked readable and trusted before any work starts."""
    if config["ckpt_path"]:
        read_training_checkpoint(config["ckpt_path"])
        return config["ckpt_path"]
    if not config["resume"]:
        return None
    found = find_resume_checkpoint(run_dir)
    print(f"resume: {f'from {found}' if found else 'no checkpoint in run_dir, fresh run'}")
    return str(found) if found else None


def check_finished(trainer, module, run_dir: Path) -> None:
    """Only a run that reached max_steps and learnt something is exported."""
    from tts_ebm.train.callbacks import CheckpointOnSignal

    signal_callbacks = (c for c in trainer.callbacks if isinstance(c, CheckpointOnSignal))
    signum = next((c.requested for c in signal_callbacks if c.requested), None)
    if signum or trainer.interrupted or trainer.global_step < trainer.max_steps:
        raise _stopped(trainer, run_dir, signum)
    if module.skipped_updates and not module.applied_updates:
        raise TrainingFailed(
            f"every one of the {module.skipped_updates} updates of this run was skipped "
            "(non-finite loss or gradient): the model learnt nothing and was not exported; "
            "check the data and its stats.json, or lower trainer.optim.lr"
        )


def _stopped(trainer, run_dir: Path, signum: int | None) -> TrainingStopped:
    why = f"{signal.Signals(signum).name}: " if signum else ""
    return TrainingStopped(
        f"{why}training stopped at step {trainer.global_step} of {trainer.max_steps}; no model "
        f"exported. Resume with `tts-ebm train resume=true run_dir={run_dir}`",
        signum,
    )


def _write_config(run_dir: Path, config: dict) -> None:
    from omegaconf import OmegaConf

    if int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0:
        OmegaConf.save(OmegaConf.create(config), run_dir / "config.yaml")


def export_from_module(module, path: Path, step: int) -> Path:
    """The inference checkpoint of a training module (rank 0 writes it)."""
    config = module.config
    if module.global_rank == 0:
        save_inference_checkpoint(
            path,
            module.model,
            frontend=config["data"]["frontend_config"],
            stats=module.stats,
            inference=config["inference"],
            info={
                "objective": config["objective"],
                "steps_trained": step,
                "seed": config["seed"],
            },
        )
    return path


def export_checkpoint(
    ckpt_path: str | Path,
    out: str | Path,
    dtype: torch.dtype,
    inference: dict | None = None,
) -> Path:
    """``tts-ebm export``: Lightning training checkpoint → safetensors inference checkpoint, or
    an inference checkpoint rewritten (its knobs, its dtype).

    ``inference`` replaces some of the default knobs the run was configured with (e.g. a step
    count chosen after evaluation), so the shipped file synthesises best without arguments.
    """
    return save_with_knobs(load_checkpoint(ckpt_path), out, inference, dtype)

"""``tts-ebm train``: compose the Hydra config, prepare data, run Lightning, export the model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.data.prepare import PrepareOptions, prepare_corpus
from tts_ebm.text import TextFrontend

if TYPE_CHECKING:
    from tts_ebm.checkpoint import InferenceCheckpoint

RUN_DIR_ENV = "TTS_EBM_RUN_DIR"  # DDP children re-run the command: they must share the run_dir


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
    from omegaconf import OmegaConf

    saved = run_dir / "config.yaml"
    if not saved.is_file():
        return None
    base = OmegaConf.load(saved)
    extra = [o for o in overrides if "=" in o and o.split("=")[0].lstrip("+~") not in _GROUPS]
    merged = OmegaConf.merge(base, OmegaConf.from_dotlist([o.lstrip("+") for o in extra]))
    return OmegaConf.to_container(merged, resolve=True)


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
    config["data"]["stats"] = MelStats.load(prepared / "stats.json").to_dict()
    config["data"]["frontend_config"] = frontend.to_config()
    if config["data"].get("durations_dir"):
        from tts_ebm.train.durations import check_durations

        check_durations(
            config["data"]["durations_dir"], config["data"]["frontend_config"], prepared
        )
    config["model"]["network"]["encoder"]["n_vocab"] = len(frontend.symbols.symbols)
    return config, prepared


def find_last_checkpoint(run_dir: Path) -> Path | None:
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        return last
    candidates = sorted((run_dir / "checkpoints").glob("step=*.ckpt"))
    return candidates[-1] if candidates else None


def train(overrides: list[str]) -> Path:
    """Run training; returns the exported inference checkpoint."""
    import lightning as L

    config = compose_config(overrides)
    run_dir = Path(config["run_dir"])
    if config["resume"] or config["ckpt_path"]:
        config = _saved_config(run_dir, overrides) or config
    os.environ[RUN_DIR_ENV] = str(run_dir)
    config, prepared = complete_config(config)

    ckpt_path = config["ckpt_path"]
    if config["resume"] and not ckpt_path:
        found = find_last_checkpoint(run_dir)
        ckpt_path = str(found) if found else None
        print(f"resume: {'from ' + ckpt_path if found else 'no checkpoint in run_dir, fresh run'}")
    if ckpt_path and not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")

    L.seed_everything(config["seed"], workers=True, verbose=False)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_config(run_dir, config)

    from tts_ebm.train.module import EBMTTSModule
    from tts_ebm.train.trainer import build_datamodule, build_trainer

    module = EBMTTSModule(config)
    if config.get("init_from") and not ckpt_path:
        from tts_ebm.train.warm_start import warm_start

        started = warm_start(module.model, config["init_from"], config["data"]["frontend_config"])
        print(started.summary())
    trainer = build_trainer(config, run_dir)
    datamodule = build_datamodule(config, prepared)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    if trainer.interrupted or trainer.global_step < config["trainer"]["max_steps"]:
        print(f"stopped at step {trainer.global_step}; resume with resume=true run_dir={run_dir}")
    return export_from_module(module, run_dir / "model.safetensors", trainer.global_step)


def _write_config(run_dir: Path, config: dict) -> None:
    from omegaconf import OmegaConf

    if int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0:
        OmegaConf.save(OmegaConf.create(config), run_dir / "config.yaml")


def export_from_module(module, path: Path, step: int) -> Path:
    """The inference checkpoint of a training module (rank 0 writes it)."""
    from tts_ebm.checkpoint import save_inference_checkpoint

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


def load_training_checkpoint(ckpt_path: str | Path) -> InferenceCheckpoint:
    """A Lightning training checkpoint as an in-memory inference checkpoint (weights_only load).

    One mapping from the training config to the self-describing fields, shared by ``export``
    and every command that accepts either kind of checkpoint.
    """
    from tts_ebm.checkpoint import InferenceCheckpoint
    from tts_ebm.model.tts import EBMTTS

    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    config = ckpt["hyper_parameters"]["config"]
    model = EBMTTS.from_config(config["model"]["network"])
    prefix = "model."
    model.load_state_dict(
        {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    )
    return InferenceCheckpoint(
        model=model.eval(),
        frontend=config["data"]["frontend_config"],
        mel=MelConfig(),
        stats=MelStats.from_dict(config["data"]["stats"]),
        inference=config["inference"],
        info={"objective": config["objective"], "steps_trained": ckpt["global_step"]},
    )


def export_checkpoint(
    ckpt_path: str | Path,
    out: str | Path,
    dtype: torch.dtype,
    inference: dict | None = None,
) -> Path:
    """``tts-ebm export``: Lightning training checkpoint → safetensors inference checkpoint.

    ``inference`` replaces some of the default knobs the run was configured with (e.g. a step
    count chosen after evaluation), so the shipped file synthesises best without arguments.
    """
    from tts_ebm.checkpoint import save_inference_checkpoint

    ckpt = load_training_checkpoint(ckpt_path)
    unknown = set(inference or {}) - set(ckpt.inference)
    if unknown:
        raise ValueError(
            f"unknown inference knobs {sorted(unknown)}; known: {sorted(ckpt.inference)}"
        )
    return save_inference_checkpoint(
        out,
        ckpt.model,
        frontend=ckpt.frontend,
        stats=ckpt.stats,
        inference={**ckpt.inference, **(inference or {})},
        info=ckpt.info,
        mel=ckpt.mel,
        dtype=dtype,
    )

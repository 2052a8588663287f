"""What a resolved training config may hold: the types and ranges of the keys training reads.

Checked once, after Hydra has composed the config and before anything is prepared or written,
so ``trainer.max_steps=abc`` is one line naming the key instead of a traceback minutes later.
The network, statistics and inference knobs use the checkpoint's own schemas: whatever trains
must also export to a checkpoint that loads.
"""

from __future__ import annotations

from tts_ebm.checkpoint_header import ENCODER, ENERGY, FRONTEND, STATS
from tts_ebm.objectives import known_objectives
from tts_ebm.sampling import KNOBS
from tts_ebm.schema import AnyOf, Bool, Float, Int, ListOf, Record, Str, optional
from tts_ebm.text.phonemize import PHONEMIZER_KINDS

_SEED = Int(0, 2**32 - 1)  # Lightning's seed_everything range
_STEPS = Int(1)

OPTIM = Record(
    {
        "lr": Float(0.0, 1.0, low_open=True),
        "betas": ListOf(Float(0.0, 0.9999), 2, 2),
        "weight_decay": Float(0.0, 10.0),
        "warmup_steps": Int(0),
        "schedule": Str(("cosine", "constant")),
        "min_lr_ratio": Float(0.0, 1.0),
        "fused": Bool(),
    },
    frozenset({"lr"}),
    closed=False,
)
TRAINER = Record(
    {
        "max_steps": _STEPS,
        "accelerator": Str(),
        "devices": AnyOf((Int(1, 4096), Str(), ListOf(Int(0, 4096), 1, 4096))),
        "strategy": Str(),
        "num_nodes": Int(1, 4096),
        "precision": AnyOf((Str(), Int(16, 64))),
        "gradient_clip_val": optional(Float(0.0, 1e6)),
        "gradient_clip": Str(("global", "per_group")),
        "val_every_steps": _STEPS,
        "checkpoint_every_steps": _STEPS,
        "keep_checkpoints": Int(-1, 10_000),
        "log_every_steps": _STEPS,
        "val_media": Int(0, 64),
        "vocoder": Str(),
        "ema_decay": Float(0.0, 0.99999),  # 1 would never move
        "optim": OPTIM,
    },
    frozenset({"max_steps", "optim"}),
    closed=False,
)
DATA = Record(
    {
        "corpus": optional(Str()),
        "prepared_dir": optional(Str()),
        "frontend": Str(PHONEMIZER_KINDS),
        "add_blank": Bool(),
        "val_size": Int(0, 1_000_000),
        "durations_dir": optional(Str()),
        "batch_size": Int(1, 4096),
        "num_workers": Int(0, 256),
        "toy": Record({"n_utterances": Int(2, 1_000_000), "seed": _SEED}, closed=False),
        # Filled in from the prepared folder (present in a resumed run's saved config).
        "stats": STATS,
        "frontend_config": FRONTEND,
    },
    frozenset({"corpus", "prepared_dir", "batch_size"}),
    closed=False,
)
MODEL = Record(
    {
        # n_vocab comes from the prepared data's symbol table (``complete_config``).
        "network": Record({"encoder": ENCODER.relaxed("n_vocab"), "energy": ENERGY}),
        "loss_weights": Record(
            {name: Float(0.0, 1e6) for name in ("prior", "duration", "objective")},
            frozenset({"prior", "duration", "objective"}),
        ),
        "detach_condition": Bool(),
        "freeze_encoder": Bool(),
        "segment_frames": optional(Int(1, 1_000_000)),
        "alignment_prior": Record(
            {
                "steps": Int(0, 100_000_000),
                "weight": Float(0.0, 1e6),
                "scaling": Float(0.0, 1e6, low_open=True),
            },
            frozenset({"steps", "weight", "scaling"}),
        ),
    },
    frozenset({"network", "loss_weights"}),
    closed=False,
)
TRAINING = Record(
    {
        "run_dir": Str(),
        "seed": _SEED,
        "ckpt_path": optional(Str()),
        "resume": Bool(),
        "init_from": optional(Str()),
        "init_from_only": optional(ListOf(Str(), 1, 16)),
        "inference": KNOBS,
        "trainer": TRAINER,
        "data": DATA,
        "model": MODEL,
        "objective": Record({"name": Str(tuple(known_objectives()))}, frozenset({"name"}), False),
    },
    frozenset({"run_dir", "seed", "inference", "trainer", "data", "model", "objective"}),
    closed=False,
)


def check_training_config(config: dict) -> None:
    """Refuse (ValueError naming the dotted key) a config training could not run with."""
    TRAINING.check(config, "")
    form = config["model"]["network"]["energy"].get("form", "scalar")
    if (config["objective"]["name"] == "flow") != (form == "flow"):
        raise ValueError(
            f"objective {config['objective']['name']!r} cannot train network form {form!r}: "
            "objective=flow trains model.network.energy.form=flow and only it"
        )

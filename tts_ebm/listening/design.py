"""What a listening test is: its manifest (``test.json``) and each listener's presentation order.

The manifest is the single source of truth shared by the builder, the server and the analysis:
it maps opaque stimulus ids to (system, utterance) and lists the trials. It never leaves the test
folder — the server only hands out ids and audio, so listeners cannot learn which system they hear.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from tts_ebm.files import write_atomic

KINDS = ("mos", "mushra", "ab")
MANIFEST = "test.json"
DATABASE = "ratings.sqlite"
FORMAT_VERSION = 1

# System names given to --reference and --anchor; user systems may not take them.
REFERENCE = "reference"
ANCHOR = "anchor"

# Roles of a stimulus: rated by listeners, or the open (labelled) reference of a MUSHRA page.
RATED = "rated"
OPEN_REFERENCE = "open-reference"

# Rating scales (inclusive). A/B stores 1 for the preferred sample, 0 for the other and 0.5 for
# both on "no preference", so every trial kind is one row per rated stimulus.
SCALES: dict[str, tuple[int, int]] = {"mos": (1, 5), "mushra": (0, 100), "ab": (0, 1)}


class ManifestError(ValueError):
    """A test folder whose test.json is missing or inconsistent; the message says what."""


@dataclass(frozen=True)
class Stimulus:
    """One audio file of the test; ``file`` is relative to the test folder."""

    id: str
    system: str
    utterance: str
    file: str
    role: str = RATED


@dataclass(frozen=True)
class Trial:
    """One page a listener answers: a stimulus (MOS), an item's conditions (MUSHRA), a pair (A/B).

    ``open_reference`` is the labelled reference of a MUSHRA page; it is played, never rated.
    """

    id: str
    utterance: str
    stimuli: tuple[str, ...]
    open_reference: str | None = None


@dataclass(frozen=True)
class Manifest:
    """Everything needed to serve and analyse a test, as written to ``test.json``."""

    kind: str
    test_id: str
    seed: int
    sample_rate: int
    systems: tuple[str, ...]
    items: tuple[str, ...]
    stimuli: dict[str, Stimulus]
    trials: tuple[Trial, ...]
    anchor: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    created: str = ""

    @property
    def scale(self) -> tuple[int, int]:
        return SCALES[self.kind]

    @cached_property
    def trials_by_id(self) -> dict[str, Trial]:
        return {t.id: t for t in self.trials}

    def n_rated_stimuli(self) -> int:
        """Rating rows one listener produces by answering every trial."""
        return sum(len(t.stimuli) for t in self.trials)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "kind": self.kind,
            "test_id": self.test_id,
            "seed": self.seed,
            "sample_rate": self.sample_rate,
            "systems": list(self.systems),
            "items": list(self.items),
            "anchor": self.anchor,
            "sources": dict(self.sources),
            "created": self.created,
            "stimuli": {sid: asdict(s) for sid, s in self.stimuli.items()},
            "trials": [{**asdict(t), "stimuli": list(t.stimuli)} for t in self.trials],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        try:
            if data.get("format") != FORMAT_VERSION:
                raise ManifestError(f"unsupported test.json format {data.get('format')!r}")
            manifest = cls(
                kind=data["kind"],
                test_id=data["test_id"],
                seed=int(data["seed"]),
                sample_rate=int(data["sample_rate"]),
                systems=tuple(data["systems"]),
                items=tuple(data["items"]),
                stimuli={sid: Stimulus(**s) for sid, s in data["stimuli"].items()},
                trials=tuple(
                    Trial(
                        id=t["id"],
                        utterance=t["utterance"],
                        stimuli=tuple(t["stimuli"]),
                        open_reference=t.get("open_reference"),
                    )
                    for t in data["trials"]
                ),
                anchor=data.get("anchor"),
                sources=dict(data.get("sources", {})),
                created=data.get("created", ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ManifestError):
                raise
            raise ManifestError(f"test.json is malformed: {exc!r}") from exc
        manifest.check()
        return manifest

    def check(self) -> None:
        """Refuse manifests whose references do not line up (hand-edited or truncated files)."""
        if self.kind not in KINDS:
            raise ManifestError(f"unknown test kind {self.kind!r} (one of {', '.join(KINDS)})")
        if not self.trials:
            raise ManifestError("test.json has no trials")
        seen: set[str] = set()
        for trial in self.trials:
            if trial.id in seen:
                raise ManifestError(f"trial id {trial.id} appears twice")
            seen.add(trial.id)
            ids = (*trial.stimuli, *((trial.open_reference,) if trial.open_reference else ()))
            for sid in ids:
                stimulus = self.stimuli.get(sid)
                if stimulus is None:
                    raise ManifestError(f"trial {trial.id} names unknown stimulus {sid}")
                if stimulus.system not in self.systems:
                    raise ManifestError(f"stimulus {sid} has unknown system {stimulus.system}")
                if Path(stimulus.file).is_absolute() or ".." in Path(stimulus.file).parts:
                    raise ManifestError(f"stimulus {sid} file {stimulus.file!r} leaves the test")

    def save(self, test_dir: Path) -> None:
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"
        write_atomic(Path(test_dir) / MANIFEST, text)

    @classmethod
    def load(cls, test_dir: Path) -> Manifest:
        path = Path(test_dir) / MANIFEST
        if not path.is_file():
            raise ManifestError(f"{test_dir} is not a listening test: {MANIFEST} not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ManifestError(f"{path} is not a JSON object")
        return cls.from_dict(data)


@dataclass(frozen=True)
class PlannedTrial:
    """A trial as one listener sees it: stimuli in that listener's (blinded) order."""

    trial: Trial
    stimuli: tuple[str, ...]


def listener_seed(seed: int, listener: str) -> int:
    """A seed from (test seed, listener id) that is stable across processes and Python versions.

    ``hash()`` is salted per process, so a reload served by a restarted server would reorder.
    """
    digest = hashlib.sha256(f"{seed}\x00{listener}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def listener_plan(manifest: Manifest, listener: str) -> list[PlannedTrial]:
    """The listener's order of trials and of the stimuli within each trial.

    A pure function of (manifest, listener id): listeners get different orders (order effects
    average out over listeners), and a reload or a server restart gives the same order, so a
    listener resumes exactly where they stopped.
    """
    rng = random.Random(listener_seed(manifest.seed, listener))
    trials = list(manifest.trials)
    rng.shuffle(trials)
    plan = []
    for trial in trials:
        order = list(trial.stimuli)
        rng.shuffle(order)
        plan.append(PlannedTrial(trial, tuple(order)))
    return plan

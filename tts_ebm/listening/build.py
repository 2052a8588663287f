"""Build a test folder from systems' folders of wavs: blinded stimuli, trials and ``test.json``.

Stimuli are re-encoded (same sample rate, channels and sample format) under random names: the
names carry no system, and re-encoding drops metadata chunks (encoder tags, titles) that could.
The folder is assembled next to its destination and renamed into place, so a failed build never
leaves a half-made test that someone could start serving.
"""

from __future__ import annotations

import itertools
import random
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tts_ebm.listening.design import (
    ANCHOR,
    KINDS,
    OPEN_REFERENCE,
    RATED,
    REFERENCE,
    Manifest,
    Stimulus,
    Trial,
)

STIMULUS_DIR = "stimuli"
# ITU-R BS.1534-3 low anchor: the reference low-pass filtered at 3.5 kHz.
ANCHOR_CUTOFF_HZ = 3500.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


class BuildError(ValueError):
    """Unusable input (missing folder, nothing in common, mixed sample rates); one line."""


@dataclass(frozen=True)
class BuildReport:
    """The manifest written, and the utterances left out because some folder lacks them."""

    manifest: Manifest
    out_dir: Path
    incomplete: dict[str, tuple[str, ...]]  # utterance -> systems that lack it


def parse_system(spec: str) -> tuple[str, Path]:
    """``NAME=DIR`` of ``--system``; the name is what results tables show."""
    name, sep, folder = spec.partition("=")
    if not sep or not name or not folder:
        raise BuildError(f"--system {spec!r}: expected NAME=DIR")
    return name, Path(folder)


def _check_names(systems: Mapping[str, Path]) -> None:
    for name in systems:
        if not _NAME.fullmatch(name):
            raise BuildError(
                f"system name {name!r}: use 1-64 letters, digits and _.+- (starting with a "
                "letter or digit)"
            )
        if name in (REFERENCE, ANCHOR):
            raise BuildError(f"system name {name!r} is reserved; pass it as --{name} DIR")


def scan_folder(label: str, folder: Path) -> dict[str, Path]:
    """The wavs of one folder by file stem (the utterance id that pairs systems)."""
    if not folder.is_dir():
        raise BuildError(f"{label}: {folder} is not a folder")
    wavs: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".wav" or not path.is_file():
            continue
        if path.stem in wavs:
            raise BuildError(f"{label}: two files for utterance {path.stem!r} in {folder}")
        wavs[path.stem] = path
    if not wavs:
        raise BuildError(f"{label}: no .wav files in {folder}")
    return wavs


def lowpass_anchor(
    audio: np.ndarray, sample_rate: int, cutoff: float = ANCHOR_CUTOFF_HZ
) -> np.ndarray:
    """The BS.1534 low anchor: zero-phase 8th-order Butterworth low-pass (frames × channels).

    Zero phase keeps the anchor time-aligned with the reference, so only bandwidth differs.
    """
    from scipy.signal import butter, sosfiltfilt

    if sample_rate <= 2 * cutoff:
        raise BuildError(
            f"cannot make a {cutoff:.0f} Hz low-pass anchor at {sample_rate} Hz; pass --anchor"
        )
    sos = butter(8, cutoff, btype="low", fs=sample_rate, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), audio.shape[0] - 1)
    return sosfiltfilt(sos, audio, axis=0, padlen=max(padlen, 0)).astype(audio.dtype)


def _read(path: Path) -> tuple[np.ndarray, int, str]:
    import soundfile as sf

    try:
        info = sf.info(str(path))
        audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several types for corrupt files
        raise BuildError(f"cannot read {path}: {exc}") from exc
    if audio.shape[0] == 0:
        raise BuildError(f"{path} contains no samples")
    return audio, rate, info.subtype


def _write(path: Path, audio: np.ndarray, rate: int, subtype: str) -> None:
    import soundfile as sf

    if subtype.startswith("PCM") or subtype in ("ULAW", "ALAW"):
        audio = np.clip(audio, -1.0, 1.0)
    sf.write(str(path), audio, rate, subtype=subtype, format="WAV")


def _check_rates(files: dict[str, dict[str, Path]], items: list[str]) -> int:
    """The one sample rate of every stimulus: a listener must not hear rate differences."""
    import soundfile as sf

    rates: dict[int, Path] = {}
    for wavs in files.values():
        for item in items:
            path = wavs[item]
            try:
                info = sf.info(str(path))
            except Exception as exc:
                raise BuildError(f"cannot read {path}: {exc}") from exc
            if info.frames == 0:
                raise BuildError(f"{path} contains no samples")
            rates.setdefault(info.samplerate, path)
    if len(rates) > 1:
        (r1, p1), (r2, p2) = list(rates.items())[:2]
        raise BuildError(
            f"sample rates differ: {p1} is {r1} Hz but {p2} is {r2} Hz (resample them first)"
        )
    return next(iter(rates))


def _new_id(taken: set[str]) -> str:
    while (token := secrets.token_hex(8)) in taken:
        pass
    taken.add(token)
    return token


def build_test(
    kind: str,
    systems: Mapping[str, Path],
    out_dir: Path,
    *,
    reference: Path | None = None,
    anchor: Path | None = None,
    items: int | None = None,
    seed: int = 0,
) -> BuildReport:
    """Make the test folder ``out_dir`` (stimuli/, test.json) of a MOS, MUSHRA or A/B test.

    MOS and A/B treat ``reference``/``anchor`` as two more systems (natural speech as the upper
    bound). MUSHRA needs ``reference``: it is both the open reference and a hidden condition; the
    anchor defaults to the reference low-passed at 3.5 kHz. ``items`` draws that many utterances
    (seeded) from those every folder has.
    """
    if kind not in KINDS:
        raise BuildError(f"unknown test kind {kind!r} (one of {', '.join(KINDS)})")
    _check_names(systems)
    if kind == "mushra" and reference is None:
        raise BuildError("a MUSHRA test needs --reference DIR (the hidden and open reference)")
    folders: dict[str, Path] = dict(systems)
    if reference is not None:
        folders[REFERENCE] = reference
    if anchor is not None:
        folders[ANCHOR] = anchor
    if not systems:
        raise BuildError("no systems: give --system NAME=DIR at least once")
    if kind == "ab" and len(folders) < 2:
        raise BuildError("an A/B test needs at least two systems (--reference counts as one)")
    if seed < 0:
        raise BuildError(f"--seed must be non-negative, not {seed}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BuildError(f"{out_dir} already exists and is not empty; choose a new --out")

    files = {name: scan_folder(name, folder) for name, folder in folders.items()}
    all_stems = set().union(*(set(w) for w in files.values()))
    common = sorted(set.intersection(*(set(w) for w in files.values())))
    if not common:
        counts = ", ".join(f"{name}: {len(w)} wavs" for name, w in files.items())
        raise BuildError(f"no utterance (file stem) is in every folder ({counts})")
    incomplete = {
        stem: tuple(name for name, w in files.items() if stem not in w)
        for stem in sorted(all_stems - set(common))
    }
    rng = random.Random(seed)
    if items is not None:
        if items < 1:
            raise BuildError(f"--items must be at least 1, not {items}")
        if items > len(common):
            raise BuildError(f"--items {items}: only {len(common)} utterances are in every folder")
        chosen = sorted(rng.sample(common, items))
    else:
        chosen = common
    sample_rate = _check_rates(files, chosen)
    if kind == "mushra" and anchor is None and sample_rate <= 2 * ANCHOR_CUTOFF_HZ:
        raise BuildError(f"cannot low-pass at 3.5 kHz at {sample_rate} Hz; pass --anchor DIR")

    system_names = list(folders)
    if kind == "mushra" and ANCHOR not in system_names:
        system_names.append(ANCHOR)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        (work / STIMULUS_DIR).mkdir()
        taken: set[str] = set()
        stimuli: dict[str, Stimulus] = {}
        by_key: dict[tuple[str, str], str] = {}

        def add(system: str, item: str, audio: np.ndarray, subtype: str, role: str) -> str:
            sid = _new_id(taken)
            relative = f"{STIMULUS_DIR}/{sid}.wav"
            _write(work / relative, audio, sample_rate, subtype)
            stimuli[sid] = Stimulus(sid, system, item, relative, role)
            return sid

        open_refs: dict[str, str] = {}
        for item in chosen:
            for name in folders:
                audio, _, subtype = _read(files[name][item])
                by_key[name, item] = add(name, item, audio, subtype, RATED)
                if kind == "mushra" and name == REFERENCE:
                    open_refs[item] = add(name, item, audio, subtype, OPEN_REFERENCE)
                    if anchor is None:
                        low = lowpass_anchor(audio, sample_rate)
                        by_key[ANCHOR, item] = add(ANCHOR, item, low, subtype, RATED)

        trials = _trials(kind, system_names, chosen, by_key, open_refs, taken)
        trial_order = list(trials)
        rng.shuffle(trial_order)  # the manifest's order says nothing about systems either
        manifest = Manifest(
            kind=kind,
            test_id=secrets.token_hex(8),
            seed=seed,
            sample_rate=sample_rate,
            systems=tuple(system_names),
            items=tuple(chosen),
            stimuli=stimuli,
            trials=tuple(trial_order),
            anchor=(
                None
                if ANCHOR not in system_names
                else ("given" if anchor is not None else f"lowpass-{ANCHOR_CUTOFF_HZ:.0f}Hz")
            ),
            sources={name: str(folder) for name, folder in folders.items()},
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        manifest.check()
        manifest.save(work)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BuildReport(manifest=manifest, out_dir=out_dir, incomplete=incomplete)


def _trials(
    kind: str,
    systems: list[str],
    items: list[str],
    by_key: dict[tuple[str, str], str],
    open_refs: dict[str, str],
    taken: set[str],
) -> list[Trial]:
    """MOS: one trial per stimulus; MUSHRA: one per item with every condition; A/B: one per
    (pair of systems, item)."""
    trials = []
    for item in items:
        if kind == "mos":
            for system in systems:
                trials.append(Trial(_new_id(taken), item, (by_key[system, item],)))
        elif kind == "mushra":
            stimuli = tuple(by_key[system, item] for system in systems)
            trials.append(Trial(_new_id(taken), item, stimuli, open_reference=open_refs[item]))
        else:
            for a, b in itertools.combinations(systems, 2):
                trials.append(Trial(_new_id(taken), item, (by_key[a, item], by_key[b, item])))
    return trials

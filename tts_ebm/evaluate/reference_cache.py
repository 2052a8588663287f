"""What the evaluator learns of a reference wav, kept on disk between evaluations.

A recipe scores dozens of systems against the same references, one ``tts-ebm evaluate`` per
system; the reference side (WORLD analysis, recogniser transcripts, predicted MOS) is about half
of each run's time and never changes. One ``.npz`` per reference holds it, named by a hash of the
file's resolved path, size and modification time and of the analysis settings, so an edited
reference or a different setting misses the cache instead of reusing stale results.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from tts_ebm.evaluate.world import WorldConfig, WorldFeatures

FORMAT = 1


class ReferenceCache:
    """Reference results by file, in memory and (with ``folder``) on disk.

    An entry is a dict: ``world`` (:class:`WorldFeatures`), ``<recogniser>_hyp`` (str),
    ``mos`` (float). :meth:`entry` gives the live dict to fill; :meth:`save` writes it back.
    """

    def __init__(self, world: WorldConfig, folder: Path | None = None) -> None:
        self.world = world
        self.folder = folder
        self._entries: dict[str, dict] = {}
        self._stored: dict[str, set[str]] = {}  # names already on disk, per key

    def _key(self, path: Path) -> str:
        stat = path.stat()
        ident = [str(path.resolve()), stat.st_size, stat.st_mtime_ns, repr(self.world), FORMAT]
        return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:32]

    def entry(self, path: Path) -> dict:
        key = self._key(path)
        if key not in self._entries:
            self._entries[key] = self._load(key)
            self._stored[key] = set(self._entries[key])
        return self._entries[key]

    def save(self, path: Path) -> None:
        """Write the entry of ``path`` when it gained results since it was read or written."""
        key = self._key(path)
        entry = self._entries.get(key)
        if self.folder is None or entry is None or set(entry) == self._stored[key]:
            return
        arrays: dict[str, np.ndarray] = {}
        scalars = {name: value for name, value in entry.items() if name != "world"}
        if "world" in entry:
            arrays["f0"], arrays["mcep"] = entry["world"].f0, entry["world"].mcep
        arrays["scalars"] = np.array(json.dumps(scalars, default=float))
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, self.folder / f"{key}.npz")
        self._stored[key] = set(entry)

    def _load(self, key: str) -> dict:
        """The stored entry, or an empty one (no folder, no file, or a file that cannot be read:
        a cache never fails an evaluation, it only recomputes)."""
        if self.folder is None or not (self.folder / f"{key}.npz").is_file():
            return {}
        try:
            with np.load(self.folder / f"{key}.npz", allow_pickle=False) as stored:
                entry = json.loads(str(stored["scalars"]))
                if "f0" in stored:
                    entry["world"] = WorldFeatures(f0=stored["f0"], mcep=stored["mcep"])
        except (OSError, ValueError, KeyError):
            return {}
        return entry

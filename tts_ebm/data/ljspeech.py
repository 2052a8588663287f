"""LJSpeech-1.1: download (or reuse) the corpus and fix its train/val/test split.

The split is the one Tacotron 2 published (12,500 / 100 / 500 utterances; most LJSpeech papers
report on its test list), fetched from NVIDIA's filelists. Without network, a seeded random split
of the same sizes stands in, and every caller is told so: results on it are not comparable with
published numbers. Once written, a split is kept (``split.json``): re-running, even online, never
moves utterances between train and test behind an experiment's back.

Layout written under ``OUT``::

    downloads/LJSpeech-1.1.tar.bz2   the archive (when downloaded), verified by sha256 and size
    LJSpeech-1.1/                    the extracted corpus (unless an existing folder is used)
    filelists/ljs_audio_text_*.txt   the Tacotron 2 filelists (when downloaded)
    corpus/                          what ``tts-ebm prepare`` reads: train + val only
        metadata.csv  wavs -> the corpus' wavs  train_ids.txt  val_ids.txt
    test.txt, test_ids.txt           the held-out test split (``id|normalized text``)
    split.json                       where the split came from, and its sizes
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tts_ebm.data.download import Checksum, DownloadError, Progress, download, extract_tar
from tts_ebm.files import write_atomic

LJSPEECH_URL = "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2"
# Published with the dataset's mirrors and in torchaudio / Homebrew; size in bytes as served.
LJSPEECH_SHA256 = "be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5"
LJSPEECH_BYTES = 2_748_572_632
LJSPEECH_DIR = "LJSpeech-1.1"
FILELISTS_URL = "https://raw.githubusercontent.com/NVIDIA/tacotron2/master/filelists"
FILELISTS = {
    "train": "ljs_audio_text_train_filelist.txt",
    "val": "ljs_audio_text_val_filelist.txt",
    "test": "ljs_audio_text_test_filelist.txt",
}
STANDARD_SIZES = {"train": 12_500, "val": 100, "test": 500}
SPLITS = ("train", "val", "test")
_LJ_ID = re.compile(r"LJ\d{3}-\d{4}")

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Split:
    """Ids of each split; ``source`` says where they came from, ``note`` why (for the user)."""

    train: list[str]
    val: list[str]
    test: list[str]
    source: str  # "tacotron2" | "seeded"
    note: str = ""
    fell_back: bool = False  # seeded because the Tacotron 2 lists could not be used

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SPLITS}


def is_ljspeech_folder(folder: Path) -> bool:
    return (folder / "metadata.csv").is_file() and (folder / "wavs").is_dir()


def obtain_corpus(
    out_dir: Path,
    *,
    source: Path | None = None,
    archive: Path | None = None,
    url: str = LJSPEECH_URL,
    sha256: str | None = LJSPEECH_SHA256,
    size: int | None = LJSPEECH_BYTES,
    keep_archive: bool = True,
    progress: Callable[[str], Progress] | None = None,
    notify: Notify = print,
) -> Path:
    """The LJSpeech folder to use: ``source`` as given, an earlier extraction in ``out_dir``,
    ``archive`` extracted, or the archive downloaded from ``url`` and extracted.

    ``progress(description)`` returns a progress callback for one long step (download, checksum,
    extraction). Pass ``sha256=None, size=None`` to skip verification (a mirror of unknown
    content); the default is the published LJSpeech-1.1 archive.
    """
    if source is not None:
        if not is_ljspeech_folder(source):
            raise ValueError(
                f"{source} is not an LJSpeech-format folder (metadata.csv and wavs/ expected)"
            )
        return source
    extracted = out_dir / LJSPEECH_DIR
    if is_ljspeech_folder(extracted):
        notify(f"using {extracted} (extracted earlier)")
        return extracted
    checksums = (Checksum("sha256", sha256),) if sha256 else ()
    if archive is None:
        dest = out_dir / "downloads" / url.rstrip("/").rsplit("/", 1)[-1]
        notify(f"downloading {url} → {dest} (resumes an interrupted download)")
        archive = download(
            url,
            dest,
            size=size,
            checksums=checksums,
            progress=progress("download + verify") if progress else None,
        )
    else:
        from tts_ebm.data.download import verify

        notify(f"verifying {archive}")
        try:
            verify(
                archive,
                size=size,
                checksums=checksums,
                progress=progress("verify") if progress else None,
            )
        except DownloadError as exc:
            raise DownloadError(f"{archive} is not the expected archive: {exc}") from None
    notify(f"extracting {archive} → {out_dir}")
    tops = extract_tar(archive, out_dir, progress=progress("extract") if progress else None)
    found = [out_dir / top for top in tops if is_ljspeech_folder(out_dir / top)]
    if not found:
        raise ValueError(
            f"{archive} holds no LJSpeech-format folder (metadata.csv + wavs/) at its top level"
        )
    if not keep_archive and archive.parent == out_dir / "downloads":
        archive.unlink()
    return found[0]


def read_metadata(corpus: Path) -> dict[str, str]:
    """``id → metadata.csv line`` (kept verbatim so the corpus view is byte-identical) of a
    corpus folder or of the ``metadata.csv`` file itself."""
    path = corpus if corpus.is_file() else corpus / "metadata.csv"
    rows: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.setdefault(line.split("|", 1)[0].strip(), line)
    return rows


def normalized_text(line: str) -> str:
    """The normalised column of a metadata line, or the raw one where it is missing."""
    fields = line.split("|")
    if len(fields) > 2 and fields[2].strip():
        return fields[2].strip()
    return fields[1].strip() if len(fields) > 1 else ""


def scaled_sizes(n: int) -> dict[str, int]:
    """Split sizes for ``n`` utterances: the standard 12,500 / 100 / 500 for the full 13,100,
    proportionally fewer (at least one each when possible) for a smaller corpus."""
    total = sum(STANDARD_SIZES.values())
    if n >= total:
        return {"train": n - 600, "val": 100, "test": 500}
    test = max(1, round(n * STANDARD_SIZES["test"] / total)) if n >= 3 else 0
    val = max(1, round(n * STANDARD_SIZES["val"] / total)) if n >= 3 else 0
    return {"train": n - val - test, "val": val, "test": test}


def seeded_split(
    ids: Sequence[str],
    seed: int = 0,
    val_size: int | None = None,
    test_size: int | None = None,
    note: str = "",
) -> Split:
    """A reproducible random split: same ids and seed, same split on any machine."""
    ordered = sorted(set(ids))
    sizes = scaled_sizes(len(ordered))
    val_n = sizes["val"] if val_size is None else val_size
    test_n = sizes["test"] if test_size is None else test_size
    if val_n < 0 or test_n < 0 or val_n + test_n >= len(ordered):
        raise ValueError(
            f"cannot hold out {val_n} val + {test_n} test utterances of {len(ordered)}: "
            "lower --val-size / --test-size"
        )
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(ordered))
    test = sorted(ordered[i] for i in order[:test_n])
    val = sorted(ordered[i] for i in order[test_n : test_n + val_n])
    held = set(test) | set(val)
    train = [i for i in ordered if i not in held]
    return Split(train, val, test, "seeded", note)


def read_filelist_ids(path: Path) -> list[str]:
    """Ids of a Tacotron 2 filelist (``DUMMY/LJ001-0001.wav|text`` lines)."""
    ids = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        audio = line.split("|", 1)[0].strip()
        utt_id = audio.rsplit("/", 1)[-1].removesuffix(".wav")
        if not _LJ_ID.fullmatch(utt_id):
            raise ValueError(f"{path}:{number}: {audio!r} is not an LJSpeech wav path")
        ids.append(utt_id)
    return ids


def fetch_tacotron2_lists(
    dest_dir: Path, base_url: str = FILELISTS_URL, timeout: float = 20.0
) -> dict[str, list[str]]:
    """Download (or reuse) the three filelists; raises :class:`DownloadError` when offline."""
    lists = {}
    for name, filename in FILELISTS.items():
        path = download(
            f"{base_url.rstrip('/')}/{filename}",
            dest_dir / filename,
            timeout=timeout,
            retries=1,
            retry_wait=1.0,
        )
        lists[name] = read_filelist_ids(path)
    seen: set[str] = set()
    for name, ids in lists.items():
        overlap = seen & set(ids)
        if overlap:
            raise ValueError(f"the Tacotron 2 {name} list repeats ids of another list: {overlap}")
        seen |= set(ids)
    return lists


def tacotron2_split(
    corpus_ids: Sequence[str],
    lists_dir: Path,
    *,
    base_url: str = FILELISTS_URL,
    seed: int = 0,
    notify: Notify = print,
) -> Split:
    """The Tacotron 2 split restricted to ``corpus_ids``; a seeded split of the same sizes (and
    a message saying so) when the lists cannot be downloaded or do not fit the corpus."""
    try:
        lists = fetch_tacotron2_lists(lists_dir, base_url)
    except (DownloadError, ValueError) as exc:
        return _fallback(corpus_ids, seed, f"the Tacotron 2 filelists could not be used ({exc})")
    present = set(corpus_ids)
    split = {name: [i for i in lists[name] if i in present] for name in SPLITS}
    empty = [name for name in SPLITS if not split[name]]
    if empty:
        return _fallback(
            corpus_ids, seed, f"the corpus has no utterance of the Tacotron 2 {'/'.join(empty)}"
        )
    listed = set().union(*(set(ids) for ids in lists.values()))
    unlisted = sorted(present - listed)
    note = ""
    if unlisted:
        note = f"{len(unlisted)} corpus ids are in no Tacotron 2 list and were left out"
        notify(f"note: {note} (e.g. {', '.join(unlisted[:3])})")
    missing = len(listed - present)
    if missing:
        notify(f"note: {missing} ids of the Tacotron 2 lists are not in the corpus (ignored)")
    return Split(
        sorted(split["train"]), sorted(split["val"]), sorted(split["test"]), "tacotron2", note
    )


def _fallback(corpus_ids: Sequence[str], seed: int, reason: str) -> Split:
    split = seeded_split(corpus_ids, seed)
    sizes = split.sizes()
    note = (
        f"{reason}: FELL BACK to a seeded random split (seed {seed}) of the same sizes, "
        f"{sizes['train']} / {sizes['val']} / {sizes['test']} (train / val / test); results "
        "on it are not comparable with published LJSpeech numbers"
    )
    return Split(split.train, split.val, split.test, "seeded", note, fell_back=True)


def load_split(out_dir: Path) -> Split | None:
    """The split written by an earlier run, or None."""
    meta = out_dir / "split.json"
    if not meta.is_file():
        return None
    data = json.loads(meta.read_text())
    ids = {
        name: (out_dir / ("test_ids.txt" if name == "test" else f"corpus/{name}_ids.txt"))
        .read_text()
        .split()
        for name in SPLITS
    }
    return Split(
        ids["train"],
        ids["val"],
        ids["test"],
        data["source"],
        data.get("note", ""),
        bool(data.get("fell_back", False)),
    )


def write_split(out_dir: Path, corpus: Path, split: Split, extra: dict | None = None) -> None:
    """The corpus view (train + val rows, a link to the wavs), id lists, test.txt, split.json.

    ``split.json`` is written last: its presence means the split is complete.
    """
    rows = read_metadata(corpus)
    view = out_dir / "corpus"
    view.mkdir(parents=True, exist_ok=True)
    lines = [rows[i] for i in sorted(split.train + split.val)]
    write_atomic(view / "metadata.csv", "".join(f"{line}\n" for line in lines))
    wavs = view / "wavs"
    target = (corpus / "wavs").resolve()
    inside = target.is_relative_to(out_dir.resolve())
    link = os.path.relpath(target, view.resolve()) if inside else str(target)
    if wavs.is_symlink() or wavs.exists():
        if not wavs.is_symlink():
            raise ValueError(f"{wavs} exists and is not a link; remove it and run again")
        wavs.unlink()
    wavs.symlink_to(link, target_is_directory=True)
    write_atomic(view / "train_ids.txt", "".join(f"{i}\n" for i in split.train))
    write_atomic(view / "val_ids.txt", "".join(f"{i}\n" for i in split.val))
    write_atomic(out_dir / "test_ids.txt", "".join(f"{i}\n" for i in split.test))
    write_atomic(
        out_dir / "test.txt", "".join(f"{i}|{normalized_text(rows[i])}\n" for i in split.test)
    )
    meta = {
        **(extra or {}),
        "source": split.source,
        "fell_back": split.fell_back,
        "note": split.note,
        "sizes": split.sizes(),
        "corpus": str(corpus.resolve()),
    }
    write_atomic(out_dir / "split.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def prepare_ljspeech(
    out_dir: Path,
    *,
    source: Path | None = None,
    archive: Path | None = None,
    url: str = LJSPEECH_URL,
    sha256: str | None = LJSPEECH_SHA256,
    size: int | None = LJSPEECH_BYTES,
    keep_archive: bool = True,
    split_kind: str = "tacotron2",
    filelists_url: str = FILELISTS_URL,
    seed: int = 0,
    resplit: bool = False,
    progress: Callable[[str], Progress] | None = None,
    notify: Notify = print,
) -> Split:
    """Obtain the corpus, then write (or keep) its split under ``out_dir``; see the module
    docstring for the layout. ``split_kind`` is ``tacotron2`` (with the seeded fallback) or
    ``seeded``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = obtain_corpus(
        out_dir,
        source=source,
        archive=archive,
        url=url,
        sha256=sha256,
        size=size,
        keep_archive=keep_archive,
        progress=progress,
        notify=notify,
    )
    rows = read_metadata(corpus)
    previous = None if resplit else load_split(out_dir)
    if previous is not None:
        unknown = sorted(set(previous.train + previous.val + previous.test) - set(rows))
        if unknown:
            raise ValueError(
                f"the split in {out_dir / 'split.json'} names ids this corpus lacks "
                f"({', '.join(unknown[:3])}...); pass --resplit to make a new one"
            )
        kept = " (fell back: no Tacotron 2 lists)" if previous.fell_back else ""
        notify(f"keeping the existing {previous.source} split{kept}; --resplit makes a new one")
        extra = json.loads((out_dir / "split.json").read_text())
        write_split(out_dir, corpus, previous, extra)
        return previous
    if split_kind == "tacotron2":
        split = tacotron2_split(rows, out_dir / "filelists", base_url=filelists_url, seed=seed)
    elif split_kind == "seeded":
        split = seeded_split(rows, seed, note=f"seeded random split (seed {seed}), as asked")
    else:
        raise ValueError(f"unknown split {split_kind!r}: tacotron2 or seeded")
    if split.note:
        notify(("warning: " if split.fell_back else "note: ") + split.note)
    tacotron2 = split.source == "tacotron2"
    write_split(
        out_dir,
        corpus,
        split,
        {"seed": seed, "filelists_url": filelists_url if tacotron2 else None},
    )
    return split

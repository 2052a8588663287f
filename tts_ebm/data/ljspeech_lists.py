"""Train and val sentence lists from an LJSpeech ``metadata.csv`` alone (no wavs needed).

The festival recipe speaks LJSpeech's transcripts; anyone with LJSpeech's ``metadata.csv`` gets
the lists it reads from here. The split is the standard Tacotron 2 one (its filelists from
``--filelists DIR`` or, online, downloaded), else the seeded split of the same sizes that
``tts-ebm corpus ljspeech`` falls back to; either way the test ids stay out of both lists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tts_ebm.data.ljspeech import FILELISTS_URL, Notify, Split, read_metadata, tacotron2_split


def write_sentence_lists(
    metadata: Path,
    dest: Path,
    *,
    filelists: Path | None = None,
    base_url: str = FILELISTS_URL,
    seed: int = 0,
    notify: Notify = print,
) -> Split:
    """Write ``dest/train.txt``, ``val.txt`` (metadata lines verbatim) and ``test_ids.txt``."""
    if not metadata.is_file():
        raise ValueError(f"no LJSpeech metadata file at {metadata}")
    rows = read_metadata(metadata)
    if not rows:
        raise ValueError(f"{metadata} holds no id|text line")
    lists = filelists or dest / "filelists"
    split = tacotron2_split(rows, lists, base_url=base_url, seed=seed, notify=notify)
    if split.fell_back:
        notify(f"warning: {split.note}")
    dest.mkdir(parents=True, exist_ok=True)
    for name, ids in (("train", split.train), ("val", split.val)):
        (dest / f"{name}.txt").write_text("".join(f"{rows[i]}\n" for i in ids), encoding="utf-8")
    (dest / "test_ids.txt").write_text("".join(f"{i}\n" for i in split.test), encoding="utf-8")
    sizes = split.sizes()
    notify(
        f"{split.source} split of {metadata}: {sizes['train']} train, {sizes['val']} val "
        f"(+ {sizes['test']} test ids held out) -> {dest}"
    )
    return split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tts_ebm.data.ljspeech_lists", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("metadata", type=Path, help="LJSpeech metadata.csv (id|text|normalized)")
    parser.add_argument("dest", type=Path, help="folder for train.txt, val.txt, test_ids.txt")
    parser.add_argument(
        "--filelists",
        type=Path,
        help="folder with the Tacotron 2 ljs_audio_text_{train,val,test}_filelist.txt "
        "(default: DEST/filelists, downloaded when online)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fallback split (0)")
    args = parser.parse_args(argv)
    try:
        write_sentence_lists(args.metadata, args.dest, filelists=args.filelists, seed=args.seed)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

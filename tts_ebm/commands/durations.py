"""`tts-ebm durations`: a trained model's MAS durations for a prepared corpus."""

from __future__ import annotations

import argparse
from pathlib import Path


def _durations(args: argparse.Namespace) -> int:
    from tts_ebm.progress import count_progress
    from tts_ebm.train.durations import export_durations

    splits = tuple(s.strip() for s in args.split.split(",") if s.strip())
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is available")
    with count_progress() as bar:
        task = bar.add_task("aligning", total=None)
        meta = export_durations(
            args.checkpoint,
            args.prepared_dir,
            args.out_dir,
            splits=splits,
            batch_size=args.batch_size,
            device=args.device,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    print(
        f"durations of {meta['n_utterances']} utterances ({meta['n_tokens']} tokens, "
        f"{meta['n_zero_duration_tokens']} without a frame) → {args.out_dir}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "durations",
        help="export a trained model's durations (MAS) for a prepared corpus",
        description=(
            "Align every utterance of PREPARED_DIR with CHECKPOINT's encoder by monotonic "
            "alignment search and write OUT_DIR/ID.npy (int64 frames per token, blanks "
            "included) and OUT_DIR/durations.json (the front end used, counts). Train on them "
            "with `tts-ebm train ... data.durations_dir=OUT_DIR`. The checkpoint's front end "
            "must read the prepared phoneme strings (same --frontend at prepare time)."
        ),
    )
    p.add_argument(
        "checkpoint", type=Path, help="inference checkpoint (.safetensors) or Lightning .ckpt"
    )
    p.add_argument("prepared_dir", type=Path, help="output of `tts-ebm prepare`")
    p.add_argument("out_dir", type=Path, help="where ID.npy and durations.json are written")
    p.add_argument("--split", default="train,val", help="comma-separated splits (train,val)")
    p.add_argument("--batch-size", type=int, default=16, help="utterances per batch (16)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: cpu")
    p.set_defaults(handler=_durations)

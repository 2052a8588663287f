"""`tts-ebm synthesize`: text → wav with a checkpoint and a vocoder."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tts_ebm.commands.speed_options import add_speed_options

if TYPE_CHECKING:
    from tts_ebm.synthesis import SynthesisOptions, Synthesizer

_ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _step_sizes(value: str) -> float | list[float]:
    """``--step-size 0.5`` or a comma-separated schedule ``1,0.5,0.25`` (one value per step)."""
    try:
        sizes = [float(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or a list of numbers: {value!r}") from None
    return sizes[0] if len(sizes) == 1 else sizes


def _knobs(args: argparse.Namespace) -> dict:
    """Knobs given on the command line; the rest come from the checkpoint."""
    steps = args.steps
    if isinstance(args.step_size, list) and steps is None:
        steps = len(args.step_size)
    return {
        "steps": steps,
        "step_size": args.step_size,
        "temperature": args.temperature,
        "langevin": args.langevin,
        "speaking_rate": args.speaking_rate,
        "schedule": args.schedule,
        "step_size_min": args.step_size_min,
        "stop_threshold": args.stop_threshold,
        "solver": args.solver,
        "seed": args.seed,
        "batch_size": args.batch_size,
    }


def _check_writable(path: Path) -> None:
    """Fail before synthesising rather than after, when the output cannot be written."""
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror}: {exc.filename}") from exc
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise ValueError(f"cannot write {path}: permission denied or read-only file system")


def _save(result, out: Path, save_mel: bool) -> None:
    from tts_ebm.audio import save_wav

    save_wav(out, result.waveform, result.sample_rate)
    if save_mel:
        import numpy as np

        np.save(out.with_suffix(".mel.npy"), result.mel)
        np.save(out.with_suffix(".prior.npy"), result.prior_mel)
        from tts_ebm import plots

        figure = plots.mel_figure({"prior μ": result.prior_mel, "refined": result.mel})
        plots.save(figure, out.with_suffix(".mel.png"))


def _speed(timings: list[tuple[float, float, float]]) -> dict[str, float]:
    """Totals of (audio s, acoustic s, vocoder s) per output, and the real-time factors."""
    seconds, acoustic, vocoding = (sum(column) for column in zip(*timings, strict=True))
    return {
        "audio_seconds": seconds,
        "acoustic_seconds": acoustic,
        "vocoder_seconds": vocoding,
        "acoustic_rtf": acoustic / seconds,
        "vocoder_rtf": vocoding / seconds,
    }


def _report_speed(
    timings: list[tuple[float, float, float]], vocoder: str, file: TextIO | None = None
) -> dict[str, float]:
    """Print the real-time factors of :func:`_speed` (to stdout as it is when called, not as
    it was at import), and return its numbers."""
    file = file or sys.stdout
    speed = _speed(timings)
    print(f"audio: {speed['audio_seconds']:.2f} s", file=file)
    print(
        f"acoustic model: {speed['acoustic_seconds']:.3f} s, RTF {speed['acoustic_rtf']:.3f}",
        file=file,
    )
    print(
        f"vocoder ({vocoder}): {speed['vocoder_seconds']:.3f} s, RTF {speed['vocoder_rtf']:.3f}",
        file=file,
    )
    return speed


def _read_lines(path: Path) -> list[tuple[int, str | None, str]]:
    """(line number, id or None, text) of every non-blank line of a ``text`` / ``id|text`` file.

    Bytes that are not UTF-8 become surrogates, as on the command line and stdin, so the front
    end refuses that line with the same message and the other lines still run."""
    entries = []
    content = path.read_text(encoding="utf-8", errors="surrogateescape")
    for number, line in enumerate(content.splitlines(), start=1):
        if line.strip():
            utt_id, sep, text = line.partition("|")
            entries.append((number, utt_id.strip() if sep else None, text if sep else line))
    return entries


def _stdin_text() -> str:
    """Standard input decoded as Python decodes the command line (bad bytes become surrogates),
    whatever the locale, so binary input meets the front end's check like a TEXT argument."""
    return sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")


def _timing(result) -> tuple[float, float, float]:
    return result.seconds, result.acoustic_seconds, result.vocoder_seconds


def _write_timing(
    out_dir: Path,
    speed: dict[str, float],
    jobs: list,
    synth: Synthesizer,
    options: SynthesisOptions,
) -> None:
    """``DIR/timing.json``: the printed totals, with what they were measured on and with, so
    a recipe summary can set systems' synthesis cost beside their quality."""
    from tts_ebm.recipe import TIMING_FILE

    record = {
        **speed,
        "utterances": len(jobs),
        "sentences": sum(len(sentences) for _, sentences in jobs),
        "device": str(synth.device),
        "vocoder": synth.vocoder.label,
        "knobs": asdict(options),
    }
    (out_dir / TIMING_FILE).write_text(json.dumps(record, indent=2) + "\n")


def _synthesize_file(args: argparse.Namespace, entries: list, synth) -> int:
    knobs = _knobs(args)
    options = synth.options(**knobs)  # bad knobs fail before any work
    batch_size = options.batch_size
    width = len(str(max((n for n, _, _ in entries), default=1)))
    jobs, seen, n_bad = [], set(), 0
    for number, utt_id, text in entries:
        name = utt_id if utt_id is not None else f"{number:0{width}d}"
        try:
            if not _ID_RE.fullmatch(name):
                raise ValueError(f"id {name!r} is not a safe file name ([A-Za-z0-9_.-])")
            if name in seen:
                raise ValueError(f"id {name!r} was already used")
            jobs.append((args.out_dir / f"{name}.wav", synth.sentences(text)))
            seen.add(name)
        except ValueError as exc:
            n_bad += 1
            print(f"{args.file}:{number}: skipped: {exc}", file=sys.stderr)
    if not jobs:
        raise ValueError(f"no line of {args.file} could be synthesised")
    _check_writable(args.out_dir / jobs[0][0].name)
    timings = []
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        outputs = synth.run([sentences for _, sentences in chunk], **knobs)
        for (out, _), result in zip(chunk, outputs, strict=True):
            _save(result, out, args.save_mel)
            timings.append(_timing(result))
    print(f"wrote {len(timings)} files to {args.out_dir}, skipped {n_bad} lines")
    speed = _report_speed(timings, synth.vocoder.label)
    _write_timing(args.out_dir, speed, jobs, synth, options)
    return 0


def _output(args: argparse.Namespace) -> str | None:
    """Where the single-text audio goes: a .wav path, '-' (wav on stdout), or None (raw)."""
    if args.output_raw:
        if args.out is not None or args.file is not None:
            raise ValueError("--output-raw writes to standard output: give TEXT only")
        return None
    if args.out is None:
        raise ValueError("give both TEXT and OUT.wav (or '-' for a wav on stdout, or --output-raw)")
    if args.out != "-" and Path(args.out).suffix.lower() != ".wav":
        raise ValueError(f"the output must be a .wav file or '-', got {args.out}")
    return args.out


def _synthesize(args: argparse.Namespace) -> int:
    single = args.text is not None or args.out is not None or args.output_raw
    if single == (args.file is not None) or (args.file is None) != (args.out_dir is None):
        raise ValueError("give TEXT and OUT.wav, or --file FILE and --out-dir DIR")
    if single and args.text is None:
        raise ValueError("give both TEXT and OUT.wav")
    out = _output(args) if single else None
    if single and args.save_mel and out in (None, "-"):
        raise ValueError("--save-mel needs an OUT.wav file")
    text = _stdin_text() if args.text == "-" else args.text
    if single:
        if not text.strip():
            raise ValueError("text is empty")  # before loading anything
        if out not in (None, "-"):
            _check_writable(Path(out))
    else:
        entries = _read_lines(args.file)

    from tts_ebm.threads import configure_threads

    configure_threads(args.threads)
    from tts_ebm.checkpoint import voice_path
    from tts_ebm.synthesis import Synthesizer

    synth = Synthesizer.from_pretrained(
        args.checkpoint if args.voice is None else voice_path(args.voice),
        device=args.device,
        vocoder=args.vocoder,
        vocoder_runtime=args.vocoder_runtime,
    )
    if not single:
        return _synthesize_file(args, entries, synth)
    if args.save_mel:
        result = synth.synthesize_detailed(text, **_knobs(args))
        print(f"phonemes: {result.phonemes}")
        _save(result, Path(out), save_mel=True)
        print(f"wrote {out}")
        _report_speed([_timing(result)], synth.vocoder.label)
        return 0
    return _stream(synth, text, _knobs(args), out)


def _stream(synth, text: str, knobs: dict, out: str | None) -> int:
    """Write audio sentence by sentence as it is made, with a progress bar on stderr. Ctrl-C
    or SIGTERM keeps the sentences done as a valid wav; an error removes the unfinished file."""
    from tts_ebm.audio_output import audio_sink
    from tts_ebm.interrupts import sigterm_as_interrupt
    from tts_ebm.progress import count_progress

    to_file = out not in (None, "-")
    report = sys.stdout if to_file else sys.stderr  # stdout carries the audio otherwise
    synth.options(**knobs)  # bad knobs fail before any work
    sentences = synth.sentences(text)
    seconds = acoustic = vocoding = 0.0
    done = 0
    try:
        with (
            sigterm_as_interrupt(),
            count_progress(stderr=True, transient=True) as progress,
            audio_sink(out or "-", synth.sample_rate, raw=out is None) as write,
        ):
            task = progress.add_task("sentences", total=len(sentences))
            for chunk in synth.stream_detailed(sentences, **knobs):
                write(chunk.waveform)
                seconds += len(chunk.waveform) / synth.sample_rate
                acoustic += chunk.acoustic_seconds
                vocoding += chunk.vocoder_seconds
                done = chunk.sentence_index  # the sentences before this one are complete
                progress.update(task, completed=done)
    except KeyboardInterrupt:
        if to_file:
            print(f"kept {done} of {len(sentences)} sentences in {out}", file=sys.stderr)
        raise
    except BaseException:
        if to_file:
            Path(out).unlink(missing_ok=True)
        raise
    print(f"phonemes: {' '.join(s.phonemes for s in sentences)}", file=report)
    print(f"wrote {out}" if to_file else "wrote standard output", file=report)
    _report_speed([(seconds, acoustic, vocoding)], synth.vocoder.label, file=report)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "synthesize",
        help="speak text into wav files (the shipped default voice, --voice or --checkpoint)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Synthesise speech:\n"
            '  tts-ebm synthesize "Some text." out.wav\n'
            "  tts-ebm synthesize --file lines.txt --out-dir wavs/ [--batch-size N]\n\n"
            "The acoustic model predicts a first guess μ of the mel, then refines it:\n"
            "  Y₀ = μ + τ·ε,  Y_{k+1} = Y_k − η_k ∇E(Y_k; μ) + √(2η_kλ)·ε_k,  k < K\n"
            "(a flow-matching decoder takes K Euler steps of its vector field instead)\n"
            "and the vocoder turns Y into audio. Long text is split into sentences, which are\n"
            "batched and joined with 0.25 s pauses (0.6 s after a blank line). Knobs left out\n"
            "take the checkpoint's defaults. Prints the phonemes and the real-time factors\n"
            "(seconds of compute per second of audio) of acoustic model and vocoder."
        ),
    )
    p.add_argument("text", nargs="?", help="text to speak ('-' reads standard input)")
    p.add_argument(
        "out",
        nargs="?",
        help="output wav (22050 Hz, 16-bit mono), written sentence by sentence; '-' writes the "
        "wav to standard output",
    )
    p.add_argument(
        "--output-raw",
        action="store_true",
        help="write raw float32 little-endian samples to standard output as they are made, "
        "e.g. | aplay -r 22050 -f FLOAT_LE (no OUT)",
    )
    p.add_argument(
        "--file",
        type=Path,
        help="text file, one utterance per line: 'text' or 'id|text'; bad lines are reported "
        "and skipped",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        help="with --file: writes DIR/ID.wav, or DIR/LINE.wav (line number) for lines without "
        "id, and DIR/timing.json (the seconds and real-time factors printed, and the knobs)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        help="sentences per batch through acoustic model and vocoder (default 16)",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--voice",
        help="a packaged voice: default, or an optional one such as nce or flow (the list: "
        "tts-ebm voice list)",
    )
    source.add_argument(
        "--checkpoint",
        help="inference checkpoint: PATH, hf://OWNER/REPO[@REV]/FILE.safetensors (through "
        "the Hugging Face cache; offline when cached) or a voice name; default: the shipped "
        "default voice",
    )
    p.add_argument(
        "--steps",
        type=int,
        help="K, the number of refinement steps (a flow decoder: solver steps); 0 = μ itself",
    )
    p.add_argument(
        "--solver",
        choices=("euler", "midpoint", "heun"),
        help="a flow decoder's ODE solver: euler (one network evaluation a step), midpoint or "
        "heun (second order, two a step); default: the checkpoint's, else euler",
    )
    p.add_argument(
        "--step-size",
        type=_step_sizes,
        metavar="ETA[,ETA...]",
        help="η, the step size on the energy gradient; a comma list gives η_k per step "
        "(and --steps defaults to its length)",
    )
    p.add_argument(
        "--schedule",
        choices=("constant", "linear", "cosine"),
        help="step size over the K steps: constant η, or a linear / cosine decay from η at the "
        "first step to --step-size-min at the last (default constant)",
    )
    p.add_argument("--step-size-min", type=float, help="η_min of a decaying schedule (default 0)")
    p.add_argument(
        "--stop-threshold",
        type=float,
        help="stop refining a sentence once the RMS of its score −∇E falls below this "
        "(default 0: always K steps)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        help="τ, multiplies the initial noise: Y₀ = μ + τ·ε; 0 = start at μ",
    )
    p.add_argument(
        "--langevin",
        type=float,
        help="λ, scales the per-step noise √(2ηλ)·ε; 0 = plain gradient descent, "
        "1 = Langevin dynamics of p ∝ exp(−E)",
    )
    p.add_argument(
        "--speaking-rate",
        type=float,
        help="multiplies the predicted durations: > 1 slower, < 1 faster (default: the "
        "checkpoint's, else 1)",
    )
    p.add_argument(
        "--vocoder",
        default="universal",
        help="universal (HiFi-GAN V1 universal, default), ljspeech (HiFi-GAN V1 LJSpeech), "
        "griffin-lim (no weights, for checks), hf://OWNER/REPO[@REV]/PATH, or a local HiFi-GAN "
        "V1 weight file (.pth, .pth.tar, .pt, .safetensors)",
    )
    add_speed_options(p)
    p.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
    p.add_argument(
        "--seed",
        type=int,
        help="seed of the noise (temperature, langevin); same seed, same audio (default 0)",
    )
    p.add_argument(
        "--save-mel",
        action="store_true",
        help="also write OUT.mel.npy (refined log-mel), OUT.prior.npy (μ) and OUT.mel.png",
    )
    p.set_defaults(handler=_synthesize)

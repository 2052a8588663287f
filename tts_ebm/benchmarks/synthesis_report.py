"""The synthesis benchmark's printed report: rich tables of each section and the targets'
verdicts, from the JSON-able result alone."""

from __future__ import annotations

from rich.console import Console

from tts_ebm.benchmarks.common import format_bytes, print_table, verdict


def print_report(result: dict, console: Console) -> None:
    env = result["environment"]
    console.print(
        f"synthesis on {env['device']} ({env['processor']}, {env['torch_threads']} threads), "
        f"load average {env['load_average_start']} → {result['load_average_end']}"
    )
    if "acoustic" in result:
        _print_acoustic(result, console)
    if "vocoder_runtimes" in result:
        _print_runtimes(result["vocoder_runtimes"], console)
    if "streaming" in result:
        _print_streaming(result["streaming"], console)
    if "pipeline_rtf" in result:
        _print_pipeline(result["pipeline_rtf"], console)
    if "file_memory" in result:
        _print_file_memory(result["file_memory"], console)
    for note in result["skipped"]:
        console.print(f"skipped {note}")
    for target in result["targets"]:
        note = "" if target["applies"] else " (indicative: not the target's setting)"
        value = "–" if target["value"] is None else f"{target['value']:.4g}"
        console.print(
            f"{target['name']} {value} {target['comparison']} {target['limit']:g}: "
            f"{verdict(target['passed'])}{note}"
        )


def _load(section: dict) -> str:
    start, end = section["load_average"]
    return f"load {start} → {end}"


def _print_acoustic(result: dict, console: Console) -> None:
    params = result["parameters"]
    console.print(
        f"acoustic: {result['model']} model, {result['audio_seconds']:.2f} s of audio "
        f"({result['frames']} frames, {result['tokens']} tokens); parameters: encoder "
        f"{params['encoder'] / 1e6:.2f} M, energy {params['energy'] / 1e6:.2f} M, flow baseline "
        f"{params['flow_decoder'] / 1e6:.2f} M; memory: {result['memory_method']}"
    )
    pipeline = {("ebm", r["batch_size"], r["steps"]): f"{r['rtf']:.4f}" for r in result["pipeline"]}
    print_table(
        console,
        "acoustic model (encoder + durations + K decoder steps), medians; × RT = 1/RTF",
        ("decoder", "batch", "K", "wall s", "CPU s", "RTF", "× RT", "RTF+voc", "peak mem"),
        [
            (
                row["decoder"],
                row["batch_size"],
                row["steps"],
                f"{row['seconds']:.4f}",
                f"{row['cpu_seconds']:.4f}",
                f"{row['rtf']:.5f}",
                f"{1 / row['rtf']:.0f}",
                pipeline.get((row["decoder"], row["batch_size"], row["steps"]), ""),
                format_bytes(row["peak_memory_bytes"]),
            )
            for row in result["acoustic"]
        ],
    )
    if result["vocoder"]:
        print_table(
            console,
            "vocoder alone",
            ("vocoder", "batch", "wall s", "CPU s", "RTF", "× RT", "peak mem"),
            [
                (
                    row["name"],
                    row["batch_size"],
                    f"{row['seconds']:.4f}",
                    f"{row['cpu_seconds']:.4f}",
                    f"{row['rtf']:.5f}",
                    f"{1 / row['rtf']:.0f}",
                    format_bytes(row["peak_memory_bytes"]),
                )
                for row in result["vocoder"]
            ],
        )
    print_table(
        console,
        "EBM (K steps) / Euler baseline time",
        ("batch", "EBM steps", "Euler steps", "ratio"),
        [
            (r["batch_size"], r["ebm_steps"], r["euler_steps"], f"{r['ratio']:.2f}")
            for r in result["ratios"]
        ],
    )
    if result["compiled"]:
        print_table(
            console,
            "acoustic model, torch.compile'd energy network vs eager",
            ("batch", "K", "eager s", "compiled s", "speed-up", "first call s"),
            [
                (
                    r["batch_size"],
                    r["steps"],
                    f"{r['eager_seconds']:.4f}",
                    f"{r['compiled_seconds']:.4f}",
                    f"{r['speedup']:.2f}",
                    f"{r['first_call_seconds']:.1f}",
                )
                for r in result["compiled"]
            ],
        )


def _print_runtimes(section: dict, console: Console) -> None:
    print_table(
        console,
        f"vocoder runtimes on one mel ({section['audio_seconds']:.2f} s, {section['frames']} "
        f"frames, {section['weights']}), {section['threads']} threads, interleaved rounds, "
        f"medians; {_load(section)}",
        ("runtime", "wall s", "CPU s", "× reference", "SNR dB", "max |diff|", "first call s"),
        [
            (
                row["name"] + (" (default)" if row["name"] == section["default_runtime"] else ""),
                f"{row['seconds']:.4f}",
                f"{row['cpu_seconds']:.4f}",
                f"{row['speedup']:.2f}",
                "–" if row["snr_db"] is None else f"{row['snr_db']:.1f}",
                f"{row['max_abs_difference']:.2g}",
                f"{row['first_call_seconds']:.2f}",
            )
            for row in section["runtimes"]
        ],
    )
    for note in section["skipped"]:
        console.print(f"  not run: {note}")


def _print_streaming(section: dict, console: Console) -> None:
    difference = section["join_max_abs_difference"]
    print_table(
        console,
        f"streaming {section['sentences']} sentences ({section['audio_seconds']:.1f} s of "
        f"audio), interleaved with synthesize(), medians; {_load(section)}",
        ("first chunk s", "stream s", "synthesize s", "first / total", "joined vs synthesize"),
        [
            (
                f"{section['first_chunk_seconds']:.3f}",
                f"{section['stream']['seconds']:.3f}",
                f"{section['synthesize']['seconds']:.3f}",
                f"{section['first_chunk_ratio']:.3f}",
                "lengths differ" if difference is None else f"max |diff| {difference:.2g}",
            )
        ],
    )


def _print_pipeline(section: dict, console: Console) -> None:
    print_table(
        console,
        f"whole pipeline, text → waveform ({section['audio_seconds']:.1f} s of audio), "
        f"interleaved, medians; {_load(section)}",
        ("threads", "wall s", "CPU s", "RTF", "acoustic RTF", "vocoder RTF"),
        [
            (
                row["threads"],
                f"{row['seconds']:.3f}",
                f"{row['cpu_seconds']:.3f}",
                f"{row['rtf']:.4f}",
                f"{row['acoustic_rtf']:.4f}",
                f"{row['vocoder_rtf']:.4f}",
            )
            for row in section["threads"]
        ],
    )


def _print_file_memory(section: dict, console: Console) -> None:
    print_table(
        console,
        f"{section['command']}, {section['sentences']} sentences ({section['source']}); "
        f"{_load(section)}",
        ("wavs", "audio s", "wall s", "peak RSS"),
        [
            (
                section["wavs"],
                f"{section['audio_seconds']:.1f}",
                f"{section['seconds']:.1f}",
                format_bytes(section["peak_rss_bytes"]),
            )
        ],
    )

"""`tts-ebm voice list` and `tts-ebm voice export`: the packaged voices, and making one."""

from __future__ import annotations

import argparse
from pathlib import Path

from tts_ebm.commands.train import add_default_knob_options, default_knobs


def _list(args: argparse.Namespace) -> int:
    from tts_ebm.checkpoint import packaged_voices, voice_header, voice_path
    from tts_ebm.synthesis import SynthesisOptions

    for name in packaged_voices():
        meta = voice_header(name)
        base = meta.get("base")
        size = voice_path(name).stat().st_size / 1e6
        knobs = SynthesisOptions.from_checkpoint(meta["inference"])  # unstored: the defaults
        print(
            f"{name:<10} {size:5.1f} MB  {'on ' + base['name'] if base else 'full':<12} "
            f"{meta['info'].get('objective', {}).get('name', '?'):<6} "
            f"{meta['network']['energy']['form']:<9} "
            f"K={knobs.steps} η={knobs.step_size:g} τ={knobs.temperature:g} "
            f"rate={knobs.speaking_rate:g}"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    from tts_ebm.checkpoint import export_voice

    print(f"wrote {export_voice(args.checkpoint, args.out, args.base, default_knobs(args))}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "voice",
        help="list the packaged voices, or make a small voice that rides on one",
        description=(
            "Packaged voices are tts_ebm/voices/NAME.safetensors; `tts-ebm synthesize --voice "
            "NAME` and Synthesizer.from_pretrained(NAME) use them. A voice made by `export` "
            "stores only the energy (or flow decoder) of a run trained on a base voice's frozen "
            "encoder (init_from + model.freeze_encoder), in float16, and takes the encoder and "
            "durations from the base when loaded; a base with another encoder is refused."
        ),
    )
    sub = p.add_subparsers(dest="voice_command", metavar="ACTION", required=True)
    s = sub.add_parser(
        "list",
        help="name, size, base, criterion, energy form and default knobs of each voice",
    )
    s.set_defaults(handler=_list)
    e = sub.add_parser(
        "export",
        help="write a run's energy as a voice on a base voice",
        description="Refuses a run whose encoder is not the base's.",
    )
    e.add_argument("checkpoint", type=Path, help="the run's model.safetensors (or a .ckpt)")
    e.add_argument("out", type=Path, help="output .safetensors (tts_ebm/voices/NAME.safetensors)")
    e.add_argument("--base", default="default", help="packaged voice it rides on (default)")
    add_default_knob_options(e)
    e.set_defaults(handler=_export)

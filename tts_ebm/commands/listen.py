"""`tts-ebm listen build|serve|results`: subjective listening tests (MOS, MUSHRA, A/B)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from tts_ebm.listening.build import build_test, parse_system

    systems: dict[str, Path] = {}
    for spec in args.system:
        name, folder = parse_system(spec)
        if name in systems:
            raise ValueError(f"--system {name} is given twice")
        systems[name] = folder
    report = build_test(
        args.kind,
        systems,
        args.out,
        reference=args.reference,
        anchor=args.anchor,
        items=args.items,
        seed=args.seed,
    )
    manifest = report.manifest
    if report.incomplete:
        shown = ", ".join(f"{u} (no {'/'.join(s)})" for u, s in list(report.incomplete.items())[:5])
        more = len(report.incomplete) - 5
        print(
            f"left out {len(report.incomplete)} utterances not in every folder: {shown}"
            + (f" and {more} more" if more > 0 else ""),
            file=sys.stderr,
        )
    print(
        f"{manifest.kind.upper()} test: {len(manifest.systems)} systems "
        f"({', '.join(manifest.systems)}), {len(manifest.items)} utterances, "
        f"{len(manifest.trials)} trials per listener, {manifest.sample_rate} Hz"
        + (f", anchor {manifest.anchor}" if manifest.anchor else "")
        + f" → {report.out_dir}"
    )
    print(f"serve it with: tts-ebm listen serve {report.out_dir}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from tts_ebm.interrupts import sigterm_as_interrupt
    from tts_ebm.listening.server import make_server

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    server = make_server(args.test_dir, args.host, args.port, log=log, access_log=args.verbose)
    manifest, store = server.manifest, server.store
    port = server.server_address[1]
    print(
        f"{manifest.kind.upper()} test with {len(manifest.trials)} trials per listener; "
        f"{store.count('listeners')} listeners and {store.count('ratings')} ratings stored so far"
    )
    if args.host in ("0.0.0.0", ""):
        print(
            f"serving on all network interfaces: listeners open http://<this machine's "
            f"address>:{port}/ (here: http://127.0.0.1:{port}/)"
        )
    else:
        print(f"serving at {server.url}")
    print("press Ctrl-C to stop; ratings are saved as they arrive", flush=True)

    try:
        with sigterm_as_interrupt():  # service managers and kill stop it like Ctrl-C
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        ratings = server.store.count("ratings")
        server.server_close()
    print(f"\nstopped; {ratings} ratings in {args.test_dir / 'ratings.sqlite'}")
    return 0


def _results(args: argparse.Namespace) -> int:
    from tts_ebm.listening.analysis import analyse
    from tts_ebm.listening.report import format_results, plot, write_csvs

    results = analyse(args.test_dir, post_screening=not args.no_post_screening, alpha=args.alpha)
    print(format_results(results))
    out = args.out if args.out is not None else args.test_dir / "results"
    written = write_csvs(results, out)
    written.append(plot(results, out / "scores.png"))
    print(f"\nwrote {', '.join(p.name for p in written)} → {out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "listen",
        help="listening tests: build, serve in a browser, analyse",
        description=(
            "Subjective evaluation of synthetic speech with MOS, MUSHRA or A/B tests: build a "
            "blinded test folder from systems' wav folders, serve it to listeners as a web page, "
            "then compute scores, confidence intervals and significance tests. "
            "See docs/listening.md."
        ),
    )
    sub = p.add_subparsers(dest="listen_command", metavar="ACTION", required=True)

    b = sub.add_parser(
        "build",
        help="make a test folder from systems' folders of wavs",
        description=(
            "Pair the systems' wavs by file stem, copy them under random names into OUT "
            "(stimuli/) and write OUT/test.json. MOS: naturalness 1-5 per stimulus. MUSHRA: one "
            "page per utterance with the open reference, a hidden reference, a low anchor "
            "(--anchor, or the reference low-passed at 3.5 kHz) and every system, 0-100. A/B: "
            "every pair of systems on every utterance; A, B or no preference."
        ),
    )
    b.add_argument("--kind", choices=("mos", "mushra", "ab"), required=True, help="test type")
    b.add_argument(
        "--system",
        action="append",
        required=True,
        metavar="NAME=DIR",
        help="a system's folder of wavs (repeat for each system)",
    )
    b.add_argument(
        "--reference",
        type=Path,
        metavar="DIR",
        help="natural recordings: required for MUSHRA, an extra system for MOS and A/B",
    )
    b.add_argument(
        "--anchor",
        type=Path,
        metavar="DIR",
        help="low-quality anchor wavs (MUSHRA default: reference low-passed at 3.5 kHz)",
    )
    b.add_argument("--out", type=Path, required=True, metavar="TEST_DIR", help="new test folder")
    b.add_argument(
        "--items", type=int, help="use N utterances drawn at random (default: all)", metavar="N"
    )
    b.add_argument("--seed", type=int, default=0, help="draw of utterances and orders (0)")
    b.set_defaults(handler=_build)

    s = sub.add_parser(
        "serve",
        help="serve a test to listeners' browsers",
        description=(
            "Serve TEST_DIR as a web page; ratings go to TEST_DIR/ratings.sqlite as they are "
            "submitted, and a listener who comes back with the same id continues where they "
            "stopped. The default host is reachable from this machine only; --host 0.0.0.0 "
            "serves the local network (no login: anyone who can reach the port can take part)."
        ),
    )
    s.add_argument("test_dir", type=Path, metavar="TEST_DIR")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="TCP port, 0 for any free one (8000)")
    s.add_argument("--verbose", action="store_true", help="log every HTTP request")
    s.set_defaults(handler=_serve)

    r = sub.add_parser(
        "results",
        help="scores, confidence intervals and significance tests",
        description=(
            "Per-system mean with a 95% t interval (MOS, MUSHRA; MUSHRA after BS.1534 "
            "post-screening), pairwise Wilcoxon signed-rank tests with Holm correction, or A/B "
            "preference counts with exact binomial tests. Writes ratings.csv, summary.csv, "
            "pairwise.csv, listeners.csv and scores.png to --out (TEST_DIR/results)."
        ),
    )
    r.add_argument("test_dir", type=Path, metavar="TEST_DIR")
    r.add_argument("--out", type=Path, metavar="DIR", help="output folder (TEST_DIR/results)")
    r.add_argument(
        "--no-post-screening",
        action="store_true",
        help="MUSHRA: keep listeners who fail the hidden-reference screening",
    )
    r.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    r.set_defaults(handler=_results)

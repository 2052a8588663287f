#!/usr/bin/env bash
# The synthesis and training benchmarks on a CUDA machine in one go, merged into one JSON.
#
#   benchmarks/gpu.sh [OUT.json]        (default runs/bench/gpu.json; PYTHON=... picks the python)
#
# Four runs, each under a time limit so that the whole stays under 8 minutes:
#   synthesis           every section on CUDA (an untrained default-size model for `acoustic`,
#                       the default voice for the rest), 2 warm-up + 5 timed repeats
#   synthesis-compile   the acoustic and vocoder sections with --compile (CUDA graphs), batch 1
#   training-fp32       default model, batch 32 x 300-400 frames, 2 warm-up + 5 steps
#   training-bf16       the same under bf16 autocast
# A run that fails or runs out of time is recorded with its exit status (124: time limit) and no
# result; the others are kept. The exit status is 1 when any run failed, 2 without CUDA.
set -euo pipefail

out=${1:-runs/bench/gpu.json}
python=${PYTHON:-python}

if ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null
then
    echo "gpu.sh: torch sees no CUDA device (with $python); run this on a GPU machine" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=()

run() {  # NAME LIMIT_SECONDS BENCHMARK-ARGUMENTS...
    local name=$1 limit=$2 status=0
    shift 2
    echo "== $name: tts-ebm benchmark $* (at most $limit s)" >&2
    timeout "$limit" "$python" -m tts_ebm.cli benchmark "$@" --json "$work/$name.json" || status=$?
    printf '%s\n' "$*" >"$work/$name.command"
    results+=("$name=$status")
}

run synthesis 170 synthesis --device cuda --repeats 5 --warmup 2
run synthesis-compile 200 synthesis --device cuda --compile --sections acoustic,vocoders \
    --steps-list 1,4 --batch-sizes 1 --repeats 5 --warmup 2
run training-fp32 45 training --device cuda --precision 32 --steps 5 --warmup 2
run training-bf16 45 training --device cuda --precision bf16 --steps 5 --warmup 2

"$python" - "$work" "$out" "${results[@]}" <<'EOF'
import json
import sys
from pathlib import Path

work, out = Path(sys.argv[1]), Path(sys.argv[2])
runs = {}
for item in sys.argv[3:]:
    name, status = item.rsplit("=", 1)
    result = work / f"{name}.json"
    runs[name] = {
        "command": "tts-ebm benchmark " + (work / f"{name}.command").read_text().strip(),
        "exit_status": int(status),
        "result": json.loads(result.read_text()) if result.is_file() else None,
    }
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps({"benchmark": "gpu", "runs": runs}, indent=2) + "\n")
failed = [name for name, run in runs.items() if run["exit_status"] != 0]
print(f"wrote {out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
sys.exit(1 if failed else 0)
EOF

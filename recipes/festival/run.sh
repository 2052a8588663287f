#!/usr/bin/env bash
# Build the offline LJSpeech stand-in: the LJSpeech transcripts spoken by festival's us_slt_hts
# voice, in LJSpeech format, keeping the standard train/val split (OUT/train_ids.txt, val_ids.txt).
# Reruns resume: wavs already made are kept.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
text_dir="${repo_root}/../shared/data/ljspeech-text"
out="${repo_root}/data/festival-ljspeech"
jobs=""
limit=""
python="${PYTHON:-python}"

usage() {
  cat <<USAGE
Usage: $0 [--text-dir DIR] [--out DIR] [--jobs N] [--limit N]

  --text-dir DIR  folder with train.txt and val.txt of id|text lines
                  (default: ../shared/data/ljspeech-text next to the repository)
  --out DIR       corpus directory (default: data/festival-ljspeech in the repository)
  --jobs N        parallel festival processes (default: number of CPU cores)
  --limit N       only the first N sentences of each file (quick checks)

Needs: apt-get install festival festvox-us-slt-hts. Set PYTHON to choose the interpreter.
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --text-dir) text_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

args=("${text_dir}/train.txt" "${text_dir}/val.txt" "${out}")
[[ -n "${jobs}" ]] && args+=(--jobs "${jobs}")
[[ -n "${limit}" ]] && args+=(--limit "${limit}")

cd "${repo_root}"
exec "${python}" -m tts_ebm.data.festival "${args[@]}"

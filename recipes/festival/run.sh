#!/usr/bin/env bash
# Build the offline LJSpeech stand-in: the LJSpeech transcripts spoken by festival's us_slt_hts
# voice, in LJSpeech format, keeping the standard train/val split (OUT/train_ids.txt, val_ids.txt).
# The sentence lists come from --text-dir, or are derived from LJSpeech's metadata.csv (--metadata).
# Reruns resume: wavs already made are kept.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
text_dir="${repo_root}/../shared/data/ljspeech-text"
metadata=""
filelists=""
out="${repo_root}/data/festival-ljspeech"
jobs=""
limit=""
python="${PYTHON:-python}"

usage() {
  cat <<USAGE
Usage: $0 [--text-dir DIR | --metadata FILE [--filelists DIR]] [--out DIR] [--jobs N] [--limit N]

  --text-dir DIR  folder with train.txt and val.txt of id|text lines
                  (default: ../shared/data/ljspeech-text next to the repository)
  --metadata FILE LJSpeech's metadata.csv: the lists are derived from it into OUT/lists, with
                  the standard Tacotron 2 train/val split (test ids left out) when its filelists
                  are found (--filelists, or downloaded), else a seeded split of the same sizes
  --filelists DIR folder with the Tacotron 2 ljs_audio_text_{train,val,test}_filelist.txt
  --out DIR       corpus directory (default: data/festival-ljspeech in the repository)
  --jobs N        parallel festival processes (default: number of CPU cores)
  --limit N       only the first N sentences of each file (quick checks)

Needs: apt-get install festival festvox-us-slt-hts. Set PYTHON to choose the interpreter.
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --text-dir) text_dir="$2"; shift 2 ;;
    --metadata) metadata="$2"; shift 2 ;;
    --filelists) filelists="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# Paths as the user typed them, before the cd that lets python find the package.
absolute() { [[ -z "$1" || "$1" == /* ]] && echo "$1" || echo "${PWD}/$1"; }
text_dir="$(absolute "${text_dir}")" out="$(absolute "${out}")"
metadata="$(absolute "${metadata}")" filelists="$(absolute "${filelists}")"
cd "${repo_root}"
if [[ -n "${metadata}" ]]; then
  text_dir="${out}/lists"
  lists=("${metadata}" "${text_dir}")
  [[ -n "${filelists}" ]] && lists+=(--filelists "${filelists}")
  "${python}" -m tts_ebm.data.ljspeech_lists "${lists[@]}"
fi

args=("${text_dir}/train.txt" "${text_dir}/val.txt" "${out}")
[[ -n "${jobs}" ]] && args+=(--jobs "${jobs}")
[[ -n "${limit}" ]] && args+=(--limit "${limit}")

exec "${python}" -m tts_ebm.data.festival "${args[@]}"

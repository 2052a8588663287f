#!/usr/bin/env bash
# LJSpeech-1.1 ready for training: download (resumable, sha256- and size-checked) or reuse an
# existing folder, then the Tacotron 2 train/val/test split (a seeded one, with a warning, when
# the filelists cannot be downloaded). Reruns reuse everything and keep the split.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${repo_root}/data/ljspeech"
python="${PYTHON:-python}"
passthrough=()

usage() {
  cat <<USAGE
Usage: $0 [--out DIR] [--source DIR] [options of tts-ebm corpus ljspeech]

  --out DIR       where the archive, the corpus and the split go (default: data/ljspeech)
  --source DIR    use this existing LJSpeech-1.1 folder (metadata.csv + wavs/), no download
Every other option goes to \`tts-ebm corpus ljspeech\` (--url, --sha256, --size, --archive,
--filelists-url, --split tacotron2|seeded, --seed, --resplit, --remove-archive); see its --help.
Set PYTHON to choose the interpreter.
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --resplit | --remove-archive) passthrough+=("$1"); shift ;;
    --*)
      if [[ $# -lt 2 ]]; then
        echo "option $1 needs a value" >&2
        exit 2
      fi
      passthrough+=("$1" "$2"); shift 2 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

exec "${python}" -m tts_ebm.cli corpus ljspeech "${out}" "${passthrough[@]}"

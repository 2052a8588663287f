#!/usr/bin/env bash
# Your own corpus, ready for training: check every line and audio header (bad lines, wrong
# sample rates, duplicates, missing files are reported and left out), write the good part in
# LJSpeech format, then prepare features and statistics.
set -euo pipefail

python="${PYTHON:-python}"
frontend="ipa"
jobs=0
check_args=()

usage() {
  cat <<USAGE
Usage: $0 CORPUS OUT [--frontend ipa|chars] [--jobs N] [--min-sample-rate HZ] [--strict]

  CORPUS   an LJSpeech-format folder (metadata.csv with id|text[|normalized], wavs/ID.wav)
           or a list of path|text lines (paths relative to the list)
  OUT      gets corpus/ (checked, LJSpeech format: links to your files), corpus/problems.tsv,
           and prepared/ (features and statistics for tts-ebm train)
  --frontend ipa|chars     phonemes (English, espeak-ng) or letters (any language); default ipa
  --jobs N                 feature extraction processes (default: CPU cores)
  --min-sample-rate HZ     accept audio down to this rate (default 22050; lower is refused)
  --strict                 stop when any entry has a problem
Set PYTHON to choose the interpreter.
USAGE
}

positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --frontend) frontend="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --min-sample-rate) check_args+=(--min-sample-rate "$2"); shift 2 ;;
    --strict) check_args+=(--strict); shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if [[ ${#positional[@]} -ne 2 ]]; then
  usage >&2
  exit 2
fi
corpus="${positional[0]}"
out="${positional[1]}"

tts() { "${python}" -m tts_ebm.cli "$@"; }

tts corpus check "${corpus}" "${out}/corpus" "${check_args[@]}"
tts prepare "${out}/corpus" "${out}/prepared" --frontend "${frontend}" --jobs "${jobs}"
cat <<NEXT

Ready. Train, for example:
  tts-ebm train data.prepared_dir=${out}/prepared objective=delta run_dir=runs/mine
or run the whole pipeline (train every criterion, synthesise, evaluate, listening test):
  egs/ljspeech/run.sh --ljspeech ${out}/corpus --split seeded --data ${out}/split
      --prepared ${out}/prepared --frontend ${frontend} --exp exp/mine
NEXT

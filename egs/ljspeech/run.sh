#!/usr/bin/env bash
# End-to-end experiment on LJSpeech-1.1: download (or reuse) the corpus with the Tacotron 2
# train/val/test split, prepare features, train each EBM criterion, synthesise the test set at
# several step counts, vocode the references, evaluate, build a listening test, summarise.
#   egs/ljspeech/run.sh --gpus 4                          # everything, DDP on 4 GPUs
#   egs/ljspeech/run.sh --ljspeech /data/LJSpeech-1.1     # an existing copy, no download
#   egs/ljspeech/run.sh --stage 3 --steps "1 4"           # from synthesis on
# See egs/README.md for the stages, outputs and measured times.
set -euo pipefail

egs_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${egs_dir}/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../common/pipeline.sh
source "${egs_dir}/../common/pipeline.sh"

pipeline_defaults
exp="${repo_root}/exp/ljspeech"
data_dir="${repo_root}/data/ljspeech"
ljspeech=""
corpus_args=()
test_size=500

usage() {
  cat <<USAGE
Usage: $0 [--exp DIR] [--data DIR] [--ljspeech DIR] [options]

LJSpeech-1.1 pipeline (stage 0: tts-ebm corpus ljspeech; see recipes/ljspeech/README.md).
Data options:
  --exp DIR            experiment folder (default: exp/ljspeech in the repository)
  --data DIR           download, extraction and split folder (default: data/ljspeech)
  --ljspeech DIR       use this existing LJSpeech-format folder (metadata.csv + wavs/)
  --url URL            archive URL (default: the official keithito.com one)
  --sha256 HEX         expected archive sha256 ('' skips; default: LJSpeech-1.1's)
  --size BYTES         expected archive size (0 skips; default: LJSpeech-1.1's)
  --filelists-url URL  folder URL of the Tacotron 2 filelists (default: NVIDIA/tacotron2 on GitHub)
  --split tacotron2|seeded
                       tacotron2 (default; falls back to a seeded split, saying so, when offline)
  --test-size N        synthesise and evaluate the first N test sentences (default ${test_size})
USAGE
  pipeline_usage
}

while [[ $# -gt 0 ]]; do
  pipeline_option "$@"
  if [[ ${consumed} -gt 0 ]]; then
    shift "${consumed}"
    continue
  fi
  case "$1" in
    --exp | --out) exp="$2"; shift 2 ;;
    --data) data_dir="$2"; shift 2 ;;
    --ljspeech) ljspeech="$2"; shift 2 ;;
    --url | --sha256 | --size | --filelists-url | --split) corpus_args+=("$1" "$2"); shift 2 ;;
    --test-size) test_size="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "${exp}" "${data_dir}"
exp="$(cd "${exp}" && pwd)"
data_dir="$(cd "${data_dir}" && pwd)"
prepared="${prepared:-${exp}/prepared}"
corpus="${data_dir}/corpus"
test_txt="${exp}/data/test.txt"
refs="${exp}/data/refs"

get_corpus() {
  local args=("${data_dir}" "${corpus_args[@]}")
  [[ -n ${ljspeech} ]] && args+=(--source "${ljspeech}")
  run_logged "${exp}/logs/corpus-ljspeech.log" tts corpus ljspeech "${args[@]}"
}

stage_data() {
  once corpus-ljspeech get_corpus
  # The fallback warning must not scroll by unseen: repeat it here.
  grep -E "^(warning|note):" "${exp}/logs/corpus-ljspeech.log" || true
  tail -n 1 "${exp}/logs/corpus-ljspeech.log"
  mkdir -p "${exp}/data"
  awk -v n="${test_size}" 'NR <= n' "${data_dir}/test.txt" >"${test_txt}"
  cut -d'|' -f1 "${test_txt}" >"${exp}/data/test_ids.txt"
  link_refs "${exp}/data/test_ids.txt" "${corpus}/wavs" "${refs}"
  log "  test set: $(wc -l <"${test_txt}") sentences → ${test_txt}"
}

log "experiment folder: ${exp}"
run_stage 0 data stage_data
pipeline_run
log "finished; summary in ${exp}/summary.md"

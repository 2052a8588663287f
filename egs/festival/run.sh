#!/usr/bin/env bash
# End-to-end experiment on the festival corpus (the offline LJSpeech stand-in): build the corpus,
# prepare features, train each EBM criterion, synthesise the test sentences at several step
# counts, vocode the references, evaluate, build a listening test, print a summary table.
#   egs/festival/run.sh --smoke --exp /tmp/smoke     # whole chain, tiny model, CPU, minutes
#   egs/festival/run.sh --stage 2 --stop-stage 3     # only train and synthesise
# See egs/README.md for the stages, outputs and measured times.
set -euo pipefail

egs_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${egs_dir}/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../common/pipeline.sh
source "${egs_dir}/../common/pipeline.sh"

pipeline_defaults
exp="${repo_root}/exp/festival"
text_dir="${repo_root}/../shared/data/ljspeech-text"
data_dir="${repo_root}/data/festival-ljspeech"
existing_corpus=""
metadata=""
filelists=""
limit=""
test_text=""
test_size=100
smoke=false
smoke_train=8
smoke_val=3

usage() {
  cat <<USAGE
Usage: $0 [--smoke] [--exp DIR] [options]

Festival corpus pipeline (stage 0 builds the corpus with festival's us_slt_hts voice).
Data options:
  --exp DIR (or --out DIR)  experiment folder (default: exp/festival in the repository)
  --text-dir DIR       train.txt and val.txt of id|text lines (default: ../shared/data/ljspeech-text)
  --metadata FILE      LJSpeech's metadata.csv instead: the lists are derived from it into
                       EXP/data/lists (the Tacotron 2 split where its filelists are found, else
                       a seeded split of the same sizes; see recipes/festival/run.sh)
  --filelists DIR      with --metadata: the Tacotron 2 ljs_audio_text_*_filelist.txt folder
  --data DIR           where the festival corpus is built (default: data/festival-ljspeech)
  --corpus DIR         use this already built festival corpus as it is (no festival run)
  --limit N            speak only the first N sentences of each list
  --test-text FILE     id|text sentences spoken into a held-out test set (default: the val set)
  --test-size N        synthesise and evaluate the first N test sentences (default ${test_size})
  --smoke              the whole chain in a few minutes on CPU: ${smoke_train} train + ${smoke_val} val
                       sentences (short ones), model=tiny, delta and flow trained side by side,
                       30 steps, K = 0 and 1 (delta's step size tuned on 0.5 and 1), Griffin-Lim
                       vocoder, metrics mcd,f0 (dio F0), a MUSHRA test; later options win
USAGE
  pipeline_usage
}

smoke_settings() {
  exp="${repo_root}/exp/festival-smoke"
  criteria="delta flow"
  parallel=2
  flow_steps="1"
  step_size_grid="0.5 1"
  model="tiny"
  max_steps=30
  batch_size=8
  jobs=2
  steps_list="0 1"
  vocoder="griffin-lim"
  synth_batch_size=8
  metrics="mcd,f0"
  eval_args="--f0-method dio"
  listen_kind="mushra"
  listen_steps=1
  train_args="data.num_workers=0 trainer.val_every_steps=1000000 trainer.checkpoint_every_steps=30"
  train_args+=" trainer.log_every_steps=10 trainer.val_media=0 trainer.vocoder=griffin-lim"
  train_args+=" trainer.optim.lr=3e-3 trainer.optim.warmup_steps=5"
}

for arg in "$@"; do
  if [[ ${arg} == --smoke ]]; then
    smoke=true
    smoke_settings
  fi
done
while [[ $# -gt 0 ]]; do
  pipeline_option "$@"
  if [[ ${consumed} -gt 0 ]]; then
    shift "${consumed}"
    continue
  fi
  case "$1" in
    --exp | --out) exp="$2"; shift 2 ;;
    --text-dir) text_dir="$2"; shift 2 ;;
    --metadata) metadata="$2"; shift 2 ;;
    --filelists) filelists="$2"; shift 2 ;;
    --data) data_dir="$2"; shift 2 ;;
    --corpus) existing_corpus="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --test-text) test_text="$2"; shift 2 ;;
    --test-size) test_size="$2"; shift 2 ;;
    --smoke) shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "${exp}"
exp="$(cd "${exp}" && pwd)"
prepared="${prepared:-${exp}/prepared}"
if [[ ${smoke} == true ]]; then
  data_dir="${exp}/data/corpus"
fi
corpus="${existing_corpus:-${data_dir}}"
test_txt="${exp}/data/test.txt"
refs="${exp}/data/refs"

# Short sentences (40-80 characters) keep the smoke chain fast; the lists stay the real ones.
write_smoke_text() {
  mkdir -p "${exp}/data/text"
  # shellcheck disable=SC2016 # an awk program, not shell
  local short='length($2) >= 40 && length($2) <= 80 && taken < n { print; taken++ }'
  awk -F'|' -v n="${smoke_train}" "${short}" "${text_dir}/train.txt" >"${exp}/data/text/train.txt"
  awk -F'|' -v n="${smoke_val}" "${short}" "${text_dir}/val.txt" >"${exp}/data/text/val.txt"
  text_dir="${exp}/data/text"
}

build_corpus() {
  local args=("${text_dir}/train.txt" "${text_dir}/val.txt" "${data_dir}")
  ((jobs > 0)) && args+=(--jobs "${jobs}")
  [[ -n ${limit} ]] && args+=(--limit "${limit}")
  run_logged "${exp}/logs/festival.log" tts corpus festival "${args[@]}"
  tail -n 1 "${exp}/logs/festival.log"
}

# test.txt (id|normalised text) and refs/ (links to the recordings) of the test sentences.
write_test_set() {
  local source="${corpus}" ids
  if [[ -n ${test_text} ]]; then
    source="${exp}/data/test-corpus"
    once festival-test run_logged "${exp}/logs/festival-test.log" \
      tts corpus festival "${test_text}" "${source}" --split-name test
    ids="${source}/test_ids.txt"
  else
    ids="${corpus}/val_ids.txt"
  fi
  mkdir -p "${exp}/data"
  awk -v n="${test_size}" 'NR <= n' "${ids}" >"${exp}/data/test_ids.txt"
  awk -F'|' 'NR == FNR { want[$1] = 1; next }
             ($1 in want) { print $1 "|" (NF > 2 && $3 != "" ? $3 : $2) }' \
    "${exp}/data/test_ids.txt" "${source}/metadata.csv" >"${test_txt}"
  link_refs "${exp}/data/test_ids.txt" "${source}/wavs" "${refs}"
  log "  test set: $(wc -l <"${test_txt}") sentences → ${test_txt}"
}

# The sentence lists of an LJSpeech metadata.csv (--metadata) → EXP/data/lists/{train,val}.txt.
derive_lists() {
  local args=("${metadata}" "${exp}/data/lists")
  [[ -n ${filelists} ]] && args+=(--filelists "${filelists}")
  run_logged "${exp}/logs/lists.log" "${python}" -m tts_ebm.data.ljspeech_lists "${args[@]}"
  tail -n 1 "${exp}/logs/lists.log"
}

stage_data() {
  if [[ -z ${existing_corpus} ]]; then
    if [[ -n ${metadata} ]]; then
      once lists derive_lists
      text_dir="${exp}/data/lists"
    fi
    [[ ${smoke} == true ]] && write_smoke_text
    once festival-corpus build_corpus
  elif [[ ! -f ${existing_corpus}/metadata.csv ]]; then
    echo "--corpus ${existing_corpus}: no metadata.csv there (build it without --corpus)" >&2
    exit 2
  fi
  write_test_set
}

log "experiment folder: ${exp}"
run_stage 0 data stage_data
pipeline_run
log "finished; summary in ${exp}/summary.md"

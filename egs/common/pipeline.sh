# shellcheck shell=bash disable=SC2154
# (SC2154: exp, corpus, test_txt, refs are set by the sourcing run.sh.)
# The stages every egs/*/run.sh shares, after its own data stage (0):
#   1 statistics  tts-ebm prepare: mels, phoneme ids, train/val lists, mel mean/std
#   2 train       one run per criterion (resumes an interrupted run)
#   3 synthesize  the test sentences with every criterion at every step count, and one
#                 side-by-side timing of every step count (EXP/acoustic_benchmark.json)
#   4 vocode      copy synthesis of the test references (the vocoded reference)
#   5 evaluate    objective metrics of every system against the references
#   6 listen      a listening test folder: criteria at --listen-steps + vocoded reference
#   7 summary     one table of metrics and stage times (EXP/summary.md)
# Sourced, not run. The caller sets the variables listed in pipeline_defaults, parses its
# options with pipeline_option, runs its data stage, then calls pipeline_run.
#
# Idempotent: a finished unit of work (one training run, one synthesis folder, ...) leaves
# EXP/.done/NAME and is skipped next time; delete that file (or use --force-stage N) to redo it.
# Unfinished work restarts or resumes. Every command's output goes to EXP/logs/NAME.log; a
# failure prints the log's tail and stops the script with a non-zero status.

pipeline_defaults() {
  python="${PYTHON:-python}"
  stage=0
  stop_stage=100
  force_stage=""
  criteria="delta ssm sance nce cd"
  model="default"
  max_steps=50000
  gpus=0
  batch_size=""
  train_args=""
  frontend="ipa"
  jobs=0
  steps_list="0 1 2 4 10"
  vocoder="universal"
  synth_batch_size=16
  metrics="mcd,f0,asr,mos"
  eval_args=""
  listen_kind="mushra"
  listen_steps=1
  listen_items=""
  verbose=false
  prepared=""
  prior=""
  parallel=1
  energy_form=""
  flow_steps="1 2 4 10"
  step_size_grid=""
  budgets=""
  tune_steps=""
}

pipeline_usage() {
  cat <<USAGE
Stages (--stage N --stop-stage M runs N..M; Kaldi-style):
  0 data    1 statistics    2 train    3 synthesize    4 vocode    5 evaluate
  6 listen  7 summary
Pipeline options:
  --stage N / --stop-stage M   first and last stage to run (default ${stage}..${stop_stage})
  --force-stage N              redo stage N even where it finished before
  --criteria "A B ..."         objectives to train (default: "${criteria}")
  --model NAME                 model config: default, small, tiny (default ${model})
  --max-steps N                training steps per criterion (default ${max_steps})
  --budgets "B1 B2 ..."        learning curves: each criterion trains on to B1, B2, ... steps
                               (one run, resumed; ascending) and every later stage treats
                               CRITERION@B (runs/CRITERION@B: the model at B steps) as a system;
                               pair with a schedule whose checkpoints are fair models, e.g.
                               --train-args "trainer.optim.schedule=constant trainer.ema_decay=0.999"
  --gpus N                     0 = CPU; N >= 1 GPUs, N > 1 with DDP (default ${gpus})
  --batch-size N               training batch size (default: the config's)
  --train-args "K=V ..."       more Hydra overrides for tts-ebm train
  --prior FILE                 a shared, frozen prior: every system starts from FILE's encoder
                               and durations and trains only its energy or flow decoder
  --energy-form FORM           scalar or quadratic energy head for the EBM criteria (flow: its own)
  --parallel N                 train N systems at a time, the CPU threads split among them
                               (default ${parallel})
  --frontend ipa|chars         text front end (default ${frontend})
  --jobs N                     processes for feature extraction (0 = CPU cores)
  --prepared DIR               prepared features (default EXP/prepared; share across EXPs)
  --steps "K1 K2 ..."          refinement step counts to synthesise (default "${steps_list}")
  --flow-steps "K1 K2 ..."     Euler step counts of the criterion 'flow' (default "${flow_steps}")
  --step-size-grid "E1 E2 ..." synthesise each EBM at each K with the step size of this grid
                               that refines the prepared val set best (tts-ebm step-sizes),
                               the flow with its best temperature τ;
                               default: each model's exported step size and τ
  --tune-steps "K1 K2 ..."     the step counts whose teacher-forced errors are measured with
                               --step-size-grid (default: those synthesised; more are cheap)
  --vocoder NAME               universal, ljspeech, griffin-lim, ... (default ${vocoder})
  --metrics LIST               tts-ebm evaluate metrics (default ${metrics})
  --eval-args "ARGS"           more tts-ebm evaluate options (e.g. "--f0-method dio")
  --listen-kind mos|mushra|ab  listening test type (default ${listen_kind})
  --listen-steps K             step count of the systems in the listening test (default ${listen_steps})
  --listen-items N             utterances in the listening test (default: all)
  --verbose                    show every command's output (always in EXP/logs/)
Environment: PYTHON picks the interpreter (default: python).
USAGE
}

# pipeline_option "$@": consumes one option; sets consumed=0 when it is not a pipeline option.
pipeline_option() {
  consumed=2
  case "$1" in
    --stage) stage="$2" ;;
    --stop-stage) stop_stage="$2" ;;
    --force-stage) force_stage="$2" ;;
    --criteria) criteria="$2" ;;
    --model) model="$2" ;;
    --max-steps) max_steps="$2" ;;
    --gpus) gpus="$2" ;;
    --batch-size) batch_size="$2" ;;
    --train-args) train_args="$2" ;;
    --prior) prior="$2" ;;
    --energy-form) energy_form="$2" ;;
    --parallel) parallel="$2" ;;
    --flow-steps) flow_steps="$2" ;;
    --step-size-grid) step_size_grid="$2" ;;
    --budgets) budgets="$2" ;;
    --tune-steps) tune_steps="$2" ;;
    --frontend) frontend="$2" ;;
    --jobs) jobs="$2" ;;
    --prepared) prepared="$2" ;;
    --steps) steps_list="$2" ;;
    --vocoder) vocoder="$2" ;;
    --metrics) metrics="$2" ;;
    --eval-args) eval_args="$2" ;;
    --listen-kind) listen_kind="$2" ;;
    --listen-steps) listen_steps="$2" ;;
    --listen-items) listen_items="$2" ;;
    --verbose) verbose=true; consumed=1 ;;
    *) consumed=0 ;;
  esac
  if [[ ${consumed} == 2 && $# -lt 2 ]]; then
    echo "option $1 needs a value" >&2
    exit 2
  fi
}

# A failing command anywhere (functions included) names itself before the script exits.
set -E
# ($? is saved first: the $(basename) substitution would reset it to 0.)
trap 'failed_status=$?; echo "$(basename "$0"): failed (exit ${failed_status}) at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

log() { echo "[$(date +%H:%M:%S)] $*"; }

tts() { "${python}" -m tts_ebm.cli "$@"; }

# run_logged LOG CMD...: runs CMD with its output in LOG (and on the screen with --verbose);
# on failure shows the log's last lines and exits non-zero.
run_logged() {
  local logfile="$1"
  shift
  mkdir -p "$(dirname "${logfile}")"
  local status=0
  if [[ ${verbose} == true ]]; then
    "$@" 2>&1 | tee "${logfile}" || status=$?
  else
    "$@" >"${logfile}" 2>&1 || status=$?
  fi
  if [[ ${status} != 0 ]]; then
    echo "FAILED (exit ${status}): $*" >&2
    echo "---- last lines of ${logfile} ----" >&2
    tail -n 25 "${logfile}" >&2
    exit "${status}"
  fi
}

# once NAME CMD...: runs CMD unless EXP/.done/NAME exists; creates it when CMD succeeds.
once() {
  local name="$1"
  shift
  local marker="${exp}/.done/${name}"
  if [[ -f ${marker} && ${current_stage} != "${force_stage}" ]]; then
    log "  ${name}: done before, skipped (rm ${marker} to redo)"
    return 0
  fi
  log "  ${name} ..."
  "$@"
  mkdir -p "${exp}/.done"
  date +%FT%T >"${marker}"
}

# run_stage N NAME FUNCTION: runs FUNCTION when N is in [stage, stop_stage], timed into timings.tsv.
run_stage() {
  local number="$1" name="$2" fn="$3"
  if ((number < stage || number > stop_stage)); then
    return 0
  fi
  current_stage="${number}"
  log "stage ${number}: ${name}"
  local start=${SECONDS}
  "${fn}"
  local took=$((SECONDS - start))
  printf '%s\t%s\t%s\n' "${number}-${name}" "${took}" "$(date +%FT%T)" >>"${exp}/timings.tsv"
  log "stage ${number}: ${name} done in ${took} s"
}

# link_refs IDS_FILE WAV_DIR OUT_DIR: OUT_DIR/ID.wav → WAV_DIR/ID.wav for every id (test refs).
link_refs() {
  local ids="$1" wav_dir="$2" out="$3"
  rm -rf "${out}"
  mkdir -p "${out}"
  local id target
  target="$(cd "${wav_dir}" && pwd -P)"
  while read -r id; do
    [[ -z ${id} ]] && continue
    if [[ ! -f "${target}/${id}.wav" ]]; then
      echo "reference wav missing: ${target}/${id}.wav" >&2
      exit 1
    fi
    ln -s "${target}/${id}.wav" "${out}/${id}.wav"
  done <"${ids}"
}

# ---- stages 1-7 --------------------------------------------------------------------------

stage_statistics() {
  once statistics run_logged "${exp}/logs/prepare.log" \
    tts prepare "${corpus}" "${prepared}" --frontend "${frontend}" --jobs "${jobs}"
  tail -n 2 "${exp}/logs/prepare.log"
}

# train_overrides STEPS: the overrides every training run shares, to STEPS steps.
train_overrides() {
  overrides=(
    "data.prepared_dir=${prepared}"
    "model=${model}"
    "trainer.max_steps=$1"
    resume=true
  )
  if ((gpus > 0)); then
    overrides+=(trainer.accelerator=gpu "trainer.devices=${gpus}")
    ((gpus > 1)) && overrides+=(trainer.strategy=ddp)
  else
    overrides+=(trainer.accelerator=cpu trainer.devices=1)
  fi
  [[ -n ${batch_size} ]] && overrides+=("data.batch_size=${batch_size}")
  local extra
  read -r -a extra <<<"${train_args}"
  overrides+=("${extra[@]}")
}

# criterion_overrides CRIT: the overrides of one system on top of train_overrides.
criterion_overrides() {
  local crit="$1"
  crit_overrides=("objective=${crit}" "run_dir=${exp}/runs/${crit}")
  if [[ -n ${energy_form} && ${crit} != flow ]]; then
    crit_overrides+=("model.network.energy.form=${energy_form}")
  fi
  if [[ -n ${prior} ]]; then
    crit_overrides+=("init_from=${prior}" "init_from_only=[encoder]" model.freeze_encoder=true)
  fi
}

# train_one CRIT [BUDGET]: CRIT's training run (resumed when interrupted) to --max-steps, or on
# to BUDGET steps with its model copied to runs/CRIT@BUDGET; timed into timings.tsv.
train_one() {
  local crit="$1" budget="${2:-}" start=${SECONDS} crit_overrides overrides name="train-$1"
  criterion_overrides "${crit}"
  train_overrides "${budget:-${max_steps}}"
  [[ -n ${budget} ]] && name+="@${budget}"
  run_logged "${exp}/logs/${name}.log" tts train "${crit_overrides[@]}" "${overrides[@]}"
  if [[ -n ${budget} ]]; then
    mkdir -p "${exp}/runs/${crit}@${budget}"
    cp "${exp}/runs/${crit}/model.safetensors" "${exp}/runs/${crit}@${budget}/"
  fi
  printf '%s\t%s\t%s\n' "${name}" "$((SECONDS - start))" "$(date +%FT%T)" >>"${exp}/timings.tsv"
}

# train_criterion CRIT: its one run to --max-steps, or through every --budgets in turn.
train_criterion() {
  local crit="$1" budget
  if [[ -z ${budgets} ]]; then
    once "train-${crit}" train_one "${crit}"
    return 0
  fi
  for budget in ${budgets}; do
    once "train-${crit}@${budget}" train_one "${crit}" "${budget}"
  done
}

# systems: the trained systems of stages 3-7, one per line: each criterion, or with --budgets
# CRITERION@B for every budget B (its model in runs/CRITERION@B).
systems() {
  local crit budget
  for crit in ${criteria}; do
    if [[ -z ${budgets} ]]; then
      echo "${crit}"
    else
      for budget in ${budgets}; do echo "${crit}@${budget}"; done
    fi
  done
}

# wait_for_slot N: wait until fewer than N background trainings run; a failed one stops all.
wait_for_slot() {
  while (($(jobs -rp | wc -l) >= $1)); do
    wait -n || exit $?
  done
}

stage_train() {
  local crit threads
  threads=$(((${jobs} > 0 ? ${jobs} : $(nproc)) / parallel))
  ((threads < 1)) && threads=1
  for crit in ${criteria}; do
    if ((parallel > 1)); then
      wait_for_slot "${parallel}"
      OMP_NUM_THREADS=${threads} train_criterion "${crit}" &
    else
      train_criterion "${crit}"
    fi
  done
  wait_for_slot 1
}

# synth_steps SYSTEM: the step counts SYSTEM is synthesised at. The flow decoder takes Euler
# steps; under a shared prior K = 0 (μ itself) is the same for every system, so only the first
# has it.
synth_steps() {
  local system="$1" first
  first="$(systems | head -n 1)"
  if [[ ${system%@*} == flow ]]; then
    echo "${flow_steps}"
  elif [[ -n ${prior} && ${system} != "${first}" ]]; then
    echo "${steps_list}" | tr ' ' '\n' | grep -vx 0 | tr '\n' ' '
  else
    echo "${steps_list}"
  fi
}

device_args() {
  device=()
  ((gpus > 0)) && device=(--device cuda)
  return 0
}

# tune_knobs SYSTEM: EXP/runs/SYSTEM/step_sizes.json, the teacher-forced validation error at
# every K: an energy's at each η of --step-size-grid, the flow's at each temperature τ of
# `tts-ebm step-sizes` (Euler steps), and the best per K.
tune_knobs() {
  local system="$1" ks grid=()
  ks="$(echo "${tune_steps} $(synth_steps "${system}")" | tr ' ' '\n' | sed '/^$/d' \
    | grep -vx 0 | sort -nu | paste -sd, -)"
  [[ -z ${ks} ]] && return 0
  [[ ${system%@*} != flow ]] && grid=(--grid "$(echo "${step_size_grid}" | tr ' ' ',')")
  run_logged "${exp}/logs/step-sizes-${system}.log" \
    tts step-sizes "${exp}/runs/${system}/model.safetensors" "${prepared}" --steps "${ks}" \
    "${grid[@]}" --out "${exp}/runs/${system}/step_sizes.json"
}

# knob_args SYSTEM K: with --step-size-grid, the tuned table's --step-size (an energy) or
# --temperature (the flow, whose K Euler steps are K network evaluations); else nothing.
knob_args() {
  local system="$1" k="$2" table="${exp}/runs/$1/step_sizes.json" knob=step_size
  knobs=()
  [[ -z ${step_size_grid} || ${k} == 0 ]] && return 0
  [[ ${system%@*} == flow ]] && knob=temperature
  knobs=("--${knob//_/-}" "$("${python}" -c \
    'import json, sys; print(json.load(open(sys.argv[1]))["best"][sys.argv[2]][sys.argv[3]])' \
    "${table}" "${k}" "${knob}")")
}

# benchmark_acoustic: EXP/acoustic_benchmark.json, every step count of the first EBM criterion
# and the same Euler step counts of a same-sized flow decoder timed in one process (one
# thread), so the summary compares synthesis times taken under one load, not each run's own.
benchmark_acoustic() {
  local crit ebm="" ks device
  for crit in ${criteria}; do
    if [[ ${crit} != flow ]]; then
      ebm="${crit}"
      break
    fi
  done
  [[ -z ${ebm} ]] && return 0
  ks="$(echo "${steps_list} ${flow_steps}" | tr ' ' '\n' | sed '/^$/d' | sort -nu | paste -sd, -)"
  device_args
  run_logged "${exp}/logs/acoustic-benchmark.log" \
    tts benchmark synthesis --sections acoustic --checkpoint "${exp}/runs/${ebm}/model.safetensors" \
    --steps-list "${ks}" --batch-sizes "${synth_batch_size}" --threads 1 --vocoder none \
    --json "${exp}/acoustic_benchmark.json" "${device[@]}"
}

stage_synthesize() {
  local system k device knobs
  device_args
  for system in $(systems); do
    [[ -n ${step_size_grid} ]] && once "step-sizes-${system}" tune_knobs "${system}"
    for k in $(synth_steps "${system}"); do
      knob_args "${system}" "${k}"
      once "synth-${system}-k${k}" run_logged "${exp}/logs/synth-${system}-k${k}.log" \
        tts synthesize --file "${test_txt}" --out-dir "${exp}/synth/${system}-k${k}" \
        --checkpoint "${exp}/runs/${system}/model.safetensors" --steps "${k}" "${knobs[@]}" \
        --vocoder "${vocoder}" --batch-size "${synth_batch_size}" "${device[@]}"
    done
  done
  once acoustic-benchmark benchmark_acoustic
}

stage_vocode() {
  local device
  device_args
  once vocode run_logged "${exp}/logs/vocode.log" \
    tts vocode "${refs}" "${exp}/synth/vocoded" --vocoder "${vocoder}" "${device[@]}"
}

evaluate_one() {
  local name="$1" dir="$2" extra device
  device_args
  read -r -a extra <<<"${eval_args}"
  rm -rf "${exp}/eval/${name}"
  run_logged "${exp}/logs/eval-${name}.log" \
    tts evaluate "${dir}" --references "${refs}" --texts "${test_txt}" \
    --out "${exp}/eval/${name}" --metrics "${metrics}" --reference-cache "${exp}/eval/.references" \
    --quiet "${device[@]}" "${extra[@]}"
}

stage_evaluate() {
  local system k
  once eval-vocoded evaluate_one vocoded "${exp}/synth/vocoded"
  for system in $(systems); do
    for k in $(synth_steps "${system}"); do
      once "eval-${system}-k${k}" evaluate_one "${system}-k${k}" "${exp}/synth/${system}-k${k}"
    done
  done
}

# The listening test: each criterion at K = --listen-steps (with --budgets, at the largest
# budget, under the criterion's name), the vocoded reference, the recordings.
build_listening_test() {
  local crit system systems=() out="${exp}/listening/${listen_kind}" largest=""
  [[ -n ${budgets} ]] && largest="@$(echo "${budgets}" | tr ' ' '\n' | sed '/^$/d' | tail -n 1)"
  for crit in ${criteria}; do
    system="${crit}${largest}"
    systems+=(--system "${crit}=${exp}/synth/${system}-k${listen_steps}")
  done
  systems+=(--system "vocoded=${exp}/synth/vocoded")
  [[ -n ${listen_items} ]] && systems+=(--items "${listen_items}")
  rm -rf "${out}"
  run_logged "${exp}/logs/listen-build.log" \
    tts listen build --kind "${listen_kind}" "${systems[@]}" --reference "${refs}" --out "${out}"
  tail -n 2 "${exp}/logs/listen-build.log"
}

stage_listen() {
  local k found=false
  for k in ${steps_list}; do
    [[ ${k} == "${listen_steps}" ]] && found=true
  done
  if [[ ${found} != true ]]; then
    echo "--listen-steps ${listen_steps} is not among --steps \"${steps_list}\"" >&2
    exit 2
  fi
  once "listen-${listen_kind}" build_listening_test
}

stage_summary() {
  tts recipe summary "${exp}"
}

# pipeline_run: stages 1-7 (the caller ran stage 0 and set corpus, test_txt, refs).
pipeline_run() {
  run_stage 1 statistics stage_statistics
  run_stage 2 train stage_train
  run_stage 3 synthesize stage_synthesize
  run_stage 4 vocode stage_vocode
  run_stage 5 evaluate stage_evaluate
  run_stage 6 listen stage_listen
  run_stage 7 summary stage_summary
}

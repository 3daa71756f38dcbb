#!/usr/bin/env bash
# One prepared GPU session: CUDA tests, the mid-block speed table, bench/run.py (eager, then each
# train.compile_mode, then resume across a compiled run), and a short comparison of the middle block
# (conv vs attention, 18 vs 72 positions, 4/8/16 heads) trained and evaluated on the GPU.
# BENCH="" runs bench/run.py at its full size; COMPILE_MODES="reduce-overhead" measures one mode.
#   OUT=bench/results STEPS=1500 bash bench/gpu_check.sh
# A CPU dry run of the same plumbing: DEVICE=cpu STEPS=20 EXTRA="--base_channels 8" bash bench/gpu_check.sh
# Settings come from the environment only (OUT, STEPS, DEVICE, EXTRA, BENCH, COMPILE_MODES, RESUME_MODES, STUDY,
# PYTHON: the interpreter, python3 by default). It runs in the tree it is part of, from any folder: a relative
# OUT or PYTHON is taken from the tree's root.
set -uo pipefail
if [ $# -gt 0 ]; then  # -h, --help, or a flag meant for one of the scripts: say how, start nothing
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  [ "$1" = -h ] || [ "$1" = --help ] && exit 0
  echo "bench/gpu_check.sh takes no arguments ($1); set its environment variables instead" >&2
  exit 2
fi
cd "$(dirname "$0")/.." || exit 2  # the tree's tests/ and bench/, from wherever it is started
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  what=$(command -v "$PYTHON" >/dev/null && echo "cannot import torch" || echo "is no interpreter here")
  echo "bench/gpu_check.sh: $PYTHON $what; activate the project's venv, or set PYTHON to its python" >&2
  exit 2
fi
OUT=${OUT:-bench/results}
STEPS=${STEPS:-1500}
DEVICE=${DEVICE:-cuda}
if [ "$DEVICE" = cuda ] && ! "$PYTHON" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  echo "bench/gpu_check.sh: DEVICE=cuda but torch sees no CUDA device; on a CPU: DEVICE=cpu STEPS=20 \
EXTRA=\"--base_channels 8\" bash bench/gpu_check.sh" >&2
  exit 2
fi
read -r -a EXTRA <<< "${EXTRA:-}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:-}:$PWD" WANDB_MODE=disabled
"$PYTHON" -c "import torch, accelerate, pydantic, typer; print('torch', torch.__version__, 'cuda', torch.version.cuda,
      torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU', 'accelerate', accelerate.__version__,
      'pydantic', pydantic.__version__, 'typer', typer.__version__)" 2>&1 | tee "$OUT/environment.txt"
"$PYTHON" -m pytest -q tests/scenarios/test_cuda.py 2>&1 | tail -15 | tee "$OUT/cuda_tests.txt"
if [ "$DEVICE" = cuda ]; then
  "$PYTHON" bench/mid_block.py --device cuda --json "$OUT/mid_block_cuda.json" 2>&1 | tee "$OUT/mid_block_cuda.txt"
fi
# Speed you can quote (bench/run.py): every item on this device, then the training items per train.compile_mode
# (compiled harness and compiled bare loop side by side; eager peers), then resume across a compiled run.
BENCH=${BENCH:---quick}
"$PYTHON" bench/run.py $BENCH --device "$DEVICE" --json "$OUT/run_$DEVICE.json" 2>&1 | grep -v Warning \
  | tee "$OUT/run_$DEVICE.txt"
for mode in ${COMPILE_MODES:-default reduce-overhead max-autotune-no-cudagraphs}; do
  "$PYTHON" bench/run.py $BENCH --only training --device "$DEVICE" --compile-mode "$mode" \
    --json "$OUT/run_${DEVICE}_compile_$mode.json" 2>&1 | grep -E "^\||^device|Error|error" \
    | tee "$OUT/run_${DEVICE}_compile_$mode.txt"
done
# A compiled run killed at step 10 and resumed must end where an uninterrupted one does (eager as the control).
RESUME=/tmp/unet1d-compile-resume
rm -rf "$RESUME"
TINY=(--base_channels 32 --batch_size 64 --eval_every 10 --checkpoint_every 10 --quality_every 0
      --final_eval_samples 0 --wandb_mode disabled --progress none --device "$DEVICE")
for mode in ${RESUME_MODES:-eager reduce-overhead}; do
  flags=(--compile false)
  [ "$mode" = eager ] || flags=(--compile true --compile_mode "$mode")
  "$PYTHON" -m unet1d.cli train "${TINY[@]}" "${flags[@]}" --max_steps 20 --output_dir "$RESUME/$mode-straight" >/dev/null
  "$PYTHON" -m unet1d.cli train "${TINY[@]}" "${flags[@]}" --max_steps 10 --output_dir "$RESUME/$mode-resumed" >/dev/null
  "$PYTHON" -m unet1d.cli train --output_dir "$RESUME/$mode-resumed" --resume auto --max_steps 20 >/dev/null
  "$PYTHON" - "$RESUME/$mode" <<'PY' 2>&1 | tee -a "$OUT/compile_resume.txt"
import sys
from safetensors.torch import load_file
a, b = (load_file(f"{sys.argv[1]}-{k}/checkpoints/step-20/model.safetensors") for k in ("straight", "resumed"))
diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
print(f"{sys.argv[1].rsplit('/', 1)[1]}: resumed vs uninterrupted, max |weight difference| {diff:.3g}", "(bit-identical)" if diff == 0 else "")
PY
done
RUNS=/tmp/unet1d-gpu-runs
rm -rf "$RUNS"
COMMON=(--max_steps "$STEPS" --eval_every 100 --checkpoint_every "$STEPS" --device "$DEVICE" --wandb_mode disabled
        --progress plain --log_every 100 "${EXTRA[@]}")
write_sweep() {  # name, parameters (flow YAML)
  printf 'program: cli.py\nmethod: grid\nmetric: {name: val/loss, goal: minimize}\nparameters: %s\ncommand: ["${env}", "${interpreter}", "${program}", train, "${args}"]\n' "$2" > "/tmp/$1.yaml"
}
write_sweep resolution '{mid_structure: {values: [conv, attention]}, downsample: {values: [true, false]}, mid_num_heads: {value: 8}}'
write_sweep heads '{mid_structure: {value: attention}, mid_num_heads: {values: [4, 16]}}'
for sweep in resolution heads; do
  "$PYTHON" -m unet1d.cli sweep local "/tmp/$sweep.yaml" --output-root "$RUNS" "${COMMON[@]}" 2>&1 \
    | grep -E "^\[|^done|^error|Traceback|Error" | tee -a "$OUT/runs.txt"
done
COLUMNS=220 "$PYTHON" -m unet1d.cli compare "$RUNS/resolution" "$RUNS/heads" --eval --num-samples 2000 \
  -o "$OUT/compare_gpu.json" 2>&1 | tee "$OUT/compare_gpu.txt"
# The samplers on a trained default-size checkpoint (the first run above, STEPS steps of the 5.8M network):
# bench/run.py's own --quick checkpoint is a 300-step 0.37M network, too weak for DDIM (see the README's Speed).
TRAINED=$(ls -d "$RUNS"/resolution/*/checkpoints 2>/dev/null | head -1)
if [ -n "$TRAINED" ]; then
  "$PYTHON" bench/run.py --only sampling --device "$DEVICE" --checkpoint "$(dirname "$TRAINED")" \
    --json "$OUT/samplers_$DEVICE.json" 2>&1 | grep -v Warning | tee "$OUT/samplers_$DEVICE.txt"
fi
# Issue 9's quality study at the default size (5.8M / 5.3M): every middle (conv, attention 4/8/16) x three seeds
# from sweeps/middles.yaml, each ending with the final evaluation (1,000 poses against the fresh reference), then
# compare with 95 % intervals over seeds, the PNG plots and the markdown report. Off unless STUDY=1
# (12 runs of STEPS steps, then 6 without the position code: size STEPS to the time left on the lease).
if [ "${STUDY:-0}" = 1 ]; then
  "$PYTHON" -m unet1d.cli sweep local sweeps/middles.yaml --output-root "$RUNS" "${COMMON[@]}" --quality_every 500 2>&1 \
    | grep -E "^\[|^done|^final|^error|Traceback|Error" | tee -a "$OUT/study.txt"
  COLUMNS=120 "$PYTHON" -m unet1d.cli compare --sweep "$RUNS/middles" -o "$OUT/study.json" --report "$OUT/study_report" \
    2>&1 | tee -a "$OUT/study.txt"
  # Does the position code matter at this size too? conv and attention-8 without it, same seeds, beside the above.
  write_sweep position '{mid: {values: [conv, attention-8]}, position: {value: none}, seed: {values: [0, 1, 2]}}'
  "$PYTHON" -m unet1d.cli sweep local /tmp/position.yaml --output-root "$RUNS" "${COMMON[@]}" --quality_every 500 2>&1 \
    | grep -E "^\[|^done|^final|^error|Traceback|Error" | tee -a "$OUT/study.txt"
  COLUMNS=120 "$PYTHON" -m unet1d.cli compare "$RUNS/middles" "$RUNS/position" -o "$OUT/study_position.json" 2>&1 \
    | tee -a "$OUT/study.txt"
fi

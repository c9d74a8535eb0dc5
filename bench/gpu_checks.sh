#!/usr/bin/env bash
# One prepared run for a GPU machine: the CUDA tests (tests/test_cuda.py, skipped elsewhere) and the
# GPU rows of BENCHMARKS.md, each step under its own time limit, logs under $OUT (or out/gpu).
#
# Prepare here, where the package index is reachable:   make gpu-kit
#   (.gpu/whl: the wheels the GPU image lacks, for its Python 3.12; .gpu/data: the benchmark video)
# Then run it there with the device tool:  command "bash bench/gpu_checks.sh", carry [".gpu"], timeout_s 560
# Anywhere with CUDA and the project's packages installed, `bash bench/gpu_checks.sh` runs as is.
set -uo pipefail
out=${OUT:-out/gpu}
py=${PYTHON:-python3}
mkdir -p "$out"
if ls .gpu/whl/*.whl >/dev/null 2>&1; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/eegavi-site \
    .gpu/whl/*.whl || { echo "installing .gpu/whl failed"; exit 2; }
  export PYTHONPATH=/tmp/eegavi-site${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -f .gpu/data/video/face_1080p.mp4 ]; then export EEGAVI_DATA=${EEGAVI_DATA:-$PWD/.gpu/data}; fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$out/gpu.txt"

failed=0
step() {  # step NAME SECONDS COMMAND...: run with a limit, keep its log, remember a failure
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit} s)"
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  local status=${PIPESTATUS[0]}
  echo "== $name: exit $status"
  [ "$status" -eq 0 ] || failed=1
}
step cuda_tests 150 "$py" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py
step video_bench 240 "$py" -m bench.video_extract --size base --batch-size 8 --repeats 3 --loop 10 \
  --out "$out/video.md"
step train_bench 120 "$py" -m bench.train_step --batch 32 --steps 10 --device cuda --amp bf16
exit $failed

#!/usr/bin/env bash
# Device check for the array backends: install, run the backend tests on the GPU, then benchmark
# ntphase on the GPU against the CPU NumPy path in the same run (benchmarks/gpu_bench.py).
#   bash benchmarks/gpu.sh                 # on a GPU machine (a few minutes)
#   bash benchmarks/gpu.sh --cpu-dry-run   # here, on a CPU: small sizes, JAX on the CPU as the "device"
# Wheels: torch/cupy are used if importable; otherwise wheels carried in .whl/ (see the device notes)
# are installed into /tmp/site. Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
if [ "${1:-}" = "--cpu-dry-run" ]; then
  DEVICE=${DEVICE:-jax:cpu}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
  timeout 600 $PY -m pytest -q -x tests/test_backends.py -k "jax or numpy" -rs
  timeout 600 $PY benchmarks/gpu_bench.py --cpu-dry-run --device "$DEVICE"
else
  DEVICE=${DEVICE:-cuda}
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  $PY -c "import ntphase._util.backend as b; print('backend for', '$DEVICE', '->', b.resolve_device('$DEVICE'))"
  timeout 300 $PY -m pytest -q tests/test_backends.py -rs
  timeout 420 $PY benchmarks/gpu_bench.py --device "$DEVICE"
fi

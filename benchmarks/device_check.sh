#!/usr/bin/env bash
# The GPU checks of issue 15 as one prepared command, for a machine with a CUDA device and CuPy
# (the device tool's image has CuPy, Numba, NumPy, SciPy, pytest, hypothesis; nothing can be fetched there).
#
#   bash benchmarks/device_check.sh          # from the repository root; about 3-6 minutes
#
# 1. installs this checkout (no dependencies, no index) into a private folder;
# 2. runs every test marked `gpu` (CuPy against the NumPy twins: UCBVI both bonuses, exact Nash-MP, kernels);
# 3. runs benchmarks/gpu_batch.py (64 / 1,024 / 4,096 replicates, CuPy vs 2-thread Numba, agreement).
# Logs and the benchmark's JSON go to $OUT (the device tool's folder) or /tmp/rltheory-device.
set -uo pipefail
REPO=$(pwd)
OUT=${OUT:-/tmp/rltheory-device}
PY=${PYTHON:-python3}
SITE=/tmp/rltheory-site
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc; "$PY" --version;
  "$PY" -c "import numpy, numba, cupy; print('numpy', numpy.__version__, 'numba', numba.__version__, 'cupy', cupy.__version__)"
} 2>&1 | tee "$OUT/machine.txt"
rm -rf "$SITE"
if ! "$PY" -m pip install -q --no-deps --no-index --no-build-isolation --target "$SITE" "$REPO" > "$OUT/install.log" 2>&1; then
  # no build backend there: lay the package out by hand (the core, with the four sub-packages inside it)
  echo "pip install failed (see install.log); using the source layout" | tee -a "$OUT/machine.txt"
  rm -rf "$SITE" && mkdir -p "$SITE" && cp -r "$REPO/rltheory" "$SITE/rltheory" || exit 1
  for sub in algorithms mdps bounds paper_figures; do ln -s "$REPO/$sub" "$SITE/rltheory/$sub"; done
fi
export PYTHONPATH=$SITE
# from another folder, so that the checkout's own rltheory/ does not shadow the installed package
cd /tmp || exit 1
timeout 300 "$PY" -m pytest "$REPO/tests" -m gpu -q -p no:cacheprovider -o addopts="" --rootdir "$REPO" 2>&1 \
  | tee "$OUT/gpu_tests.log" | tail -25
tests_rc=${PIPESTATUS[0]}
timeout 300 "$PY" "$REPO/benchmarks/gpu_batch.py" --json "$OUT/gpu_batch.json" 2>&1 | tee "$OUT/gpu_batch.log"
bench_rc=${PIPESTATUS[0]}
echo "gpu tests rc=$tests_rc, benchmark rc=$bench_rc"
exit $(( tests_rc != 0 || bench_rc != 0 ))

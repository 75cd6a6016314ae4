#!/usr/bin/env bash
# GPU check, run on a lent GPU machine (no network there): installs the pure-Python wheels
# carried in .gpu_wheels/ (pip download --no-deps -d .gpu_wheels neuraloperator tensorly
# tensorly-torch torchsde trampoline zencfg), then runs the CUDA tests, the quickstart on
# cuda and the trainer overhead benchmark on cuda. Outputs go to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/device_check}
mkdir -p "$OUT"
python3 -m pip install --no-deps -q .gpu_wheels/*.whl 2>&1 | grep -v WARNING | tail -2
export PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
timeout 240 python3 -m pytest tests/test_cuda.py tests/numerics -q -x -p no:cacheprovider 2>&1 | tail -15
timeout 120 python3 examples/quickstart.py --out "$OUT/quickstart" --device cuda 2>&1 | tail -4
cp "$OUT/quickstart/predictions.png" "$OUT/quickstart_predictions.png" 2>/dev/null
timeout 150 python3 benchmarks/trainer_overhead.py --preset quick --device cuda --out "$OUT" 2>&1 | tail -12
rm -rf "$OUT/quickstart"

#!/usr/bin/env bash
# The GPU checks as one prepared run, for a machine with a CUDA GPU (the device tool, or any workstation):
#
#   bash benchmarks/gpu_check.sh [tests|bench|all]      (make test-gpu / make bench-gpu)
#
# - tests: every test that has a CUDA case (components, boxes, metrics, the CAM kernel, camlib.cam.pipeline's
#   dense labelling and fused masks), each against its CPU reference;
# - bench: benchmarks/bench_pipeline.py on the GPU (ResNet-50 forward alone against forward + CAMs + boxes
#   of the top-5 classes, and the peers where installed) and benchmarks/bench_boxes.py on 50,000 maps with
#   255 thresholds (MaxBoxAcc and MaxBoxAccV2).
#
# Together they fit in the device tool's 10 minutes per command (timeouts 150 + 150 + 240 s).
# Results land in $OUT when it is set (the device tool's folder), else in benchmarks/results/: commit
# the .jsonl files there and the performance appendix (A2) shows them. Python packages that the machine
# lacks and cannot download (torchcam, grad-cam, ttach, pycocotools) can travel as wheels in .whl/.
set -uo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
out="${OUT:-benchmarks/results}"
py="${PYTHON:-python3}"
if compgen -G ".whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
info=$("$py" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA GPU'
print(torch.__version__, torch.cuda.get_device_name())" 2>&1) || { echo "$info" >&2; exit 1; }
mkdir -p "$out"
echo "$info" | tee "$out/gpu.txt"
status=0
if [ "$what" = tests ] || [ "$what" = all ]; then
    timeout 150 "$py" -m pytest -q -p no:cacheprovider -o addopts="-ra" -k "cuda or fused or dense" \
        tests/test_components.py tests/test_boxes.py tests/test_metrics.py tests/test_cam.py tests/test_pipeline.py \
        2>&1 | tee "$out/gpu-tests.log" || status=1
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
    # Each benchmark appends its rows as they finish, so a run cut off by its timeout keeps what it measured.
    timeout 150 "$py" benchmarks/bench_boxes.py --device cuda --sizes 224 --maps 50000 --thresholds 255 \
        --device-maps 64 --repeats 1 --out "$out/boxes-cuda.jsonl" || status=1
    timeout 240 "$py" benchmarks/bench_pipeline.py --device cuda --out "$out/pipeline-cuda.jsonl" || status=1
fi
exit $status

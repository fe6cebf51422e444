#!/usr/bin/env bash
# Everything the open GPU targets need, in one device call of about 6 minutes (run it with
# timeout_s=540, so a rerun still fits in a session's 15 device minutes):
#   engine variants on CUDA (traced graph, channels-last, fp16: speed and whether images change;
#   from which map size resize-conv layers pay as transposed convolutions there),
#   the studio's live-preview latency on CUDA (#3), export against the bare forward and the naive
#   loop on CUDA (#5), the engine table, and the engine/export tests on that machine.
# First, here: bash bench/gpu_prepare.sh   (packs PySide6 etc. into .gpu/site.tar.xz)
# Then:        device run  command="bash bench/gpu_check.sh"  carry=[".gpu"]  timeout_s=540
# Each step's output is a file in $OUT (./gpu-results without the device tool).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${OUT:-$root/gpu-results}"
mkdir -p "$out"
if [ -f .gpu/site.tar.xz ]; then
    mkdir -p /tmp/synthgui-gpu && tar -xJf .gpu/site.tar.xz -C /tmp/synthgui-gpu
    export PYTHONPATH="/tmp/synthgui-gpu/site:$root${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen
device="${GPU_CHECK_DEVICE:-cuda}"  # cpu: a dry run of this script on a machine without a GPU
step() {  # step NAME SECONDS COMMAND...: run with a time limit, keep its output
    local name="$1" limit="$2"
    shift 2
    echo "== $name ($(date +%T)): $*"
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    echo "   exit $? (at ${SECONDS} s)"
    tail -n 25 "$out/$name.txt"
}
step machine 30 bash -c 'nvidia-smi -L; nproc; python3 -c "import torch, PySide6, cv2; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(), PySide6.__file__, PySide6.__version__, cv2.__version__)"'
qt=()  # Qt's own system libraries, only where the machine lacks them (see gpu_prepare.sh)
if ! python3 -c "import PySide6.QtWidgets" > /dev/null 2>&1 && [ -d /tmp/synthgui-gpu/site/syslibs ]; then
    qt=(env "LD_LIBRARY_PATH=/tmp/synthgui-gpu/site/syslibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
    echo "PySide6 needs the carried system libraries here"
fi
# Limits add up to 480 s, inside the call's timeout_s=540 with the start and the unpacking.
step variants 50 python3 bench/engine_variants.py --device "$device" --runs 30
step resize_conv 25 python3 bench/engine_variants.py --device "$device" --resize-conv --runs 20
step ui 60 "${qt[@]}" python3 bench/bench_ui.py --device "$device" --seconds 6
step export 170 python3 bench/bench_export.py --device "$device" --count 1000 --rounds 2 --batch 32
step engine 40 python3 bench/bench_engine.py --devices "$device" --ngf 16 64 --batch 1 8
step tests 105 "${qt[@]}" python3 -m pytest -q -p no:cacheprovider tests/test_engine.py tests/test_export.py
echo "gpu_check: done in $SECONDS s; results in $out"

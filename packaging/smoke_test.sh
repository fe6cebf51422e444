#!/usr/bin/env bash
# Build the bundle (unless --no-build) and run it headless with no Python on PATH:
# version, model list, one render, an export, two training iterations on exported pairs and a render
# with the result, then `synthgui selftest` (studio window drawn and rendered, a rating session
# answered by keyboard, analysis). Exit status 0 only when all pass.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ "${1:-}" = "--no-build" ] || "$root/packaging/build.sh"
bundle="$root/dist/synthgui"
exe="$bundle/synthgui"
[ -x "$exe" ] || { echo "smoke_test: no bundle at $bundle" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A bare environment: no PATH to any Python, a fresh HOME, Qt's offscreen platform.
run() { env -i HOME="$work/home" PATH=/nonexistent QT_QPA_PLATFORM=offscreen LANG=C.UTF-8 "$exe" "$@"; }
mkdir -p "$work/home"
start=$(date +%s%N)
run --version
echo "start + --version: $(( ($(date +%s%N) - start) / 1000000 )) ms"
run models
run render --mask "$bundle/_internal/resources/masks/skin-lesion-medium-ISIC_0010584.png" --out "$work/render.png" --skin-tone V
run export --random 3 --skin-tones I VI --out "$work/export" --no-progress
test "$(ls "$work/export/images" | wc -l)" -eq 6
run export --random 4 --aligned --out "$work/pairs" --no-progress
run train --aligned "$work/pairs/aligned/train" --out "$work/run" --ngf 4 --ndf 4 --netG unet_128 --resolution 128 \
    --epochs 1 --epochs-decay 0 --max-iterations 2 --device cpu --name smoke \
    --card-template "$bundle/_internal/resources/models/skin-lesion.json"
run render --model "$work/run/latest_net_G.pth" --mask "$work/pairs/masks/$(ls "$work/pairs/masks" | head -1)" --out "$work/trained.png"
run selftest
echo "smoke_test: the bundle passed (size $(du -sm "$bundle" | cut -f1) MB)"

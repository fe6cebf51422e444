#!/usr/bin/env bash
# Build the one-folder CPU desktop bundle: dist/synthgui/ and, on Linux, a tarball beside it.
#   packaging/build.sh            (from anywhere; uses the python3 on PATH, which must have synthgui's deps)
# Prints the bundle's size and the build time. PyInstaller is installed when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
"$python" -c "import PyInstaller" 2>/dev/null || "$python" -m pip install -q "pyinstaller>=6.10"
# The export's faster PNG deflate goes into the bundle when it can be had (synthgui works without it).
"$python" -c "import zlib_ng" 2>/dev/null || "$python" -m pip install -q "zlib-ng>=0.4" \
    || echo "build.sh: note: zlib-ng not installed; exports will use the standard zlib" >&2
# A CPU bundle: a CUDA build of torch would add gigabytes of libraries nobody asked for.
if "$python" -c "import torch, sys; sys.exit(0 if torch.version.cuda else 1)" 2>/dev/null; then
    echo "build.sh: warning: this torch is a CUDA build; the bundle will be GPU-sized" >&2
fi
version="$("$python" -c "import synthgui; print(synthgui.__version__)")"
start=$(date +%s)
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$root/dist" --workpath "$root/build/pyinstaller" "$root/packaging/synthgui.spec"
case "$(uname -s)" in
    Linux)
        # PyInstaller's own strip breaks the OpenBLAS that numpy/scipy ship ("not page-aligned"), so only
        # torch's libraries are stripped (about 100 MB of symbols that inference never reads).
        command -v strip >/dev/null && strip --strip-unneeded "$root"/dist/synthgui/_internal/torch/lib/*.so* || true
        cp "$root/packaging/linux/install.sh" "$root/dist/synthgui/install.sh"
        tarball="$root/dist/synthgui-$version-linux-$(uname -m)-cpu.tar.gz"
        tar -C "$root/dist" -czf "$tarball" synthgui
        ;;
esac
took=$(( $(date +%s) - start ))
size=$(du -sm "$root/dist/synthgui" | cut -f1)
echo "bundle: $root/dist/synthgui (${size} MB, built in ${took} s, synthgui $version)"
[ -n "${tarball:-}" ] && echo "tarball: $tarball ($(du -m "$tarball" | cut -f1) MB)"
exit 0

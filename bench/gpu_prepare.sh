#!/usr/bin/env bash
# Prepare, on this machine (it needs pip's index), what a lent GPU machine lacks for bench/gpu_check.sh:
# PySide6 cut down to the Qt modules the app uses (the whole wheel is over the device tool's 64 MiB
# carry limit), shiboken6, pydicom, qtawesome, QtPy and pytest-qt, packed into .gpu/site.tar.xz
# (ignored by git). The PySide6 wheels are abi3, so the same files serve this Python and the device's 3.12.
# Then, with the device tool:  run  command="bash bench/gpu_check.sh"  carry=[".gpu"]  timeout_s=540
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
wheels="$work/wheels"
dest="$work/site"
pyside="$(python3 -c 'import PySide6; print(PySide6.__version__)')"
platforms=()
for n in 17 24 27 28 31 34 35 39; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
    -d "$wheels" "PySide6-Essentials==$pyside" "shiboken6==$pyside" pydicom qtawesome QtPy pytest-qt zlib-ng
mkdir -p "$dest"
for w in "$wheels"/*.whl; do python3 -m zipfile -e "$w" "$dest"; done
python3 - "$dest/PySide6" <<'PY'
"""Keep QtCore/Gui/Widgets/Svg/OpenGL/Test, the offscreen platform and image/icon plugins; drop the rest."""
import shutil, sys
from pathlib import Path

pkg = Path(sys.argv[1])
modules = {"QtCore", "QtGui", "QtWidgets", "QtSvg", "QtSvgWidgets", "QtOpenGL", "QtOpenGLWidgets", "QtTest"}
libs = {"Core", "Gui", "Widgets", "Svg", "SvgWidgets", "OpenGL", "OpenGLWidgets", "Test", "DBus"}
for path in pkg.iterdir():
    name = path.name
    if path.is_file() and name.startswith("Qt") and name.split(".")[0] not in modules:
        path.unlink()
    elif path.is_file() and (path.suffix == "" or "qml" in name):
        path.unlink()  # designer, assistant, qmlls, ... (tools, not libraries) and the QML binding
    elif path.is_dir() and name in ("include", "typesystems", "glue", "scripts", "examples", "doc", "lib"):
        shutil.rmtree(path)
qt = pkg / "Qt"
for lib in (qt / "lib").iterdir():
    stem = lib.name.split(".so")[0]
    if stem.startswith("libQt6") and stem[len("libQt6"):] not in libs:
        lib.unlink()
for folder in ("qml", "translations", "resources", "libexec", "metatypes", "modules"):
    shutil.rmtree(qt / folder, ignore_errors=True)
plugins = qt / "plugins"
keep_plugins = {"platforms", "imageformats", "iconengines", "generic", "platforminputcontexts"}
for folder in plugins.iterdir():
    if folder.name not in keep_plugins:
        shutil.rmtree(folder)
for plugin in (plugins / "platforms").iterdir():
    if "offscreen" not in plugin.name and "minimal" not in plugin.name:
        plugin.unlink()
PY
find "$dest" -name "*.pyi" -delete
# System libraries Qt links to (EGL, fontconfig, xkbcommon, ...) that a CUDA image may lack. They
# are used only as a fallback (gpu_check.sh tries without them first): never libc, libstdc++ or zlib.
mkdir -p "$dest/syslibs"
for f in "$dest"/PySide6/Qt/lib/*.so* "$dest"/PySide6/Qt/plugins/*/*.so "$dest"/PySide6/*.abi3.so; do
    LD_LIBRARY_PATH="$dest/PySide6/Qt/lib:$dest/shiboken6" ldd "$f" 2>/dev/null | awk '/=> \// {print $3}'
done | sort -u | grep -v -e "$dest" -e '/libc\.so' -e '/libm\.so' -e '/libdl\.so' -e '/libpthread\.so' -e '/librt\.so' \
    -e '/libstdc++' -e '/libgcc_s' -e '/ld-linux' -e '/libz\.so' | while read -r lib; do cp -L "$lib" "$dest/syslibs/"; done
# Still about 110 MB unpacked (Qt's ICU data alone is 31 MB): carried as xz, about 28 MB.
mkdir -p "$root/.gpu"
tar -C "$work" -cJf "$root/.gpu/site.tar.xz" site
du -sm "$root/.gpu" | awk '{print "bench/gpu_prepare.sh: .gpu holds " $1 " MB (with the checkout, under the device tool'"'"'s 64 MiB)"}'

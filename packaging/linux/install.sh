#!/usr/bin/env bash
# Install the synthgui bundle for the current user (no root, no Python needed):
#   ./install.sh            -> ~/.local/opt/synthgui, `synthgui` on PATH, menu entry, icons, project file type
#   ./install.sh --uninstall
# Run it from the unpacked bundle folder (the one holding the `synthgui` executable).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${SYNTHGUI_PREFIX:-$HOME/.local}"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
target="$prefix/opt/synthgui"

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$target" "$prefix/bin/synthgui" "$data/applications/synthgui.desktop" "$data/mime/packages/synthgui-mime.xml"
    rm -f "$data"/icons/hicolor/*/apps/synthgui.png "$data/icons/hicolor/scalable/apps/synthgui.svg"
    command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
    command -v update-mime-database >/dev/null && update-mime-database "$data/mime" || true
    echo "synthgui removed (your models, projects and exports are kept)"
    exit 0
fi

[ -x "$here/synthgui" ] || { echo "install.sh: run me from the unpacked synthgui folder" >&2; exit 1; }
res="$here/_internal/resources"
mkdir -p "$prefix/opt" "$prefix/bin" "$data/applications" "$data/mime/packages"
if [ "$here" != "$target" ]; then
    rm -rf "$target.new" && cp -a "$here" "$target.new" && rm -rf "$target" && mv "$target.new" "$target"
fi
ln -sfn "$target/synthgui" "$prefix/bin/synthgui"
sed "s#^Exec=synthgui#Exec=$target/synthgui#; s#^TryExec=synthgui#TryExec=$target/synthgui#" \
    "$res/synthgui.desktop" > "$data/applications/synthgui.desktop"
for png in "$res"/icons/synthgui-*.png; do
    size="$(basename "$png" .png)"; size="${size#synthgui-}"
    mkdir -p "$data/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$data/icons/hicolor/${size}x${size}/apps/synthgui.png"
done
mkdir -p "$data/icons/hicolor/scalable/apps" && cp "$res/icons/synthgui.svg" "$data/icons/hicolor/scalable/apps/synthgui.svg"
cp "$res/synthgui-mime.xml" "$data/mime/packages/synthgui-mime.xml"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
command -v update-mime-database >/dev/null && update-mime-database "$data/mime" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "synthgui installed in $target; start it from the applications menu or run: synthgui"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: add $prefix/bin to your PATH to run synthgui from a terminal";; esac

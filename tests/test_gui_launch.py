"""Start-up checks of ``synthgui gui``: a missing X11 library is explained, not a Qt abort."""

from __future__ import annotations

import argparse

from synthgui.commands import gui


def test_xcb_detection():
    assert gui.uses_xcb({"DISPLAY": ":0"}, "linux")
    assert gui.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not gui.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not gui.uses_xcb({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux")
    assert not gui.uses_xcb({}, "win32")


def test_missing_libraries_are_named_with_packages(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(gui.sys, "platform", "linux")
    monkeypatch.setattr(gui, "missing_xcb_libraries", lambda: ["xcb-cursor"])
    rc = gui.launch_args(argparse.Namespace(model=None, project=None))
    err = capsys.readouterr().err
    assert rc == 1
    assert "libxcb-cursor" in err and "apt-get install" in err and "libxcb-cursor0" in err


def test_missing_library_lookup_uses_the_finder():
    found = {"xcb-cursor": None}
    missing = gui.missing_xcb_libraries(lambda name: found.get(name, f"lib{name}.so"))
    assert missing == ["xcb-cursor"]


def test_gui_subcommand_is_registered():
    from synthgui.cli import build_parser

    args = build_parser().parse_args(["gui", "--model", "m.pth", "case.synthgui"])
    assert args.model == "m.pth" and args.project == "case.synthgui" and callable(args.func)


def test_startup_model_prefers_the_last_one_that_still_exists(tmp_path, monkeypatch):
    last = tmp_path / "mine.pth"
    last.write_bytes(b"x")
    assert gui.startup_model(str(last)) == str(last)
    monkeypatch.setenv("SYNTHGUI_RESOURCES", str(tmp_path / "none"))
    assert gui.startup_model(str(tmp_path / "gone.pth")) is None
    bundled = tmp_path / "res" / "models"
    bundled.mkdir(parents=True)
    (bundled / "skin-lesion.pth").write_bytes(b"x")
    (bundled / "skin-lesion.json").write_text('{"name": "skin-lesion", "weights": "skin-lesion.pth"}')
    monkeypatch.setenv("SYNTHGUI_RESOURCES", str(tmp_path / "res"))
    assert gui.startup_model("") == str(bundled / "skin-lesion.pth")

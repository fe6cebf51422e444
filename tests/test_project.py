"""Project files: exact round trip, atomic writes, clear errors."""

import zipfile

import numpy as np
import pytest

from synthgui.core.errors import SynthguiError
from synthgui.core.project import Project, load_project, save_project


def test_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    lm = rng.integers(0, 3, size=(37, 53), dtype=np.uint8)
    proj = Project(lm, model={"name": "m", "version": "1", "sha256": "ab", "path": "/x/m.pth"},
                   skin_tone=(142, 99, 73), condition="nevus", seed=42, mode="eval",
                   underlay="/data/photo.jpg", underlay_window=(40.0, 400.0), extra={"opacity": 0.4})
    path = tmp_path / "p.synthgui"
    save_project(path, proj)
    back = load_project(path)
    assert np.array_equal(back.label_map, lm) and back.label_map.dtype == np.uint8
    assert back.parameters() == proj.parameters()


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(SynthguiError, match="not found"):
        load_project(tmp_path / "missing.synthgui")
    junk = tmp_path / "junk.synthgui"
    junk.write_bytes(b"not a zip")
    with pytest.raises(SynthguiError, match="not a readable"):
        load_project(junk)
    other = tmp_path / "other.synthgui"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("project.json", '{"format": "something-else"}')
        zf.writestr("mask.png", b"")
    with pytest.raises(SynthguiError, match="not a synthgui project"):
        load_project(other)


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "p.synthgui"
    save_project(path, Project(np.ones((4, 4), np.uint8)))
    with pytest.raises(SynthguiError):
        save_project(path, Project(np.ones((2, 2, 2), np.uint8)))
    assert np.array_equal(load_project(path).label_map, np.ones((4, 4), np.uint8))

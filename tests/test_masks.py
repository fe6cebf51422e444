"""Lesion geometry: scale, move and rotate a region without inventing classes."""

import numpy as np
from PIL import Image

from synthgui.core.card import Encoding, LabelClass, ModelCard

from synthgui.core.masks import (
    disk_label_map, find_lesions, load_mask, rotate_all, save_mask, scale_all, shift_all, transform_region,
)


def test_scale_about_centre():
    lm = disk_label_map(128, 0.1)
    bigger = scale_all(lm, 2.0)
    assert 3.6 < np.count_nonzero(bigger) / np.count_nonzero(lm) < 4.4
    (lesion,), _ = find_lesions(bigger)
    assert abs(lesion.centroid[0] - 64) < 1.5 and abs(lesion.centroid[1] - 64) < 1.5


def test_shift_and_clip():
    lm = disk_label_map(64, 0.1)
    moved = shift_all(lm, 10, -5)
    ys, xs = np.nonzero(moved)
    assert abs(xs.mean() - (32 + 10)) < 1 and abs(ys.mean() - (32 - 5)) < 1
    assert np.count_nonzero(shift_all(lm, 200, 0)) == 0  # moved out of the image entirely


def test_rotation_keeps_classes_and_area():
    lm = np.zeros((100, 100), np.uint8)
    lm[40:60, 30:70] = 1
    lm[45:55, 45:55] = 2
    rot = rotate_all(lm, 90)
    assert set(np.unique(rot)) == {0, 1, 2}
    ys, xs = np.nonzero(rot)
    assert np.ptp(xs) < np.ptp(ys)  # the wide bar is now tall
    assert abs(np.count_nonzero(rot) - np.count_nonzero(lm)) / np.count_nonzero(lm) < 0.05


def test_transform_only_the_selected_region():
    lm = np.zeros((64, 64), np.uint8)
    lm[5:10, 5:10] = 1
    lm[40:50, 40:50] = 1
    lesions, comp = find_lesions(lm)
    small = [l for l in lesions if l.area == 25][0]
    out = transform_region(lm, comp == small.index, offset=(0, 20))
    assert out[40:50, 40:50].all()  # the other lesion is untouched
    assert out[25:30, 5:10].all() and not out[5:10, 5:10].any()


def test_atomic_writes_publish_whole_files_with_normal_permissions(tmp_path):
    import os
    import stat

    import pytest

    from synthgui.core.atomic import write_text_atomic

    target = tmp_path / "a.txt"
    write_text_atomic(target, "hello")
    assert target.read_text() == "hello"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    with pytest.raises(RuntimeError):
        from synthgui.core.atomic import atomic_path

        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_links_and_writes_into_new_folders(tmp_path):
    from synthgui.core.atomic import link_atomic, write_bytes_atomic

    first = tmp_path / "new" / "deeper" / "a.png"
    write_bytes_atomic(first, b"mask bytes")
    assert first.read_bytes() == b"mask bytes"
    second = tmp_path / "new" / "deeper" / "b.png"
    assert link_atomic(first, second) and second.read_bytes() == b"mask bytes" and second.samefile(first)
    assert not link_atomic(tmp_path / "gone.png", tmp_path / "c.png") and not (tmp_path / "c.png").exists()
    assert sorted(p.name for p in first.parent.iterdir()) == ["a.png", "b.png"]  # no temporary file left


def test_atomic_write_into_a_read_only_folder_says_so(tmp_path, monkeypatch):
    import errno
    import os

    import pytest

    from synthgui.core.atomic import write_bytes_atomic
    from synthgui.core.errors import SynthguiError

    def refuse(path, *args, **kwargs):  # what a read-only folder answers (root is never refused, so it is simulated)
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(SynthguiError, match=f"cannot write to {tmp_path}: permission denied"):
        write_bytes_atomic(tmp_path / "a.png", b"x")
    assert not list(tmp_path.iterdir())


def test_atomic_write_of_a_name_near_the_length_limit(tmp_path):
    from synthgui.core.atomic import write_bytes_atomic

    target = tmp_path / ("n" * 250 + ".png")  # 254 bytes: the temporary name beside it must stay shorter
    write_bytes_atomic(target, b"x")
    assert target.read_bytes() == b"x" and [p.name for p in tmp_path.iterdir()] == [target.name]


def _dark_grey_card() -> ModelCard:
    """An MRI-style card whose tissue classes are grey levels, two of them darker than 128."""
    return ModelCard("brain", domain="mri", encoding=Encoding("palette"), resolution=8, classes=[
        LabelClass(0, "background", (0, 0, 0)), LabelClass(1, "csf", (60, 60, 60)),
        LabelClass(2, "grey matter", (120, 120, 120)), LabelClass(3, "white matter", (230, 230, 230))])


def test_a_mask_in_the_card_s_dark_grey_class_colours_keeps_its_classes(tmp_path):
    """The new grey-class-colour rule only runs when some value is >= 128: a mask drawn in the
    card's own grey colours that uses only the darker ones is refused as "class ids 60, 120"."""
    card = _dark_grey_card()
    lm = np.repeat(np.array([0, 1, 2, 1], np.uint8), 2)[None].repeat(8, 0)
    grey = np.array([c.color[0] for c in card.classes], np.uint8)[lm]
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert np.array_equal(load_mask(tmp_path / "grey.png", card), lm)


def test_the_app_reopens_a_mask_it_saved_for_a_card_with_dark_grey_colours(tmp_path):
    """save_mask writes a paletted PNG; read back as RGB it is grey (60, 60, 60), which the same
    branch refuses: the studio cannot open the mask it just saved."""
    card = _dark_grey_card()
    lm = np.zeros((8, 8), np.uint8)
    lm[2:6, 2:6] = 1
    save_mask(tmp_path / "m.png", lm, card)
    assert np.array_equal(load_mask(tmp_path / "m.png", card), lm)

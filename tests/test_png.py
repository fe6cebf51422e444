"""The export's PNG writer: exact round trips through independent decoders, text chunks, bad input."""

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from synthgui.core import png
from synthgui.core.errors import SynthguiError


def _images():
    rng = np.random.default_rng(3)
    yield rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)  # noise: every filter byte wraps somewhere
    yield rng.integers(0, 256, (20, 31), dtype=np.uint8)
    yield rng.integers(0, 256, (9, 7, 4), dtype=np.uint8)
    yield np.zeros((1, 1, 3), np.uint8)
    yield rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)[::-1, ::2, ::-1]  # negative and uneven strides
    flat = np.full((256, 256, 3), (196, 158, 137), np.uint8)  # a skin-coloured field with a lesion
    cv2.circle(flat, (128, 128), 60, (90, 60, 40), -1)
    yield flat


@pytest.mark.parametrize("backend", ["zlib-ng", "zlib"])
def test_png_round_trips_exactly_through_pil_and_opencv(monkeypatch, backend):
    if backend == "zlib":
        monkeypatch.setattr(png, "_deflate", zlib)
    else:
        pytest.importorskip("zlib_ng")
    assert png.deflate_backend() == backend
    for image in _images():
        data = png.encode_png(image, level=1)
        decoded = np.asarray(Image.open(io.BytesIO(data)))
        assert decoded.dtype == np.uint8 and np.array_equal(decoded, image), image.shape
        flag = cv2.IMREAD_UNCHANGED
        back = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if image.ndim == 3:
            back = back[..., [2, 1, 0, 3][: image.shape[2]]]
        assert np.array_equal(back, image), image.shape


def test_png_text_chunks_are_read_back():
    data = png.encode_png(np.zeros((4, 4, 3), np.uint8), {"Comment": "SYNTHETIC IMAGE, café", "Software": "synthgui"})
    text = Image.open(io.BytesIO(data)).text
    assert text == {"Comment": "SYNTHETIC IMAGE, café", "Software": "synthgui"}


def test_png_of_a_render_is_no_bigger_than_opencv_s():
    flat = list(_images())[-1]
    ours = png.encode_png(flat)
    theirs = cv2.imencode(".png", flat[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])[1]
    assert len(ours) <= len(theirs) * 1.1


def test_png_splits_big_image_data_and_takes_one_channel_images(monkeypatch):
    monkeypatch.setattr(png, "_IDAT_SIZE", 1000)
    noise = np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = png.encode_png(noise)
    assert data.count(b"IDAT") > 10
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), noise)
    grey = noise[..., :1]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.encode_png(grey)))), grey[..., 0])


def test_png_refuses_what_it_cannot_write():
    for bad in (np.zeros((4, 4), np.uint16), np.zeros((4, 4, 2), np.uint8), np.zeros((4,), np.uint8), np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(SynthguiError):
            png.encode_png(bad)
    for key in ("", "k" * 80, "Kommentar€", "a\0b"):
        with pytest.raises(SynthguiError, match="keyword"):
            png.encode_png(np.zeros((2, 2), np.uint8), {key: "text"})

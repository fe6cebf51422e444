"""Label map -> generator input for each encoding kind; masks read from files; skin tones."""

import numpy as np
import pytest
from PIL import Image

from synthgui.core.card import Encoding, LabelClass, ModelCard, generic_card
from synthgui.core.encoding import EncodeRequest, encode, semantic_rgb, to_uint8_image
from synthgui.core.errors import MaskError, SynthguiError
from synthgui.core.masks import load_mask, resize_label_map, save_mask
from synthgui.core.skin_tones import FITZPATRICK_LAB, FITZPATRICK_RGB, ita_degrees, parse_skin_tone, rgb_to_lab

from helpers import skin_card


def test_skin_encoding_fills_background_with_tone_and_lesion_with_class_colour():
    card = skin_card()
    lm = np.zeros((256, 256), np.uint8)
    lm[100:150, 100:150] = 1
    x = encode(lm, card, EncodeRequest(skin_tone=(99, 68, 51)))
    assert x.shape == (3, 256, 256) and x.dtype == np.float32
    assert np.allclose(x[:, 0, 0], np.array([99, 68, 51]) / 127.5 - 1)
    assert np.allclose(x[:, 120, 120], np.array([40, 200, 60]) / 127.5 - 1)
    cond = encode(lm, card, EncodeRequest(skin_tone=(99, 68, 51), condition="nevus"))
    assert np.allclose(cond[:, 120, 120], np.array([30, 60, 220]) / 127.5 - 1)
    with pytest.raises(SynthguiError, match="no class 'wart'"):
        encode(lm, card, EncodeRequest(condition="wart"))


def test_default_skin_tone_from_card():
    x = encode(np.zeros((256, 256), np.uint8), skin_card())
    assert np.allclose(x[:, 5, 5], np.array(FITZPATRICK_RGB["II"]) / 127.5 - 1)


def test_resize_is_nearest_neighbour_only():
    lm = np.zeros((300, 300), np.uint8)
    lm[::2, ::2] = 2
    lm[1::2, 1::2] = 1
    small = resize_label_map(lm, 256)
    assert set(np.unique(small)) <= {0, 1, 2}
    x = encode(lm, skin_card())
    colours = {tuple(c) for c in ((x.reshape(3, -1).T + 1) * 127.5).round().astype(int)}
    assert colours <= {tuple(FITZPATRICK_RGB["II"]), (40, 200, 60), (30, 60, 220)}


def test_onehot_and_channels_encodings():
    classes = [LabelClass(0, "outside", (0, 0, 0)), LabelClass(1, "retina", (128, 128, 128)), LabelClass(2, "vessel", (255, 255, 255))]
    lm = np.array([[0, 1], [2, 1]], np.uint8)
    onehot = encode(lm, ModelCard("m", encoding=Encoding("onehot"), classes=classes, resolution=2), input_nc=3)
    assert onehot.shape == (3, 2, 2)
    assert onehot[2, 1, 0] == 1 and onehot[2, 0, 0] == -1 and onehot[0, 0, 0] == 1
    chan = encode(lm, ModelCard("m", encoding=Encoding("channels", channels=[[2], [1, 2]]), classes=classes, resolution=2), input_nc=2)
    assert chan[0].tolist() == [[-1, -1], [1, -1]]  # vessel
    assert chan[1].tolist() == [[-1, 1], [1, 1]]  # field of view
    with pytest.raises(SynthguiError, match="generator takes 3"):
        encode(lm, ModelCard("m", encoding=Encoding("channels", channels=[[2]]), classes=classes, resolution=2), input_nc=3)


def test_palette_grey_for_one_channel_models():
    card = ModelCard("mri", encoding=Encoding("palette"), classes=[LabelClass(0, "bg", (0, 0, 0)), LabelClass(1, "tumour", (255, 255, 255))], resolution=4)
    x = encode(np.eye(4, dtype=np.uint8), card, input_nc=1)
    assert x.shape == (1, 4, 4) and x[0, 0, 0] == 1 and x[0, 0, 1] == -1


def test_unknown_class_ids_are_rejected():
    with pytest.raises(SynthguiError, match=r"class ids \[7\]"):
        semantic_rgb(np.full((4, 4), 7, np.uint8), skin_card())


def test_output_conversion_rounds_and_clips():
    out = np.array([[[-1.2, -1.0, 0.0, 1.0, 1.3]]] * 3, np.float32).reshape(3, 1, 5)
    img = to_uint8_image(out)
    assert img[0, :, 0].tolist() == [0, 0, 128, 255, 255]
    grey = to_uint8_image(np.zeros((1, 2, 2), np.float32))
    assert grey.shape == (2, 2, 3)


def test_mask_files(tmp_path):
    card = skin_card()
    binary = np.zeros((64, 64), np.uint8)
    binary[10:20, 10:20] = 255
    Image.fromarray(binary).save(tmp_path / "bin.png")
    assert set(np.unique(load_mask(tmp_path / "bin.png", card))) == {0, 1}
    Image.fromarray(binary).save(tmp_path / "bin.jpg", quality=70)  # blurred edges -> thresholded
    assert set(np.unique(load_mask(tmp_path / "bin.jpg", card))) == {0, 1}
    lm = np.zeros((64, 64), np.uint8)
    lm[5:9, 5:9] = 2
    lm[30:40, 30:40] = 1
    save_mask(tmp_path / "lm.png", lm, card)
    assert np.array_equal(load_mask(tmp_path / "lm.png", card), lm)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[2, 3] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "odd.png")
    with pytest.raises(MaskError, match=r"unknown class colour #010203 at x=3, y=2"):
        load_mask(tmp_path / "odd.png", card)
    (tmp_path / "notimage.png").write_text("hello")
    with pytest.raises(MaskError, match="not an image"):
        load_mask(tmp_path / "notimage.png", card)


def test_generic_card_reads_white_lesion():
    card = generic_card("g")
    x = encode(np.array([[0, 1]], np.uint8), card)
    assert x[:, 0, 0].tolist() == [-1, -1, -1]


def test_fitzpatrick_presets_sit_in_their_ita_bands():
    bands = {"I": (55, 90), "II": (41, 55), "III": (28, 41), "IV": (10, 28), "V": (-30, 10), "VI": (-90, -30)}
    for key, rgb in FITZPATRICK_RGB.items():
        ita = float(ita_degrees(rgb_to_lab(np.array(rgb, np.uint8))))
        lo, hi = bands[key]
        assert lo < ita < hi, (key, ita)
        assert np.allclose(rgb_to_lab(np.array(rgb, np.uint8)), FITZPATRICK_LAB[key], atol=1.0)
    assert parse_skin_tone("iv") == FITZPATRICK_RGB["IV"] == parse_skin_tone("4")
    assert parse_skin_tone("#102030") == (16, 32, 48)
    with pytest.raises(SynthguiError):
        parse_skin_tone("beige")

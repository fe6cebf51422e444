"""Training-pair preparation: skin colour estimate, re-toning, DermGAN maps, fundus FOV, patient splits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from synthgui.cli import main
from synthgui.core.prepare import (
    LESION_COLOUR,
    case_id_fundus,
    case_id_lgg,
    estimate_skin_lab,
    fundus_fov,
    prepare_fundus_pair,
    retone,
    skin_card_template,
    skin_lab_of_semantic_map,
    skin_semantic_map,
    split_by_case,
    tone_lab_for_ita,
)
from synthgui.core.skin_tones import FITZPATRICK_LAB, delta_e76, ita_degrees, lab_to_rgb, rgb_to_lab


def dermoscopy_like(skin_rgb=(200, 160, 140), size=128, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Skin with noise, a dark lesion, black vignette corners and a few dark hairs."""
    rng = np.random.default_rng(seed)
    img = np.clip(np.array(skin_rgb, np.float32) + rng.normal(0, 4, (size, size, 3)), 0, 255)
    yy, xx = np.mgrid[0:size, 0:size]
    lesion = (yy - size * 0.45) ** 2 + (xx - size * 0.5) ** 2 < (size * 0.2) ** 2
    img[lesion] = (90, 55, 40)
    corners = np.hypot(yy - size / 2, xx - size / 2) > size * 0.55
    img[corners] = (5, 5, 5)
    for k in range(3):  # hairs
        img[np.abs(yy - (xx * 0.5 + 20 + 25 * k)) < 1.0] = (30, 20, 15)
    return img.astype(np.uint8), lesion.astype(np.uint8)


def test_skin_colour_estimate_ignores_lesion_corners_and_hair():
    skin = (200, 160, 140)
    image, lesion = dermoscopy_like(skin)
    est = estimate_skin_lab(image, lesion)
    truth = rgb_to_lab(np.array(skin, np.uint8))
    assert float(delta_e76(est, truth)) < 3.0


@pytest.mark.parametrize("tone", ["I", "IV", "VI"])
def test_retone_moves_ita_to_the_target_and_keeps_lesion_darker(tone):
    image, lesion = dermoscopy_like()
    source = estimate_skin_lab(image, lesion)
    target = np.array(FITZPATRICK_LAB[tone], np.float32)
    out = retone(image, source, target)
    got = estimate_skin_lab(out, lesion)
    assert abs(float(ita_degrees(got)) - float(ita_degrees(target))) < 4.0
    assert float(delta_e76(got, target)) < 4.0
    lab = rgb_to_lab(out)
    inner = lesion.astype(bool)
    assert np.median(lab[..., 0][inner]) < got[0] - 10  # lesion still clearly darker than the skin


def test_retone_to_darker_skin_darkens_the_lesion_too():
    image, lesion = dermoscopy_like()
    source = estimate_skin_lab(image, lesion)
    light = retone(image, source, np.array(FITZPATRICK_LAB["I"], np.float32))
    dark = retone(image, source, np.array(FITZPATRICK_LAB["VI"], np.float32))
    inner = lesion.astype(bool)
    assert rgb_to_lab(dark)[..., 0][inner].mean() < rgb_to_lab(light)[..., 0][inner].mean() - 5


def test_tone_interpolation_hits_the_presets():
    for lab in FITZPATRICK_LAB.values():
        got = tone_lab_for_ita(float(ita_degrees(np.array(lab))))
        assert np.allclose(got, lab, atol=0.01)


def test_semantic_map_round_trip():
    lesion = np.zeros((32, 32), np.uint8)
    lesion[8:20, 10:22] = 1
    skin = np.array(FITZPATRICK_LAB["V"], np.float32)
    sem = skin_semantic_map(lesion, skin)
    assert tuple(sem[10, 12]) == LESION_COLOUR
    assert tuple(sem[0, 0]) == tuple(lab_to_rgb(skin))
    back_lesion, back_skin = skin_lab_of_semantic_map(sem)
    assert np.array_equal(back_lesion, lesion)
    assert float(delta_e76(back_skin, skin)) < 1.0


def test_split_by_patient_never_shares_a_case():
    names = [f"TCGA_{c:02d}_2001_{s}" for c in range(40) for s in range(1, 9)]
    train, val = split_by_case(names, case_id_lgg, 0.25)
    cases_train = {case_id_lgg(n) for n in train}
    cases_val = {case_id_lgg(n) for n in val}
    assert cases_train and cases_val
    assert not cases_train & cases_val
    assert len(train) + len(val) == len(names)
    assert split_by_case(names, case_id_lgg, 0.25) == (train, val)  # stable


def test_fundus_eyes_of_one_child_are_one_case():
    assert case_id_fundus("Image_05L") == case_id_fundus("Image_05R") == "Image_05"
    assert case_id_fundus("01_dr") == "01_dr"


def fundus_like(h=120, w=160) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    disc = np.hypot(yy - h / 2, xx - w / 2) < h * 0.45
    img = np.zeros((h, w, 3), np.uint8)
    img[disc] = (180, 80, 30)
    vessels = np.zeros((h, w), np.uint8)
    vessels[h // 2 - 1:h // 2 + 2, :] = 255  # crosses the border: must be clipped to the FOV
    img[(vessels > 0) & disc] = (120, 30, 10)
    return img, vessels


def test_fundus_field_of_view_from_red_channel():
    img, _ = fundus_like()
    fov = fundus_fov(img)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    truth = np.hypot(yy - img.shape[0] / 2, xx - img.shape[1] / 2) < img.shape[0] * 0.45
    iou = (fov & truth).sum() / (fov | truth).sum()
    assert iou > 0.95


def test_fundus_pair_is_square_with_vessels_inside_the_retina():
    img, vessels = fundus_like()
    pair = prepare_fundus_pair(img, vessels, 64, "Image_01L")
    assert pair.image.shape == (64, 64, 3) and pair.label_map.shape == (64, 64)
    assert set(np.unique(pair.label_map).tolist()) == {0, 1, 2}
    corners = pair.label_map[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert not corners.any()  # the square is cropped around the disc: its corners lie outside the retina
    assert (pair.label_map[30:34] == 2).any()  # the vessel survives the crop and resize


def write_skin_dataset(root, n=6):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        img, les = dermoscopy_like(seed=i, size=96)
        Image.fromarray(img).save(root / "images" / f"ISIC_{i:07d}.jpg", quality=95)
        Image.fromarray(les * 255).save(root / "masks" / f"ISIC_{i:07d}_segmentation.png")


def test_prepare_skin_cli_writes_pairs_and_split(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_skin_dataset(raw)
    out = tmp_path / "out"
    assert main(["prepare", "skin", "--data", str(raw), "--out", str(out), "--size", "64", "--val-fraction", "0.5"]) == 0
    names = sorted(p.name for split in ("train", "val") for p in (out / split / "masks").glob("*.png"))
    assert len(names) == 6
    for split in ("train", "val"):
        for p in (out / split / "masks").glob("*.png"):
            assert (out / split / "images" / p.name).is_file() and (out / split / "labels" / p.name).is_file()
            sem = np.asarray(Image.open(p).convert("RGB"))
            assert sem.shape == (64, 64, 3)
            assert np.any(np.all(sem == LESION_COLOUR, axis=-1))
    assert "skin_lab" in (out / "pairs.csv").read_text().splitlines()[0]


def test_prepare_reports_a_wrong_folder(tmp_path, capsys):
    assert main(["prepare", "fundus", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "vessels" in capsys.readouterr().err


def test_prepare_real_isic_pair(shared_data):
    src = shared_data / "skin-isic2018"
    name = sorted((src / "images").glob("*.jpg"))[0].stem
    from synthgui.core.prepare import prepare_skin_pair

    img = np.asarray(Image.open(src / "images" / f"{name}.jpg").convert("RGB"))
    mask = np.asarray(Image.open(src / "masks" / f"{name}_segmentation.png").convert("L"))
    pair = prepare_skin_pair(img, mask, 128, name)
    skin = np.array(pair.extra["skin_lab"])
    lesion_l = np.median(rgb_to_lab(pair.image)[..., 0][pair.label_map > 0])
    assert pair.label_map.sum() > 0
    assert 30 < skin[0] < 95 and skin[0] > lesion_l + 10  # the skin, not the vignette or the lesion


def test_prepare_then_train_carries_the_card_to_the_checkpoint(tmp_path, capsys):
    """A card template from prepare reaches the trained checkpoint: the model loads with its skin classes."""
    from synthgui.core.models import load_model

    raw = tmp_path / "raw"
    write_skin_dataset(raw, n=4)
    out = tmp_path / "pairs"
    assert main(["prepare", "skin", "--data", str(raw), "--out", str(out), "--size", "128", "--val-fraction", "0"]) == 0
    template = json.loads((out / "card-template.json").read_text())
    assert template["domain"] == "skin" and template["training_data"][0]["pairs_prepared"] == 4
    assert "unknown" in template["training_data"][0]["licence"]  # never invents a licence
    run = tmp_path / "run"
    assert main(["train", "--masks", str(out / "train/masks"), "--images", str(out / "train/images"), "--out", str(run),
                 "--ngf", "4", "--ndf", "4", "--netG", "unet_128", "--resolution", "128", "--epochs", "1",
                 "--epochs-decay", "0", "--retone", "0.5", "--device", "cpu", "--threads", "1", "--name", "mine"]) == 0
    assert "card-template.json" in capsys.readouterr().err
    model = load_model(str(run / "latest_net_G.pth"))
    assert model.card.name == "mine" and model.card.uses_skin_tone and not model.warnings


def test_retone_without_a_skin_card_is_a_clear_error(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_skin_dataset(raw, n=2)
    for sub in ("masks", "images"):
        (tmp_path / "flat" / sub).mkdir(parents=True)
    for i, p in enumerate(sorted((raw / "images").glob("*.jpg"))):
        Image.open(p).resize((64, 64)).save(tmp_path / "flat" / "images" / f"p{i}.png")
        Image.open(p).resize((64, 64)).save(tmp_path / "flat" / "masks" / f"p{i}.png")
    code = main(["train", "--masks", str(tmp_path / "flat/masks"), "--images", str(tmp_path / "flat/images"),
                 "--out", str(tmp_path / "run"), "--retone", "0.5", "--device", "cpu"])
    assert code == 2
    assert "--retone needs a skin model card" in capsys.readouterr().err


def test_multi_class_semantic_map_round_trip():
    card = skin_card_template(diagnoses=["bcc", "mel", "nv"])
    labels = np.zeros((32, 32), np.uint8)
    labels[2:8, 2:8] = 1
    labels[20:30, 20:30] = 3
    skin = np.array(FITZPATRICK_LAB["II"], np.float32)
    sem = skin_semantic_map(labels, skin, card)
    assert tuple(sem[25, 25]) == card.class_by_name("nv").color
    back, back_skin = skin_lab_of_semantic_map(sem, card)
    assert np.array_equal(back, labels)
    assert float(delta_e76(back_skin, skin)) < 1.0  # other lesion colours never count as skin


def test_read_diagnoses_in_both_public_layouts(tmp_path):
    from synthgui.core.diagnoses import read_diagnoses
    from synthgui.core.errors import SynthguiError

    ham = tmp_path / "HAM10000_metadata.csv"
    ham.write_text("lesion_id,image_id,dx,dx_type,age,sex,localization\n"
                   "HAM_1,ISIC_0000001,mel,histo,60,male,back\nHAM_1,ISIC_0000002,mel,histo,60,male,back\n"
                   "HAM_2,ISIC_0000003,nv,follow_up,40,female,face\n")
    dx = read_diagnoses(ham)
    assert dx["ISIC_0000002"].dx == "mel" and dx["ISIC_0000002"].case == "HAM_1"
    task3 = tmp_path / "ISIC2018_Task3_Training_GroundTruth.csv"
    task3.write_text("image,MEL,NV,BCC\nISIC_0000001,1.0,0.0,0.0\nISIC_0000003,0.0,1.0,0.0\nISIC_0000004,0.0,0.0,0.0\n")
    dx = read_diagnoses(task3)
    assert dx["ISIC_0000003"].dx == "NV" and "ISIC_0000004" not in dx
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na,b\n")
    with pytest.raises(SynthguiError, match="no image column"):
        read_diagnoses(bad)


def test_prepare_skin_with_diagnoses_colours_lesions_and_splits_by_lesion(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_skin_dataset(raw, n=6)
    table = tmp_path / "meta.csv"
    rows = ["lesion_id,image_id,dx"] + [f"L{i // 2},ISIC_{i:07d},{'mel' if i < 2 else 'nv'}" for i in range(5)]
    table.write_text("\n".join(rows) + "\n")  # ISIC_0000005 has no diagnosis
    out = tmp_path / "out"
    assert main(["prepare", "skin", "--data", str(raw), "--out", str(out), "--size", "64", "--val-fraction", "0.5",
                 "--labels", str(table)]) == 0
    assert "ISIC_0000005: no diagnosis" in capsys.readouterr().err
    card = json.loads((out / "card-template.json").read_text())
    assert [c["name"] for c in card["classes"]] == ["skin", "mel", "nv"]
    import csv

    pairs = list(csv.DictReader((out / "pairs.csv").open()))
    assert len(pairs) == 5
    for r in pairs:
        split = r["split"]
        label = np.asarray(Image.open(out / split / "labels" / f"{r['name']}.png"))
        assert set(np.unique(label)) == {0, 1 if r["diagnosis"] == "mel" else 2}
    by_case = {}
    for r in pairs:
        by_case.setdefault(r["case"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_case.values())  # both images of one lesion on one side


def test_labels_are_for_skin_only(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("image_id,dx\na,mel\n")
    assert main(["prepare", "mri", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--labels", str(tmp_path / "t.csv")]) == 2

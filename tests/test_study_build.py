"""Study building: one normalisation pipeline, no metadata, opaque ids, a separate key, the leak audit."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from synthgui.cli import main as cli_main
from synthgui.core.errors import SynthguiError
from synthgui.core.study.build import BuildRequest, build_study
from synthgui.core.study.design import StudyOptions, load_study
from synthgui.core.study.key import load_key
from synthgui.core.study.leak_audit import audit_files
from synthgui.core.study.normalise import normalise, read_pixels


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append(kind)
        pos += 12 + length
    return out


def texture(rng: np.random.Generator, size: int = 64, base: float = 140.0) -> np.ndarray:
    """A smooth random 'skin' image: the same distribution for both classes unless a leak is planted."""
    small = rng.normal(base, 25, (8, 8, 3))
    img = np.asarray(Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).resize((size, size), Image.BICUBIC))
    return np.clip(img.astype(np.float32) + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def write_set(folder: Path, n: int, fmt: str, seed: int, base: float = 140.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        p = folder / f"img{i:02d}.{fmt}"
        img = Image.fromarray(texture(rng, base=base))
        if fmt == "jpg":
            img.save(p, quality=92)
        elif fmt == "tif":  # lossless, with tags a camera pipeline would leave
            img.save(p, tiffinfo={270: "clinic photo", 305: "CameraApp 2.1"})
        else:
            img.save(p)
        paths.append(p)
    return paths


def test_normalise_strips_every_metadata_channel(tmp_path):
    rgb = texture(np.random.default_rng(0), 48)
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0110] = "DermaScope 3000"  # Model
    exif[0x0132] = "2024:01:01 10:00:00"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpg = tmp_path / "a.jpg"
    Image.fromarray(rgb).save(jpg, exif=exif, icc_profile=icc, comment=b"patient Jane Doe", quality=95)
    png = tmp_path / "b.png"
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_itxt("Description", "synthetic by GAN")
    Image.fromarray(rgb).save(png, pnginfo=info, icc_profile=icc, dpi=(300, 300))
    tif = tmp_path / "c.tif"
    Image.fromarray(rgb).save(tif, tiffinfo={270: "synthetic", 305: "GAN"})
    import pydicom.data

    dcm = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
    for src in (jpg, png, tif, dcm):
        data = normalise(src, 32, (40.0, 400.0) if src.suffix == ".dcm" else None)
        assert png_chunks(data) == [b"IHDR", b"IDAT", b"IEND"], src.name
        with Image.open(io.BytesIO(data)) as out:
            assert out.size == (32, 32) and out.mode == "RGB"
            assert not out.info and not out.getexif()
        for secret in (b"Jane", b"Doe", b"GAN", b"synthetic", b"Camera", b"DICM", b"CompressedSamples"):
            assert secret not in data, (src.name, secret)


def test_exif_orientation_is_applied_before_stripping(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left red, right blue as stored
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = tmp_path / "o.png"
    Image.fromarray(arr).save(path, exif=exif)
    shown = read_pixels(path)
    assert shown.shape == (40, 20, 3)
    assert tuple(shown[2, 10]) == (255, 0, 0) and tuple(shown[-3, 10]) == (0, 0, 255)  # red on top now


def test_icc_profile_is_applied_not_just_dropped(tmp_path):
    rgb = np.full((16, 16, 3), 200, np.uint8)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "s.png"
    Image.fromarray(rgb).save(path, icc_profile=srgb)
    assert np.abs(read_pixels(path).astype(int) - 200).max() <= 1  # sRGB to sRGB: unchanged
    broken = tmp_path / "b.png"
    Image.fromarray(rgb).save(broken, icc_profile=b"not a profile")
    assert (read_pixels(broken) == 200).all()  # a broken profile keeps the stored pixels


def test_leak_audit_flags_png_vs_jpeg_and_passes_a_clean_set(tmp_path):
    real = write_set(tmp_path / "real", 12, "jpg", seed=1)
    syn = write_set(tmp_path / "syn", 12, "png", seed=2)
    leaky = audit_files(real, syn)
    assert leaky.leaks
    flagged = {f.name for f in leaky.features if f.leaks}
    assert {"format", "bytes", "metadata_items"} <= flagged
    clean_real = write_set(tmp_path / "r2", 12, "png", seed=3)
    clean_syn = write_set(tmp_path / "s2", 12, "png", seed=4)
    clean = audit_files(clean_real, clean_syn)
    assert not clean.leaks, clean.warnings()
    brighter = write_set(tmp_path / "s3", 12, "png", seed=5, base=190.0)  # a colour shift survives normalisation
    assert {"mean_r", "mean_g", "mean_b"} & {f.name for f in audit_files(clean_real, brighter).features if f.leaks}


def test_jpeg_history_survives_normalisation_and_the_audit_says_so(tmp_path):
    """Lossy real photos vs lossless synthetic images: re-encoding cannot undo it, the audit must warn."""
    real = write_set(tmp_path / "real", 10, "jpg", seed=1)
    syn = write_set(tmp_path / "syn", 10, "png", seed=2)
    result = build_study(BuildRequest(real, syn, tmp_path / "study", options=StudyOptions(size=48)))
    assert any(a.leaks for a in result.audits if a.stage == "study images")
    assert any(w.startswith("study images:") for w in result.warnings)


def test_build_normalises_blinds_and_keeps_key_apart(tmp_path):
    real = write_set(tmp_path / "real", 10, "tif", seed=1)
    syn = write_set(tmp_path / "syn", 10, "png", seed=2)
    out = tmp_path / "study"
    result = build_study(BuildRequest(real, syn, out, per_class=8, practice=4, seed=7,
                                      options=StudyOptions(size=48, diagnoses=["melanoma", "naevus"])))
    assert result.key_path == tmp_path / "study.key.json" and result.key_path.is_file()
    assert not any(p.name.endswith(".key.json") for p in out.rglob("*"))
    study = load_study(out)
    main, practice = study.phase_cases("main"), study.phase_cases("practice")
    assert len(main) == 16 and len(practice) == 4
    text = (out / "study.json").read_text()
    assert '"truth"' not in json.dumps([c for c in json.loads(text)["cases"] if c["phase"] == "main"])
    assert all(c.truth in ("real", "synthetic") for c in practice)
    assert "img" not in text and "real" not in text.replace('"real"', "")  # no source names
    files = sorted((out / "images").iterdir())
    assert len(files) == 20 and len({f.stat().st_mtime for f in files}) == 1
    sizes = {Image.open(f).size for f in files}
    assert sizes == {(48, 48)}
    key = load_key(result.key_path)
    truth = key.truth()
    assert sum(t == "synthetic" for c, t in truth.items() if c in {m.case_id for m in main}) == 8
    assert set(truth) == {c.case_id for c in study.cases}
    ids = [c.case_id for c in study.cases]
    assert len(set(ids)) == 20 and all(len(i) == 10 for i in ids)
    stages = {a["stage"]: a for a in key.leak_audit}
    assert stages["input files"]["leaks"] and not stages["study images"]["leaks"], stages["study images"]["warnings"]
    used_main = {e.source for e in key.entries if e.phase == "main"}
    assert not used_main & {e.source for e in key.entries if e.phase == "practice"}


def test_build_refuses_key_inside_study_and_non_empty_folder(tmp_path):
    real = write_set(tmp_path / "real", 3, "png", seed=1)
    syn = write_set(tmp_path / "syn", 3, "png", seed=2)
    with pytest.raises(SynthguiError, match="outside the study"):
        build_study(BuildRequest(real, syn, tmp_path / "s", key_path=tmp_path / "s" / "key.json"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(SynthguiError, match="not empty"):
        build_study(BuildRequest(real, syn, tmp_path / "full"))
    with pytest.raises(SynthguiError, match="per-class 5"):
        build_study(BuildRequest(real, syn, tmp_path / "s2", per_class=5))


def test_cli_build_reports_audit_and_errors(tmp_path, capsys):
    write_set(tmp_path / "real", 6, "jpg", seed=1)
    write_set(tmp_path / "syn", 6, "png", seed=2)
    rc = cli_main(["study", "build", "--real", str(tmp_path / "real"), "--synthetic", str(tmp_path / "syn"),
                   "--out", str(tmp_path / "st"), "--size", "32", "--practice", "2", "--diagnoses", "a,b",
                   "--time-limit", "20"])
    out = capsys.readouterr().out
    assert rc == 0 and "5 scored case(s)" not in out and "10 scored case(s), 2 practice" in out
    assert "warning: input files: 'format'" in out
    study = load_study(tmp_path / "st")
    assert study.options.diagnoses == ["a", "b"] and study.options.time_limit_s == 20
    assert cli_main(["study", "build", "--real", str(tmp_path / "nope"), "--synthetic", str(tmp_path / "syn"),
                     "--out", str(tmp_path / "st2")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert cli_main(["study", "build", "--real", str(tmp_path / "real"), "--out", str(tmp_path / "st3")]) == 2


def test_generate_uses_the_engine_with_masks(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from helpers import skin_card, write_model
    from synthgui.core.networks import GeneratorSpec
    from synthgui.core.study.generate import generate_images

    weights = write_model(tmp_path / "m", GeneratorSpec(kind="unet", num_downs=6, ngf=4), skin_card(resolution=64))
    masks = tmp_path / "masks"
    masks.mkdir()
    m = np.zeros((64, 64), np.uint8)
    m[20:40, 20:44] = 255
    Image.fromarray(m).save(masks / "a.png")
    made = generate_images(str(weights), 3, tmp_path / "gen", masks, seed=5, device="cpu")
    assert [g.provenance["seed"] for g in made] == [5, 6, 7]
    assert all(g.path.is_file() and Image.open(g.path).size == (64, 64) for g in made)
    assert made[0].provenance["model"]["sha256"] and made[0].provenance["mask"] == "a.png"


def test_dicoms_share_one_window_preset(tmp_path):
    import shutil

    import pydicom.data

    src = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
    real_dir, syn_dir = tmp_path / "real", tmp_path / "syn"
    real_dir.mkdir()
    syn_dir.mkdir()
    for i in range(3):
        shutil.copy(src, real_dir / f"r{i}.dcm")
        shutil.copy(src, syn_dir / f"s{i}.dcm")
    result = build_study(BuildRequest(sorted(real_dir.iterdir()), sorted(syn_dir.iterdir()), tmp_path / "st",
                                      options=StudyOptions(size=32)))
    window = load_study(tmp_path / "st").options.dicom_window
    assert window is not None and window[1] > 0
    assert result.study.options.dicom_window == window


def test_shared_data_split_is_clean_after_planting_a_format_leak(tmp_path, shared_data):
    """Real ISIC photos: one half kept as 512 px JPEG, the other saved as 256 px PNG (a planted leak)."""
    images = sorted((shared_data / "skin-isic2018" / "images").glob("*.jpg"))[:24]
    if len(images) < 24:
        pytest.skip("ISIC images not available")
    syn_dir = tmp_path / "syn"
    syn_dir.mkdir()
    syn = []
    for p in images[1::2]:
        q = syn_dir / f"{p.stem}.png"
        Image.open(p).resize((256, 256)).save(q)
        syn.append(q)
    result = build_study(BuildRequest(images[0::2], syn, tmp_path / "st", options=StudyOptions(size=128)))
    by_stage = {a.stage: a for a in result.audits}
    assert {"format", "width"} <= {f.name for f in by_stage["input files"].features if f.leaks}
    assert not by_stage["study images"].leaks, by_stage["study images"].warnings()


def test_cli_build_with_generation_records_provenance(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from helpers import skin_card, write_model
    from synthgui.core.networks import GeneratorSpec

    weights = write_model(tmp_path / "m", GeneratorSpec(kind="unet", num_downs=6, ngf=4), skin_card(resolution=64))
    write_set(tmp_path / "real", 4, "png", seed=1)
    (tmp_path / "masks").mkdir()
    m = np.zeros((64, 64), np.uint8)
    m[10:30, 12:40] = 255
    Image.fromarray(m).save(tmp_path / "masks" / "m.png")
    rc = cli_main(["study", "build", "--real", str(tmp_path / "real"), "--generate", str(weights), "--count", "4",
                   "--masks", str(tmp_path / "masks"), "--device", "cpu", "--out", str(tmp_path / "st"),
                   "--size", "32", "--seed", "3"])
    assert rc == 0, capsys.readouterr().err
    key = load_key(tmp_path / "st.key.json")
    generated = [e for e in key.entries if e.truth == "synthetic"]
    assert len(generated) == 4
    assert sorted(e.provenance["seed"] for e in generated) == [3, 4, 5, 6]
    assert all(e.provenance["model"]["sha256"] and e.provenance["mask"] == "m.png" for e in generated)
    assert (tmp_path / "st.generated").is_dir() and not (tmp_path / "st" / "st.generated").exists()
    assert cli_main(["study", "build", "--real", str(tmp_path / "real"), "--generate", str(weights),
                     "--out", str(tmp_path / "st2")]) == 2
    assert "--count" in capsys.readouterr().err

"""The command line: render, models, version, and one-line errors for user mistakes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from synthgui import __version__
from synthgui.cli import main
from synthgui.core.networks import GeneratorSpec

from helpers import skin_card, write_model


@pytest.fixture
def model_path(tmp_path):
    return write_model(tmp_path / "models", GeneratorSpec(ngf=4), skin_card())


@pytest.fixture
def mask_path(tmp_path):
    mask = np.zeros((256, 256), np.uint8)
    mask[80:170, 90:160] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path / "mask.png"


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run([sys.executable, "-m", "synthgui", *map(str, args)], capture_output=True, text=True, env=env, timeout=120)


def test_version_and_module_entry_point():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"synthgui {__version__}"


def test_render_writes_an_image(tmp_path, model_path, mask_path, capsys):
    out = tmp_path / "out" / "img.png"
    code = main(["render", "--model", str(model_path), "--mask", str(mask_path), "--out", str(out),
                 "--skin-tone", "V", "--seed", "3", "--mode", "reference", "--device", "cpu"])
    assert code == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (256, 256, 3)
    again = tmp_path / "again.png"
    main(["render", "--model", str(model_path), "--mask", str(mask_path), "--out", str(again), "--skin-tone", "V", "--seed", "3"])
    assert np.array_equal(img, np.asarray(Image.open(again)))
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("case,match", [
    ("missing_mask", "file not found"),
    ("not_image", "not an image"),
    ("bad_colour", "unknown class colour"),
    ("bad_tone", "not a skin tone"),
    ("bad_condition", "no class 'wart'"),
    ("unwritable", "cannot write"),
    ("wrong_shape", "layer model.model.0.weight has shape"),
    ("bad_format", "cannot tell the image format"),
])
def test_user_errors_are_one_line(tmp_path, model_path, mask_path, capsys, case, match):
    args = {"model": str(model_path), "mask": str(mask_path), "out": str(tmp_path / "o.png")}
    extra = []
    if case == "missing_mask":
        args["mask"] = str(tmp_path / "nope.png")
    elif case == "not_image":
        (tmp_path / "t.png").write_text("text")
        args["mask"] = str(tmp_path / "t.png")
    elif case == "bad_colour":
        rgb = np.zeros((16, 16, 3), np.uint8)
        rgb[3, 4] = (250, 1, 1)
        Image.fromarray(rgb).save(tmp_path / "c.png")
        args["mask"] = str(tmp_path / "c.png")
    elif case == "bad_tone":
        extra = ["--skin-tone", "beige"]
    elif case == "bad_condition":
        extra = ["--condition", "wart"]
    elif case == "unwritable":
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        args["out"] = str(ro / "o.png")
        if os.geteuid() == 0:
            args["out"] = "/proc/o.png"  # root ignores permission bits
    elif case == "wrong_shape":
        card = skin_card(architecture={"ngf": 8})
        args["model"] = str(write_model(tmp_path / "m2", GeneratorSpec(ngf=4), card))
    elif case == "bad_format":
        args["out"] = str(tmp_path / "o.xyz")
    code = main(["render", "--model", args["model"], "--mask", args["mask"], "--out", args["out"], *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_hostile_checkpoint_via_cli(tmp_path, mask_path):
    marker = tmp_path / "ran"
    code = f"import os, torch\nclass P:\n    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\ntorch.save({{'x': P()}}, '{tmp_path}/evil.pth')\n"
    subprocess.run([sys.executable, "-c", code], check=True)
    out = run_cli("render", "--model", tmp_path / "evil.pth", "--mask", mask_path, "--out", tmp_path / "o.png")
    assert out.returncode == 2 and "refused to load" in out.stderr and "Traceback" not in out.stderr
    assert not marker.exists()


def test_models_list_and_show(tmp_path, model_path, monkeypatch, capsys):
    user_models = tmp_path / "home" / "models"
    monkeypatch.setenv("SYNTHGUI_HOME", str(tmp_path / "home"))
    write_model(user_models, GeneratorSpec(ngf=4), skin_card(name="mine"), name="mine")
    assert main(["models"]) == 0
    assert "mine" in capsys.readouterr().out
    assert main(["models", "show", "mine", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["architecture"]["name"] == "unet_256" and data["architecture"]["ngf"] == 4
    assert data["card"]["domain"] == "skin" and len(data["sha256"]) == 64
    assert main(["models", "show", str(model_path)]) == 0
    text = capsys.readouterr().out
    assert "unet_256" in text and "lesion" in text

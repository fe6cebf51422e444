"""Absurd sizes and counts on the command line are one line and status 2 before any work or output
folder, each limit stated in the message and in --help (the CLI's promise, as in test_cli_hunt.py).
Before, each of these ran out of memory, crashed with a traceback, hung, or failed only after the work."""

import os

import pytest
import torch

from synthgui.cli import main
from synthgui.core.card import Encoding, ModelCard
from synthgui.core.checkpoints import save_state_dict
from synthgui.core.dcgan import dcgan_spec
from synthgui.core.networks import GeneratorSpec, build_generator

from helpers import randomise, skin_card, write_image_folders, write_model
from test_cli_hunt import gan_args, one_line_error, train_args

HUGE = 10**14
CORES = os.cpu_count() or 1


@pytest.fixture
def model_path(tmp_path):
    return write_model(tmp_path / "models", GeneratorSpec(ngf=4, num_downs=6), skin_card(resolution=64))


@pytest.fixture
def noise_model(tmp_path):
    """A tiny DCGAN with its noise card: export --random N samples N images."""
    net = randomise(build_generator(dcgan_spec(nz=8, ngf=4, nc=3, size=16)), seed=1)
    path = tmp_path / "noise" / "netG.pth"
    path.parent.mkdir()
    save_state_dict(net, path)
    ModelCard(name="tiny-dcgan", version="1", domain="skin", encoding=Encoding("noise", noise_dim=8), resolution=16,
              default_mode="eval", weights=path.name).save(path.with_suffix(".json"))
    return path


@pytest.fixture
def training_images(tmp_path):
    write_image_folders(tmp_path / "training", 2, names=("images",))
    return tmp_path / "training" / "images"


def export_args(model, out, *extra):
    return ["export", "--model", model, "--out", out, "--device", "cpu", "--no-progress", *extra]


# --- prepare -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["999999999", "4097"])
def test_prepare_refuses_a_side_beyond_the_networks(tmp_path, raw_skin, capsys, size):
    """Before: --size 999999999 was cv2's 'Failed to allocate 2999999994000000003 bytes' traceback;
    4097 made pairs no network of synthgui can train on."""
    out = tmp_path / "p"
    one_line_error(capsys, ["prepare", "skin", "--data", raw_skin, "--out", out, "--size", size], "4096")
    assert not out.exists()


# --- train ---------------------------------------------------------------------------------------


def test_train_refuses_a_resolution_beyond_the_networks(tmp_path, pairs, capsys):
    """Before: cv2's "Can't parse 'dsize'" traceback while loading the pairs."""
    argv = train_args(pairs, tmp_path / "run")
    argv[argv.index("--resolution") + 1] = str(HUGE)
    one_line_error(capsys, argv, "4096")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("load_size", ["65", str(HUGE)])
def test_train_refuses_a_load_size_beyond_twice_the_resolution(tmp_path, pairs, capsys, load_size):
    """Before: 10**14 made the run folder and crashed in the first crop (cv2 traceback); 65 (a crop of
    under a quarter of the picture at --resolution 32) trained."""
    argv = train_args(pairs, tmp_path / "run")
    argv[argv.index("--load-size") + 1] = load_size
    one_line_error(capsys, argv, "--load-size")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("epoch_size", ["1000001", str(HUGE)])
def test_train_refuses_an_epoch_too_long_to_list(tmp_path, pairs, capsys, epoch_size):
    """Before: the epoch's sample order (a list, saved in every resume file) was built first: 10**14
    hung and ran out of memory, a million and one trained for days."""
    one_line_error(capsys, [*train_args(pairs, tmp_path / "run"), "--epoch-size", epoch_size], "1,000,000")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option,value", [("--batch-size", HUGE), ("--ngf", 10**6), ("--ndf", 10**20),
                                          ("--input-nc", 10**9)])
def test_train_refuses_a_step_larger_than_memory(tmp_path, pairs, capsys, option, value):
    """Before: --ngf 10**6 and --input-nc 10**9 were torch's "can't allocate memory" tracebacks and
    --ndf 10**20 an overflow traceback, after the run folder was made; --batch-size 10**14 ran (the
    epoch capped it silently)."""
    out = tmp_path / "run"
    err = one_line_error(capsys, [*train_args(pairs, out), option, str(value)], "memory")
    assert "GB" in err or "too large" in err
    assert not out.exists()


def test_train_refuses_pairs_larger_than_memory(tmp_path, pairs, monkeypatch):
    """Every pair is held decoded at the training resolution: a set that cannot fit is refused before
    decoding (before, it was decoded until the machine ran out of memory). The machine's memory is
    made small here so three pairs stand for a big dataset."""
    from synthgui.core import datasets
    from synthgui.core.errors import SynthguiError

    monkeypatch.setattr(datasets, "host_memory", lambda: 10_000, raising=False)
    with pytest.raises(SynthguiError, match=r"3 pairs .*memory"):
        datasets.load_pair_folders(pairs / "masks", pairs / "images", 32)
    with pytest.raises(SynthguiError, match="memory"):
        datasets.load_aligned(pairs / "images", 32)


@pytest.mark.parametrize("command", ["train", "train-gan"])
def test_training_refuses_more_threads_than_cores(tmp_path, pairs, capsys, command):
    """Before: accepted; torch.set_num_threads(10**6) spent 15 s starting threads and then segfaulted.
    Four per core are allowed, so a script from a larger machine still runs."""
    argv = (train_args if command == "train" else gan_args)(pairs, tmp_path / "run")
    one_line_error(capsys, [*argv, "--threads", str(4 * CORES + 1)], f"{4 * CORES}")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command,option,value", [
    ("train", "--checkpoint-minutes", "nan"), ("train", "--checkpoint-minutes", "-1"), ("train", "--lambda-l1", "nan"),
    ("train", "--lambda-l1", "-1"), ("train", "--preview-every", "-1"), ("train", "--snapshot-every", "-5"),
    ("train-gan", "--checkpoint-minutes", "nan"), ("train-gan", "--preview-every", "-1")])
def test_training_refuses_absurd_rates_and_intervals(tmp_path, pairs, capsys, command, option, value):
    """Before: each trained to the end with status 0 (nan minutes: never a checkpoint; a nan or
    negative L1 weight: a generator pushed away from its targets)."""
    argv = (train_args if command == "train" else gan_args)(pairs, tmp_path / "run")
    one_line_error(capsys, [*argv, option, value], option)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["1.5", "nan", "-0.5"])
def test_train_refuses_a_retone_fraction_outside_0_to_1(tmp_path, pairs, capsys, value):
    """Before: trained with status 0; 1.5 meant 1, nan and -0.5 meant 0."""
    card = skin_card(resolution=32)
    card.save(tmp_path / "card.json")
    argv = [*train_args(pairs, tmp_path / "run"), "--card-template", tmp_path / "card.json", "--retone", value]
    one_line_error(capsys, argv, "--retone")
    assert not (tmp_path / "run").exists()


# --- train-gan -----------------------------------------------------------------------------------


def test_train_gan_refuses_a_size_beyond_the_networks(tmp_path, pairs, capsys):
    """Before: cv2's allocation traceback while loading the images at 2**40 px."""
    argv = gan_args(pairs, tmp_path / "run")
    argv[argv.index("--size") + 1] = str(2**40)
    one_line_error(capsys, argv, "4096")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option,value", [("--batch-size", 10**17), ("--ngf", 10**6), ("--nz", 10**9),
                                          ("--ndf", 10**20)])
def test_train_gan_refuses_a_step_larger_than_memory(tmp_path, pairs, capsys, option, value):
    """Before: numpy's 'Unable to allocate' (a batch of 10**17 indices), torch's "can't allocate
    memory" or an overflow traceback, each after the run folder was made."""
    out = tmp_path / "run"
    one_line_error(capsys, [*gan_args(pairs, out), option, str(value)], "memory")
    assert not out.exists()


# --- export --------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", ["100001", str(HUGE)])
def test_export_refuses_more_random_masks_than_it_lists(tmp_path, model_path, capsys, count):
    """Before: 10**14 hung listing its masks (every one is a record of the export's plan); 100001
    spent a minute on that before the first image."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, "--random", count), "100,000")
    assert not out.exists()


@pytest.mark.parametrize("extra", [["--random", "2", "--seeds", "600000"], ["--random", "2", "--sample", str(HUGE)],
                                   ["--random", "2", "--sizes", "1", "2", "--seeds", "300000"]])
def test_export_refuses_more_images_than_it_names(tmp_path, model_path, capsys, extra):
    """Before: 1,200,000 images were planned (past the six-digit names, with a journal read whole at
    every run's end) and rendered for hours; --sample 10**14 was numpy's 'Unable to allocate' traceback."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, *extra), "1,000,000")
    assert not out.exists()


def test_export_refuses_too_many_noise_samples(tmp_path, noise_model, capsys):
    """Before: an unconditional generator's --random 10**14 listed 10**14 items before the first image (a hang)."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(noise_model, out, "--random", str(HUGE)), "1,000,000")
    assert not out.exists()


def test_export_refuses_a_sample_of_an_unlistable_product(tmp_path, model_path, capsys):
    """Before: numpy's OverflowError traceback ('Python int too large to convert to C long') drawing
    5 of 2**64 combinations."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, "--random", "2", "--sizes", "1", "2", "--seeds", str(2**62),
                                       "--sample", "5"), "2**63")
    assert not out.exists()


def test_export_refuses_a_batch_larger_than_memory(tmp_path, model_path, capsys):
    """Before: accepted; every chunk of --batch images is held in memory (and is one forward on a
    GPU), so a big export ran out of memory."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, "--random", "2", "--batch", str(HUGE)), "memory")
    assert not out.exists()


@pytest.mark.parametrize("workers", ["0", "-3", str(4 * CORES + 1)])
def test_export_refuses_a_bad_worker_count(tmp_path, model_path, capsys, workers):
    """Before: 0 and -3 silently became 1 writer; 10**6 was accepted (a thread per item in flight)."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, "--random", "2", "--workers", workers), "--workers")
    assert not out.exists()


@pytest.mark.parametrize("case", ["missing", "empty", "unreadable", "a file"])
def test_export_checks_the_privacy_folder_before_rendering(tmp_path, model_path, capsys, case):
    """Before: every image was rendered first, then 'training image folder not found' (or 'none of
    the training images could be read'), with a finished export folder left behind."""
    folder = tmp_path / "training"
    if case == "empty":
        folder.mkdir()
    elif case == "unreadable":
        folder.mkdir()
        (folder / "broken.png").write_bytes(b"not a png")
    elif case == "a file":
        folder.write_text("x")
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, "--random", "2", "--privacy-check", folder), "training")
    assert not out.exists()


def test_export_privacy_check_without_a_folder_in_the_card(tmp_path, model_path, capsys):
    """Before: 'no training images to compare with' only after every image was rendered."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, "--random", "2", "--privacy-check"), "training")
    assert not out.exists()


def test_export_privacy_check_still_runs(tmp_path, model_path, training_images, capsys):
    """A good folder passes the early check and is compared after rendering, as before."""
    out = tmp_path / "set"
    assert main([str(a) for a in export_args(model_path, out, "--random", "2", "--privacy-check", training_images)]) == 0
    assert (out / "privacy.csv").is_file()


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf"])
def test_export_refuses_a_bad_privacy_threshold(tmp_path, model_path, training_images, capsys, value):
    """Before: every image was rendered and compared; nan, 0 and -1 flag nothing and inf flags
    everything, status 0 in each case."""
    out = tmp_path / "set"
    one_line_error(capsys, export_args(model_path, out, "--random", "2", "--privacy-check", training_images,
                                       "--privacy-threshold", value), "--privacy-threshold")
    assert not out.exists()


# --- study build ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", ["100001", str(HUGE)])
def test_study_build_refuses_an_absurd_generate_count(tmp_path, model_path, capsys, count):
    """Before: it rendered image after image (five-digit names) until stopped."""
    write_image_folders(tmp_path, 2)
    out = tmp_path / "study"
    one_line_error(capsys, ["study", "build", "--real", tmp_path / "real", "--generate", model_path, "--count", count,
                            "--out", out, "--blank-ms", "0", "--size", "32", "--device", "cpu"], "100,000")
    assert not out.exists() and not (tmp_path / "study.generated").exists()


@pytest.mark.parametrize("option,value", [("--time-limit", "nan"), ("--time-limit", "inf"), ("--practice", "-2")])
def test_study_build_refuses_absurd_numbers(tmp_path, capsys, option, value):
    """Before: built with status 0: a NaN time limit in study.json (not even valid JSON), an
    endless one, and a study whose practice split went negative."""
    write_image_folders(tmp_path, 4)
    out = tmp_path / "study"
    one_line_error(capsys, ["study", "build", "--real", tmp_path / "real", "--synthetic", tmp_path / "syn",
                            "--out", out, "--blank-ms", "0", "--size", "32", option, value], option)
    assert not out.exists()


# --- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv,limits", [
    (["prepare"], ["4096"]),
    (["train"], ["4096", "twice --resolution", "1,000,000", "per CPU core", "memory"]),
    (["train-gan"], ["4096", "per CPU core", "memory"]),
    (["export"], ["100,000", "1,000,000", "per CPU core", "memory", "readable images"]),
    (["study", "build"], ["100,000"]),
])
def test_help_states_the_limits(capsys, argv, limits):
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    missing = [limit for limit in limits if limit not in text]
    assert not missing, missing


def test_the_reference_run_passes_the_memory_check():
    """The check refuses only what cannot run: the reference's own step (unet_256, ngf 64, 256 px,
    batch 1) comes to about a gigabyte, which any machine that can train it has, and the estimate
    grows with the batch."""
    from synthgui.core.train import step_memory_bytes

    spec = GeneratorSpec(kind="unet", ngf=64, num_downs=8)
    one = step_memory_bytes(spec, ndf=64, n_layers_d=3, resolution=256, batch=1)
    params = sum(p.numel() for p in build_generator(spec).parameters())
    assert 16 * params < one < 2 * 10**9
    assert step_memory_bytes(spec, ndf=64, n_layers_d=3, resolution=256, batch=8) > one


def test_the_memory_check_counts_resize_conv_layers_on_either_path():
    """A resize-conv layer keeps its input for the backward pass: the small map itself where it runs
    as a transposed convolution (its inner Conv2d is then never called), the upsampled map below."""
    from synthgui.core.networks import ResizeConv
    from synthgui.core.train import saved_activations

    with torch.device("meta"):
        layer = ResizeConv(8, 4, True)
    side = layer.transposed_from
    assert saved_activations(layer, (1, 8, side, side)) == 8 * side * side
    assert saved_activations(layer, (1, 8, side // 2, side // 2)) == 8 * side * side  # upsampled to side x side

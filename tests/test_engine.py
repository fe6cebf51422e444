"""Test-time modes, seeded variations, untouched buffers, batching and latest-wins rendering."""

import threading
import time

import numpy as np
import pytest
import torch

from synthgui.core.encoding import EncodeRequest
from synthgui.core.engine import Engine, LatestWins, RenderJob, select_device
from synthgui.core.errors import SynthguiError
from synthgui.core.masks import disk_label_map
from synthgui.core.models import load_model
from synthgui.core.networks import GeneratorSpec

from helpers import skin_card, write_model


@pytest.fixture
def engine(tmp_path):
    return Engine(load_model(write_model(tmp_path, GeneratorSpec(ngf=4), skin_card())), device="cpu", threads=1)


def test_reference_mode_is_seeded_and_varies(engine):
    lm = disk_label_map(256)
    a, b, c = (engine.render(lm, seed=s, mode="reference") for s in (1, 1, 2))
    assert a.shape == (256, 256, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_deterministic_and_eval_ignore_the_seed(engine):
    lm = disk_label_map(256)
    for mode in ("deterministic", "eval"):
        assert np.array_equal(engine.render(lm, seed=1, mode=mode), engine.render(lm, seed=99, mode=mode))
    assert not np.array_equal(engine.render(lm, mode="deterministic"), engine.render(lm, mode="eval"))


def test_batch_statistics_modes_leave_buffers_untouched(engine):
    before = {k: v.clone() for k, v in engine.net.state_dict().items()}
    lm = disk_label_map(256)
    eval_before = engine.render(lm, mode="eval")
    for s in range(3):
        engine.render(lm, seed=s, mode="reference")
        engine.render(lm, mode="deterministic")
    for k, v in engine.net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert np.array_equal(engine.render(lm, mode="eval"), eval_before)


def test_batched_render_equals_single_renders(engine):
    lms = [disk_label_map(256, r) for r in (0.1, 0.2, 0.3)]
    inputs = np.stack([engine.encode(lm) for lm in lms])
    for mode in ("reference", "deterministic", "eval"):
        batch = engine.render_inputs(inputs, seeds=[5, 6, 7], mode=mode).images
        singles = [engine.render(lm, seed=s, mode=mode) for lm, s in zip(lms, (5, 6, 7))]
        for b, s in zip(batch, singles):
            assert np.abs(b.astype(int) - s.astype(int)).max() <= 1


def test_skin_tone_changes_the_input_and_the_output(engine):
    lm = disk_label_map(256)
    light = engine.encode(lm, EncodeRequest(skin_tone=(0xD5, 0xB5, 0xA4)))
    dark = engine.encode(lm, EncodeRequest(skin_tone=(0x63, 0x44, 0x33)))
    assert not np.array_equal(light[:, 0, 0], dark[:, 0, 0])
    assert np.array_equal(light[:, 128, 128], dark[:, 128, 128])  # lesion colour unchanged
    assert not np.array_equal(engine.render(lm, EncodeRequest(skin_tone=(213, 181, 164)), mode="eval"),
                              engine.render(lm, EncodeRequest(skin_tone=(99, 68, 51)), mode="eval"))


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(SynthguiError, match="CUDA"):
            select_device("cuda")
    with pytest.raises(SynthguiError, match="unknown device"):
        select_device("tpu9")


def test_unknown_mode_is_an_error(engine):
    with pytest.raises(SynthguiError, match="unknown mode"):
        engine.render(disk_label_map(256), mode="train")


def test_latest_wins_drops_superseded_requests():
    gate = threading.Event()
    rendered, delivered = [], []

    def render(job: RenderJob):
        rendered.append(job.seed)
        if job.seed == 0:
            gate.wait(5)  # the first render is slow; the user keeps drawing meanwhile
        return np.full((2, 2, 3), job.seed, np.uint8)

    worker = LatestWins(render, lambda job, img, sec: delivered.append(int(img[0, 0, 0])))
    worker.submit(RenderJob(np.zeros((4, 4), np.uint8), seed=0))
    time.sleep(0.05)
    for seed in range(1, 6):
        worker.submit(RenderJob(np.zeros((4, 4), np.uint8), seed=seed))
    gate.set()
    deadline = time.time() + 5
    while not worker.idle() and time.time() < deadline:
        time.sleep(0.01)
    assert worker.stop()
    assert rendered == [0, 5]  # 1..4 were superseded before they started
    assert delivered == [5]  # the stale result of request 0 was dropped


def test_latest_wins_reports_errors_and_keeps_running():
    errors, results = [], []

    def render(job):
        if job.seed == 1:
            raise RuntimeError("boom")
        return np.zeros((1, 1, 3), np.uint8)

    worker = LatestWins(render, lambda j, i, s: results.append(j.seed), lambda j, e: errors.append(str(e)))
    worker.submit(RenderJob(np.zeros((1, 1), np.uint8), seed=1))
    time.sleep(0.2)
    worker.submit(RenderJob(np.zeros((1, 1), np.uint8), seed=2))
    time.sleep(0.2)
    assert worker.stop()
    assert errors == ["boom"] and results == [2]


@pytest.mark.parametrize("trace", [True, False], ids=["traced", "eager"])
@pytest.mark.parametrize("kind", ["unet", "resnet"])
@pytest.mark.parametrize("mode", ["reference", "deterministic", "eval"])
def test_engine_output_equals_the_reference_forward_on_a_reference_checkpoint(tmp_path, mode, kind, trace):
    """What the app renders is the reference network's output on the same checkpoint, in each mode:
    in reference mode with the dropout masks ``torch.dropout`` draws after ``torch.manual_seed``."""
    from reference_oracle import resnet_forward, unet_forward

    if kind == "unet":
        spec, x = GeneratorSpec(ngf=4, num_downs=8, dropout=True), torch.rand(2, 3, 256, 256) * 2 - 1
    else:
        spec, x = GeneratorSpec(kind="resnet", ngf=4, n_blocks=6, dropout=True), torch.rand(2, 3, 64, 64) * 2 - 1
    path = write_model(tmp_path, spec, skin_card())
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v.float() for k, v in state.items()}
    engine = Engine(load_model(path), device="cpu", threads=1, trace=trace)
    ours = engine.forward(x, mode, seed=11)
    torch.manual_seed(11)
    with torch.no_grad():
        if kind == "unet":
            theirs = unet_forward(state, x, 8, "batch", True, mode)
        else:
            theirs = resnet_forward(state, x, 6, "batch", True, mode)
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0), (ours - theirs).abs().max()
    assert engine.trace == trace and engine.trace_error is None


@pytest.mark.parametrize("spec", [
    GeneratorSpec(ngf=4, dropout=True),
    GeneratorSpec(kind="resnet", ngf=4, n_blocks=2, norm="instance"),
    GeneratorSpec(ngf=4, upsample="resize_conv"),
], ids=["unet", "resnet-instance", "unet-resize-conv"])
def test_the_traced_graph_gives_exactly_the_eager_output(tmp_path, spec):
    """The CPU engine runs a traced graph (no GIL during the forward); it must be the same function."""
    path = write_model(tmp_path, spec, skin_card())
    traced = Engine(load_model(path), device="cpu", threads=1)
    eager = Engine(load_model(path), device="cpu", threads=1, trace=False)
    x = torch.rand(3, 3, 256, 256) * 2 - 1
    for mode in ("reference", "deterministic", "eval"):
        for seed in (1, 2):
            for batch in (x[:1], x):
                assert torch.equal(traced.forward(batch, mode, seed), eager.forward(batch, mode, seed)), (mode, seed, len(batch))
    assert traced.trace and traced.trace_error is None
    assert {key[0] for key in traced._graphs} == {"reference", "deterministic", "eval"}


def test_a_failing_trace_falls_back_to_the_module(engine, monkeypatch):
    expected = Engine(engine.model, device="cpu", threads=1, trace=False).render(disk_label_map(256), seed=3)

    def broken(*args, **kwargs):
        raise RuntimeError("tracer exploded")

    monkeypatch.setattr(torch.jit, "trace", broken)
    assert np.array_equal(engine.render(disk_label_map(256), seed=3), expected)
    assert not engine.trace and "tracer exploded" in engine.trace_error


def test_a_trace_that_disagrees_with_the_module_is_not_used(engine, monkeypatch):
    expected = Engine(engine.model, device="cpu", threads=1, trace=False).render(disk_label_map(256), seed=3)
    monkeypatch.setattr(torch.jit, "trace", lambda net, x, **kw: (lambda *y: net(*y) + 0.01))
    assert np.array_equal(engine.render(disk_label_map(256), seed=3), expected)
    assert not engine.trace and "differed" in engine.trace_error and not engine._graphs


def test_warm_up_traces_the_default_mode(engine):
    engine.warm_up()
    assert [key[0] for key in engine._graphs] == [engine.card.default_mode]


@pytest.mark.parametrize("upsample", ["transpose", "resize_conv"])
def test_channels_last_renders_do_not_depend_on_the_thread_count(tmp_path, upsample):
    """Batch statistics reduce over the image; on channels-last tensors the reduction would be split
    by thread count, and the same seed would give other bytes on another machine. A resize-conv
    network runs its large maps as transposed convolutions (networks.ResizeConv): those too."""
    path = write_model(tmp_path, GeneratorSpec(ngf=8, dropout=True, upsample=upsample), skin_card())
    lms = [disk_label_map(256, r) for r in (0.15, 0.3)]
    renders = {}
    for threads in (1, 2):
        engine = Engine(load_model(path), device="cpu", threads=threads)
        renders[threads] = [engine.render(lm, seed=s, mode=m) for lm in lms for s in (1, 2) for m in ("reference", "deterministic")]
    assert all(np.array_equal(a, b) for a, b in zip(renders[1], renders[2]))


def test_engines_of_both_layouts_can_share_a_model(tmp_path):
    path = write_model(tmp_path, GeneratorSpec(ngf=4, dropout=True), skin_card())
    model = load_model(path)
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    fast = Engine(model, device="cpu", threads=1)
    before = fast.forward(x, "reference", 3)
    plain = Engine(model, device="cpu", threads=1, channels_last=False)
    alone = Engine(load_model(path), device="cpu", threads=1, channels_last=False)
    assert torch.equal(plain.forward(x, "reference", 3), alone.forward(x, "reference", 3))
    assert torch.equal(fast.forward(x, "reference", 3), before)
    assert "channels-last" not in plain.describe() and "channels-last" in fast.describe()


def test_an_input_error_is_raised_and_leaves_tracing_on(engine):
    with pytest.raises(RuntimeError):
        engine.forward(torch.zeros(1, 5, 256, 256), "eval", None)
    assert engine.trace and engine.trace_error is None
    engine.render(disk_label_map(256), seed=1)
    assert engine._graphs


def test_seeded_renders_in_two_engines_at_once_stay_reproducible(tmp_path):
    """Seeds set the process-wide RNG; two engines rendering at the same time must not draw each
    other's dropout masks (the studio's preview while an export runs)."""
    path = write_model(tmp_path, GeneratorSpec(ngf=4, dropout=True), skin_card())
    engines = [Engine(load_model(path), device="cpu", threads=1) for _ in range(2)]
    lm = disk_label_map(256)
    expected = {s: engines[0].render(lm, seed=s) for s in range(4)}
    wrong = []

    def work(engine: Engine) -> None:
        for _ in range(10):
            for s in range(4):
                if not np.array_equal(engine.render(lm, seed=s), expected[s]):
                    wrong.append(s)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


def test_channels_last_keeps_every_seed_s_variation(tmp_path):
    """The CPU engine runs channels-last (faster); a seed must still pick the same image as NCHW."""
    path = write_model(tmp_path, GeneratorSpec(ngf=4, dropout=True), skin_card())
    fast = Engine(load_model(path), device="cpu", threads=1)
    plain = Engine(load_model(path), device="cpu", threads=1, channels_last=False, trace=False)
    assert fast.channels_last and not plain.channels_last
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    for mode in ("reference", "deterministic", "eval"):
        for seed in (1, 2):
            assert torch.allclose(fast.forward(x, mode, seed), plain.forward(x, mode, seed), atol=1e-4, rtol=0), (mode, seed)
    assert not torch.allclose(fast.forward(x, "reference", 1), plain.forward(x, "reference", 2), atol=1e-2)


def test_describe_says_how_the_engine_runs(engine, monkeypatch):
    engine.warm_up()
    assert engine.describe() == "cpu, 1 thread, channels-last, traced graph"
    monkeypatch.setattr(torch.jit, "trace", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no jit")))
    other = Engine(engine.model, device="cpu", threads=1)
    other.warm_up()
    assert "eager (tracing failed: RuntimeError: no jit)" in other.describe()


def test_the_engine_s_thread_count_holds_on_any_calling_thread(engine):
    """OpenMP's thread count is per thread: a thread that predates the engine must not use all cores."""
    seen = []

    def call() -> None:
        torch.set_num_threads(2)  # as a thread with its own (default) count
        engine.render(disk_label_map(256), seed=1)
        seen.append(torch.get_num_threads())

    t = threading.Thread(target=call)
    t.start()
    t.join()
    assert seen == [1] and engine.threads == 1


def test_the_least_recently_used_graph_is_dropped(engine, monkeypatch):
    from synthgui.core import engine as engine_module

    monkeypatch.setattr(engine_module, "MAX_GRAPHS", 2)
    x = torch.zeros(3, 3, 256, 256)
    for n in (1, 2, 1, 3):  # batch sizes: 1 is used again before 3 arrives, so 2 goes
        engine.forward(x[:n], "eval", None)
    assert [key[1][0] for key in engine._graphs] == [1, 3]


def test_dropout_noise_is_what_torch_dropout_draws_for_the_seed():
    """The traced graph takes its dropout masks as inputs; for a seed they must be the masks
    ``torch.dropout`` draws after ``torch.manual_seed`` (a seed keeps its variation)."""
    from synthgui.core.engine import draw_dropout_noise

    x = torch.rand(2, 8, 16, 16) + 0.5
    draws = [((2, 8, 16, 16), 0.5), ((2, 8, 16, 16), 0.0), ((2, 8, 16, 16), 0.3), ((2, 8, 16, 16), 1.0), ((2, 8, 16, 16), 0.5)]
    for seed in (0, 7, 123456):
        torch.manual_seed(seed)
        expected = [torch.nn.functional.dropout(x, p, training=True) for _, p in draws]
        noises = draw_dropout_noise(draws, seed)
        assert all(torch.equal(e, x * n) for e, n in zip(expected, noises)), seed


def test_streams_render_an_image_set_as_one_stream_does(tmp_path):
    """Reference-mode images of a set run on parallel streams; the bytes must not change."""
    path = write_model(tmp_path, GeneratorSpec(ngf=4, dropout=True), skin_card())
    model = load_model(path)
    inputs = np.stack([Engine(model, device="cpu", threads=1).encode(disk_label_map(256, r)) for r in (0.1, 0.2, 0.3)] * 2)
    seeds = [5, 6, 7, 8, 9, 10]
    one = Engine(model, device="cpu", threads=1, streams=1)
    many = Engine(load_model(path), device="cpu", threads=2, streams=3)
    assert many.streams == 3
    spans = []
    real_forward = many.forward

    def spy(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real_forward(*args, **kwargs)
        finally:
            spans.append((start, time.perf_counter(), threading.current_thread().name))

    many.forward = spy
    for mode in ("reference", "deterministic"):
        assert np.array_equal(many.render_inputs(inputs, seeds, mode).images, one.render_inputs(inputs, seeds, mode).images), mode
    assert len({name for _, _, name in spans if name.startswith("synthgui-stream")}) >= 2
    assert any(a0 < b1 and b0 < a1 for i, (a0, a1, _) in enumerate(spans) for b0, b1, _ in spans[i + 1:]), "no two renders overlapped"


def test_a_submitted_set_queues_on_the_streams_and_returns_at_once(tmp_path):
    """``submit_inputs`` hands the images to the streams and returns: a second set submitted
    before the first is taken is queued behind it, so no stream waits between sets. A list of
    inputs (the export's, sharing arrays) renders as the stacked array does."""
    path = write_model(tmp_path, GeneratorSpec(ngf=4, dropout=True), skin_card())
    engine = Engine(load_model(path), device="cpu", threads=2, streams=2)
    one = Engine(load_model(path), device="cpu", threads=1, streams=1)
    x = [engine.encode(disk_label_map(256, r)) for r in (0.1, 0.2, 0.3)]
    gate = threading.Event()
    real_forward = engine.forward

    def held(*args, **kwargs):
        gate.wait(10)
        return real_forward(*args, **kwargs)

    engine.forward = held
    first = engine.submit_inputs([x[0], x[1], x[1]], [1, 2, 3], "reference")
    second = engine.submit_inputs(np.stack([x[2], x[0]]), [4, 5], "reference")
    assert not first.done() and not second.done(), "the call waited for its renders"
    gate.set()
    engine.forward = real_forward
    assert np.array_equal(first.result(10).images, one.render_inputs(np.stack([x[0], x[1], x[1]]), [1, 2, 3], "reference").images)
    assert np.array_equal(second.result(10).images, one.render_inputs(np.stack([x[2], x[0]]), [4, 5], "reference").images)
    assert first.result().seeds == [1, 2, 3] and first.result().mode == "reference"


def test_an_error_in_one_image_of_a_submitted_set_reaches_its_future(tmp_path):
    engine = Engine(load_model(write_model(tmp_path, GeneratorSpec(ngf=4), skin_card())), device="cpu", threads=2, streams=2)
    good = engine.encode(disk_label_map(256, 0.2))
    future = engine.submit_inputs([good, np.zeros((3, 100, 100), np.float32)], [0, 1], "reference")
    with pytest.raises(ValueError):
        future.result(30)
    assert np.array_equal(engine.submit_inputs([good], [0], "reference").result(30).images, engine.render_inputs(good[None], [0]).images)


def test_cancelling_a_submitted_set_drops_the_images_not_started(tmp_path, caplog):
    from concurrent.futures import CancelledError, wait

    engine = Engine(load_model(write_model(tmp_path, GeneratorSpec(ngf=4), skin_card())), device="cpu", threads=2, streams=2)
    x = engine.encode(disk_label_map(256, 0.2))
    gate, started = threading.Event(), []
    real_forward = engine.forward

    def held(*args, **kwargs):
        started.append(1)
        gate.wait(10)
        return real_forward(*args, **kwargs)

    engine.forward = held
    future = engine.submit_inputs([x] * 6, list(range(6)), "reference")
    deadline = time.monotonic() + 10
    while len(started) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert future.cancel() and future.cancel()
    with pytest.raises(CancelledError):
        future.result(1)
    assert wait([future], timeout=1).done == {future}
    gate.set()
    assert engine.render_inputs([x, x], [0, 1], "reference").images.shape == (2, 256, 256, 3)  # the streams go on
    assert len(started) == 2 + 2, "images not started were rendered anyway"
    assert not [r for r in caplog.records if r.name == "concurrent.futures"], "a future was notified twice"


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))])
def test_the_device_side_uint8_conversion_gives_the_cpu_s_bytes(channels, dtype, device):
    """A GPU converts a batch to uint8 itself; its float32 arithmetic is the CPU's, step by step
    (checked on CUDA where there is one: bench/gpu_check.sh runs this file)."""
    from synthgui.core.encoding import to_uint8_image
    from synthgui.core.engine import uint8_images

    out = torch.from_numpy(np.random.default_rng(channels).standard_normal((4, channels, 32, 48)).astype(np.float32) * 0.8).to(dtype)
    out[0, 0, 0, :4] = torch.tensor([-1.0, 1.0, 0.99999994, -0.9999999])
    expected = np.stack([to_uint8_image(o) for o in out.float().numpy()])
    if device == "cpu":
        from synthgui.core.engine import _uint8_on_device

        assert np.array_equal(_uint8_on_device(out).numpy(), expected)
    else:
        assert np.array_equal(uint8_images(out.to(device)), expected)


def test_an_engine_leaves_its_network_copyable(tmp_path):
    """The engine's lock lives beside the network: a caller may still copy or pickle it."""
    import copy
    import pickle

    engine = Engine(load_model(write_model(tmp_path, GeneratorSpec(ngf=4, dropout=True), skin_card())), device="cpu", threads=1)
    engine.render(disk_label_map(256), seed=1)
    copy.deepcopy(engine.net)
    pickle.dumps(engine.net)


def test_engines_sharing_a_network_do_not_mix_their_calls(tmp_path):
    """Engines of one layout share the network (no second copy in memory); one's trace or eager call
    sets modes and masks on its modules, which the other's must not see."""
    path = write_model(tmp_path, GeneratorSpec(ngf=4, dropout=True), skin_card())
    model = load_model(path)
    traced = Engine(model, device="cpu", threads=1)
    eager = Engine(model, device="cpu", threads=1, trace=False)
    assert traced.net is eager.net
    alone = Engine(load_model(path), device="cpu", threads=1, trace=False)
    inputs = {n: torch.rand(n, 3, 256, 256) * 2 - 1 for n in (1, 2, 3)}
    expected = {(n, m, s): alone.forward(inputs[n], m, s) for n in inputs for m in ("reference", "eval") for s in (1, 2)}
    wrong: list = []

    def work(engine: Engine) -> None:
        try:
            for _ in range(3):
                for (n, m, s), want in expected.items():
                    if not torch.allclose(engine.forward(inputs[n], m, s), want, atol=1e-5, rtol=0):
                        wrong.append((n, m, s))
                engine._graphs.clear()  # trace again, while the other engine runs
        except Exception as exc:  # an error is a failure too, not a reason to stop quietly
            wrong.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in (traced, eager)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong and traced.trace and traced.trace_error is None


def test_a_seeded_traced_render_leaves_the_process_rng_alone(engine):
    engine.warm_up()
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    engine.render(disk_label_map(256), seed=4, mode="reference")
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels-last"])
@pytest.mark.parametrize("spec", [GeneratorSpec(ngf=4, dropout=True), GeneratorSpec(kind="resnet", ngf=4, n_blocks=2, dropout=True)],
                         ids=["unet", "resnet"])
def test_a_batch_with_per_image_statistics_renders_each_image_as_alone(tmp_path, channels_last, spec):
    """How a GPU renders an image set in reference mode: one forward, each image with its own batch
    statistics and its own seed's dropout masks; the images must be those of one forward each, up
    to the rounding of convolutions that run on a batch (a U-Net's happen to agree bit for bit)."""
    path = write_model(tmp_path, spec, skin_card())
    model = load_model(path)
    batched = Engine(model, device="cpu", threads=1, trace=False, channels_last=channels_last, batch_per_image=True)
    alone = Engine(load_model(path), device="cpu", threads=1, trace=False, channels_last=channels_last, streams=1,
                   batch_per_image=False)
    inputs = np.stack([alone.encode(disk_label_map(256, r)) for r in (0.1, 0.25, 0.4)])
    seeds = [3, 4, 3]
    for mode in ("reference", "deterministic"):
        together = batched.forward_per_image(inputs, mode, seeds if mode == "reference" else [None] * 3)
        one_by_one = torch.cat([alone.forward(inputs[i : i + 1], mode, seeds[i]) for i in range(3)])
        if spec.kind == "unet":
            assert torch.equal(together, one_by_one), mode
        assert torch.allclose(together, one_by_one, atol=1e-5, rtol=0), (mode, (together - one_by_one).abs().max())
    other_seed = batched.forward_per_image(inputs, "reference", [3, 4, 5])
    assert torch.equal(other_seed[:2], batched.forward_per_image(inputs, "reference", seeds)[:2])
    seed_3 = alone.forward(inputs[2:3], "reference", 3)[0]
    assert not torch.allclose(other_seed[2], seed_3, atol=1e-2), "another seed must draw other masks"
    with pytest.raises(SynthguiError, match="3 images need 3 seeds"):
        batched.forward_per_image(inputs, "reference", [1, 2])

"""Which engine options pay on a device: traced graph, channels-last, half precision.

For the bundled default model (or ``--model``), each variant renders the same masks in the card's
mode and in ``eval``, batch 1 (the studio, and export's reference mode) and batch 8 (export's eval
mode). It prints a Markdown table: median ms per image, speed-up against the plain eager fp32 NCHW
module, and the largest difference from that module's output (on the 0-255 scale, and as uint8
pixels that differ), so a variant that changes images is visible at once. The CPU engine's defaults
(traced, channels-last) were chosen from this table; on a GPU they stay off until it is read there.

    python bench/engine_variants.py [--device cuda] [--model NAME|PATH] [--runs 20]
    python bench/engine_variants.py --resize-conv   # only: from which map size ResizeConv pays as a transposed conv
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthgui.core.engine import Engine  # noqa: E402
from synthgui.core.masks import disk_label_map, ellipse_label_map  # noqa: E402
from synthgui.core.models import default_model_name, load_model  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(engine: Engine, x: np.ndarray, mode: str, runs: int) -> float:
    """Median seconds per image over ``runs`` calls after two warm-ups (tracing happens in those)."""
    seed = None if mode != "reference" else 7
    for _ in range(2):
        engine.forward(x, mode, seed)
    times = []
    for _ in range(runs):
        synchronize(engine.device)
        t0 = time.perf_counter()
        engine.forward(x, mode, seed)
        synchronize(engine.device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / len(x)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=None)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: the engine's)")
    ap.add_argument("--resize-conv", action="store_true", help="only the ResizeConv threshold table (resize_conv models)")
    args = ap.parse_args()
    name = args.model or default_model_name()
    if name is None:
        print("no bundled default model; pass --model", file=sys.stderr)
        return 2
    if args.resize_conv:
        return resize_conv_thresholds(name, args)
    model = load_model(name)
    device = torch.device(args.device)
    variants = [("eager fp32 NCHW", dict(trace=False, channels_last=False, half=False)),
                ("traced", dict(trace=True, channels_last=False, half=False)),
                ("channels-last", dict(trace=False, channels_last=True, half=False)),
                ("traced + channels-last", dict(trace=True, channels_last=True, half=False))]
    if device.type == "cuda":
        variants += [("fp16 autocast", dict(trace=False, channels_last=False, half=True)),
                     ("fp16 autocast + channels-last", dict(trace=False, channels_last=True, half=True))]
    rng = np.random.default_rng(0)
    fg = model.card.foreground_classes[0].id if model.card.foreground_classes else 1
    masks = [ellipse_label_map(model.card.resolution, tuple(rng.uniform(20, 90, 2)), float(rng.uniform(0, 180)), label=fg)
             for _ in range(7)] + [disk_label_map(model.card.resolution, 0.2)]
    base = Engine(model, device=args.device, threads=args.threads, trace=False, channels_last=False, half=False)
    inputs = np.stack([base.encode(m) for m in masks])
    modes = sorted({model.card.default_mode, "eval"}, key=["reference", "deterministic", "eval"].index)
    cases = [(mode, batch) for mode in modes for batch in (1, 8) if not (mode == "reference" and batch == 8)]
    reference = {case: base.forward(inputs[: case[1]], case[0], 7 if case[0] == "reference" else None) for case in cases}
    timing_base: dict = {}
    print(f"model {model.name} ({model.spec.name} ngf {model.spec.ngf}), device {device}, "
          f"{f'threads {base.threads}' if device.type == 'cpu' else torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    print("| variant | mode | batch | ms/image | speed-up | max diff (0-255) | uint8 pixels changed |")
    print("|---|---|---|---|---|---|---|")
    for label, options in variants:
        # Every variant gets its own copy of the weights: channels-last converts the module in place.
        engine = Engine(load_model(name), device=args.device, threads=args.threads, **options)
        for case in cases:
            mode, batch = case
            x = inputs[:batch]
            seconds = time_forward(engine, x, mode, args.runs)
            timing_base.setdefault(case, seconds)
            out = engine.forward(x, mode, 7 if mode == "reference" else None)
            diff = float((out - reference[case]).abs().max()) * 127.5
            to8 = lambda t: ((t.numpy() + 1.0) * 127.5 + 0.5).clip(0, 255).astype(np.uint8)  # noqa: E731
            changed = int((to8(out) != to8(reference[case])).any(axis=1).sum())
            note = f" ({engine.trace_error})" if engine.trace_error else ""
            print(f"| {label}{note} | {mode} | {batch} | {seconds * 1000:.2f} | {timing_base[case] / seconds:.2f}x | "
                  f"{diff:.3f} | {changed} of {batch * out.shape[-1] * out.shape[-2]} |")
    image_sets(name, args, inputs)
    return 0


def image_sets(name: str, args, inputs: np.ndarray) -> None:
    """How an image set of the card's default mode renders (``render_inputs``, what export calls):
    one image after another, on the CPU's parallel streams, or as one batch with per-image
    statistics and masks (a GPU's default). Every way must give the images of one render each."""
    mode = load_model(name).card.default_mode
    if mode == "eval":
        return
    seeds = list(range(len(inputs)))
    ways = [("one by one", dict(streams=1, batch_per_image=False)),
            ("per-image batch", dict(streams=1, batch_per_image=True))]
    if torch.device(args.device).type == "cpu":
        ways.insert(1, ("parallel streams", dict(batch_per_image=False)))
    print(f"\n{len(inputs)}-image sets in {mode} mode (engine defaults otherwise):")
    print("| way | ms/image | speed-up | uint8 values that differ from one by one |")
    print("|---|---|---|---|")
    first = None
    for label, options in ways:
        engine = Engine(load_model(name), device=args.device, threads=args.threads, **options)
        for _ in range(2):
            images = engine.render_inputs(inputs, seeds, mode).images  # warm-up: tracing, cudnn's choices
        times = []
        for _ in range(max(3, args.runs // 4)):
            synchronize(engine.device)
            t0 = time.perf_counter()
            engine.render_inputs(inputs, seeds, mode)
            times.append(time.perf_counter() - t0)
        seconds = statistics.median(times) / len(inputs)
        first = first or (seconds, images)
        differ = int((images != first[1]).sum())
        print(f"| {label} | {seconds * 1000:.2f} | {first[0] / seconds:.2f}x | {differ} of {images.size} |")


def set_transposed_from(net: torch.nn.Module, side: int) -> None:
    """Every ResizeConv of ``net`` runs as a transposed convolution from maps of ``side`` px."""
    from synthgui.core.networks import ResizeConv

    for m in net.modules():
        if isinstance(m, ResizeConv):
            m.transposed_from = side


def resize_conv_thresholds(name: str, args) -> int:
    """ResizeConv (nearest 2x + 3x3 conv) runs as a transposed convolution on maps of at least
    ``transposed_from`` px: each threshold's ms/image in the card's mode (engine defaults otherwise,
    the configurations alternating run by run) and its difference from the two-step module."""
    model = load_model(name)
    if model.spec.upsample != "resize_conv":
        print(f"{model.name} upsamples by {model.spec.upsample}, not resize_conv", file=sys.stderr)
        return 2
    mode = model.card.default_mode
    seed = 7 if mode == "reference" else None
    x = Engine(model, device=args.device, trace=False).encode(disk_label_map(model.card.resolution, 0.2))[None]
    thresholds = [("never (upsample, then conv)", 10**9)] + [(f"from {side} px", side) for side in (128, 64, 32, 16, 8)] + [("always", 0)]
    engines = []
    for label, side in thresholds:
        engine = Engine(load_model(name), device=args.device, threads=args.threads)
        set_transposed_from(engine.net, side)
        engine.forward(x, mode, seed)  # traces with this threshold
        engines.append(engine)
    reference = engines[0].forward(x, mode, seed)
    times: list[list[float]] = [[] for _ in engines]
    for _ in range(args.runs):
        for k, engine in enumerate(engines):
            synchronize(engine.device)
            t0 = time.perf_counter()
            engine.forward(x, mode, seed)
            synchronize(engine.device)
            times[k].append(time.perf_counter() - t0)
    print(f"model {model.name} ({model.spec.name} ngf {model.spec.ngf}), device {args.device}, mode {mode}, batch 1, {args.runs} runs each")
    print("| ResizeConv as a transposed conv | ms/image p50 | speed-up | max diff (0-255) |")
    print("|---|---|---|---|")
    for (label, _), engine, t in zip(thresholds, engines, times):
        diff = float((engine.forward(x, mode, seed) - reference).abs().max()) * 127.5
        print(f"| {label} | {statistics.median(t) * 1000:.2f} | {statistics.median(times[0]) / statistics.median(t):.2f}x | {diff:.5f} |")
    training_steps(model, args)
    return 0


def training_steps(model, args) -> None:
    """One pix2pix training step (G and a 70x70 PatchGAN forward and backward, Adam, batch 1) of
    the model's architecture from random weights, with ResizeConv's two steps and with its
    transposed convolution, alternating."""
    from synthgui.core.networks import TRANSPOSED_FROM, NLayerDiscriminator, build_generator

    device = torch.device(args.device)
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = model.spec
    G = build_generator(spec).to(device)
    D = NLayerDiscriminator(spec.input_nc + spec.output_nc, 16, 3, spec.norm).to(device)
    opt = torch.optim.Adam([*G.parameters(), *D.parameters()], 2e-4, betas=(0.5, 0.999))
    side = model.card.resolution
    x = torch.rand(1, spec.input_nc, side, side, device=device) * 2 - 1
    y = torch.rand(1, spec.output_nc, side, side, device=device) * 2 - 1

    def step() -> None:
        fake = G(x)
        loss = 100 * (fake - y).abs().mean() + D(torch.cat([x, fake], 1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    ways = [("upsample, then conv", 10**9), (f"transposed from {TRANSPOSED_FROM} px (default)", TRANSPOSED_FROM)]
    times: dict[str, list[float]] = {label: [] for label, _ in ways}
    for _ in range(max(2, args.runs // 5)):
        for label, threshold in ways:
            set_transposed_from(G, threshold)
            step()
            for _ in range(3):
                synchronize(device)
                t0 = time.perf_counter()
                step()
                synchronize(device)
                times[label].append(time.perf_counter() - t0)
    print(f"\ntraining step (G + PatchGAN ndf 16, forward and backward, Adam, batch 1), torch threads {torch.get_num_threads()}:")
    print("| ResizeConv | ms/step p50 | speed-up |")
    print("|---|---|---|")
    first = statistics.median(times[ways[0][0]])
    for label, _ in ways:
        print(f"| {label} | {statistics.median(times[label]) * 1000:.1f} | {first / statistics.median(times[label]):.2f}x |")


if __name__ == "__main__":
    sys.exit(main())

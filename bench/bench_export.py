"""Export throughput against the bare forward pass and against a naive reference-style loop.

Four runs over the same masks, model, mode and CPU threads:
  (a) bare forward: the engine alone on pre-encoded inputs, as the export calls it (one batched
      call in eval mode; otherwise one forward per image, on the engine's parallel streams, the
      next chunk submitted before the last one is taken); nothing encoded or written;
  (a1) the same forward calls one after another on one thread (intra-op threads only), as a
      caller of ``engine.forward`` gets them;
  (b) naive loop, as the reference ``test.py`` does: batch 1, synchronous: read the mask, encode,
      forward (the eager module, as test.py runs it), convert, ``PIL.Image.save`` one PNG per image;
  (c) ``synthgui export``'s pipeline: batched, masks prepared ahead on a thread, PNG encoding and
      atomic writes (image + mask + journal row) in a thread pool. The set is 20 masks with
      count / 20 seeds each; each round exports its share of the masks as a whole export (plan,
      manifest, CSV and dataset card included), so the export's start and end are paid once a round.
Prints a Markdown table. Usage:

    python bench/bench_export.py [--model NAME|PATH] [--count 1000] [--rounds 4] [--batch 8] [--device cpu] [--mode MODE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthgui.core.card import Encoding, LabelClass, ModelCard  # noqa: E402
from synthgui.core.checkpoints import save_state_dict  # noqa: E402
from synthgui.core.encoding import EncodeRequest, to_uint8_image  # noqa: E402
from synthgui.core.engine import Engine  # noqa: E402
from synthgui.core.export import ExportJob, ExportOptions, Sweep, folder_sources  # noqa: E402
from synthgui.core.masks import ellipse_label_map, load_mask, save_mask  # noqa: E402
from synthgui.core.models import default_model_name, load_model  # noqa: E402
from synthgui.core.networks import GeneratorSpec, build_generator, init_weights  # noqa: E402
from synthgui.core.png import deflate_backend  # noqa: E402

N_MASKS = 20


def fallback_model(folder: Path):
    net = build_generator(GeneratorSpec(ngf=32))
    init_weights(net)
    path = folder / "untrained_unet256_ngf32.pth"
    save_state_dict(net, path)
    ModelCard(name="untrained unet_256 ngf 32", domain="skin", encoding=Encoding("skin"), resolution=256,
              classes=[LabelClass(0, "skin", (0, 0, 0)), LabelClass(1, "lesion", (255, 255, 255))],
              background={"meaning": "skin tone", "default": "II"}, weights=path.name).save(path.with_suffix(".json"))
    return load_model(path)


def make_masks(folder: Path, card) -> None:
    rng = np.random.default_rng(0)
    fg = card.foreground_classes[0].id if card.foreground_classes else 1
    for i in range(N_MASKS):
        lm = ellipse_label_map(256, tuple(rng.uniform(20, 90, 2)), float(rng.uniform(0, 180)), label=fg)
        save_mask(folder / f"mask{i:02d}.png", lm, card)


def bare_forward(engine: Engine, inputs: np.ndarray, count: int, batch: int, mode: str) -> float:
    start = time.perf_counter()
    done = 0
    while done < count:
        n = min(batch, count - done)
        x = inputs[np.arange(done, done + n) % len(inputs)]
        if mode == "eval":
            engine.forward(x, mode, seed=None)
        else:
            for i in range(n):
                engine.forward(x[i : i + 1], mode, seed=None if mode == "deterministic" else done + i)
        done += n
    return count / (time.perf_counter() - start)


def bare_render_inputs(engine: Engine, inputs: np.ndarray, count: int, batch: int, mode: str) -> float:
    """As the export calls the engine: the next chunk is submitted before the last one's images are taken."""
    start = time.perf_counter()
    done, pending = 0, None
    while done < count:
        n = min(batch, count - done)
        call = engine.submit_inputs(inputs[np.arange(done, done + n) % len(inputs)], list(range(done, done + n)), mode)
        if pending is not None:
            pending.result()
        pending, done = call, done + n
    pending.result()
    return count / (time.perf_counter() - start)


def naive_loop(engine: Engine, masks: list[Path], count: int, out: Path, mode: str) -> float:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i in range(count):
        lm = load_mask(masks[i % len(masks)], engine.card)
        x = engine.encode(lm, EncodeRequest())[None]
        y = engine.forward(x, mode, seed=i if mode == "reference" else None)
        Image.fromarray(to_uint8_image(y[0].numpy())).save(out / f"{i:06d}_fake_B.png")
    return count / (time.perf_counter() - start)


def export_pipeline(engine: Engine, sources: list, seeds: int, out: Path, batch: int, mode: str, workers: int | None) -> float:
    """One ``synthgui export`` of ``seeds`` variations of each mask source, from its start (plan,
    folders) to its end (manifest, CSV, dataset card)."""
    count = len(sources) * seeds
    job = ExportJob.create(out, engine.model, sources, Sweep(seeds=seeds), ExportOptions(batch=batch, mode=mode, workers=workers))
    start = time.perf_counter()
    result = job.run(engine)
    assert result.complete and result.done == count, result
    return count / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="default: the bundled default model, else an untrained unet_256 ngf 32")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=None, help="default: the export's (half the cores, 2 to 8)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--mode", default=None, choices=["reference", "deterministic", "eval"], help="default: the card's")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=4, help="the runs alternate in this many rounds (at most 20); the export "
                    "runs one slice of masks of the whole set per round")
    args = ap.parse_args()
    if args.count < N_MASKS or args.count % N_MASKS or not 1 <= args.rounds <= N_MASKS:
        ap.error(f"--count must be a multiple of {N_MASKS} (the masks) and --rounds 1 to {N_MASKS}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        name = args.model or default_model_name()
        if name is None:
            model = fallback_model(tmp)
            print("no bundled default model: using an untrained unet_256 ngf 32 (same size and speed as a trained one)")
        else:
            model = load_model(name)
        engine = Engine(model, device=args.device, threads=args.threads)
        # test.py calls the eager module; the engine's traced graph (CPU) is part of what is measured.
        eager = Engine(model, device=args.device, threads=args.threads, trace=False)
        mode = args.mode or model.card.default_mode
        mask_dir = tmp / "masks"
        make_masks(mask_dir, model.card)
        masks = sorted(mask_dir.glob("*.png"))
        inputs = np.stack([engine.encode(load_mask(m, model.card)) for m in masks])
        print(f"model {model.name} ({model.spec.name} ngf {model.spec.ngf}), device {engine.device}{' fp16' if engine.half else ''}, "
              f"mode {mode}, batch {args.batch}, {args.count} images, torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, "
              f"{'traced graph' if engine.trace else 'eager module'}, PNG deflate by {deflate_backend()}")
        bare_forward(engine, inputs, min(args.batch, args.count), args.batch, mode)  # warm-up
        # The set: every mask with count / 20 seeds, as one export of all of it would make. Round r
        # exports the items of its slice of the masks (a whole export, start to end), and the other
        # runs render as many images.
        seeds = args.count // N_MASKS
        sources = folder_sources(mask_dir)
        slices = [sources[r * N_MASKS // args.rounds : (r + 1) * N_MASKS // args.rounds] for r in range(args.rounds)]
        runs = [
            (f"(a) bare forward as export runs it (submit_inputs, {engine.streams} stream{'s' if engine.streams > 1 else ''}; nothing written)",
             lambda r, n: bare_render_inputs(engine, inputs, n, args.batch, mode)),
            ("(a1) bare forward, one engine.forward call after another", lambda r, n: bare_forward(engine, inputs, n, args.batch, mode)),
            ("(b) naive loop (test.py style: batch 1, sync, PIL save)",
             lambda r, n: naive_loop(eager, masks, n, tmp / f"naive{r}", mode)),
            ("(c) synthgui export (PNG + mask + manifest)",
             lambda r, n: export_pipeline(engine, slices[r], seeds, tmp / f"export{r}", args.batch, mode, args.workers)),
        ]
        # The runs take turns, round by round, so a change in machine load hits them alike.
        wall = [0.0] * len(runs)
        cpu = [0.0] * len(runs)
        for r in range(args.rounds):
            n = len(slices[r]) * seeds
            for k, (_, fn) in enumerate(runs):
                c0 = time.process_time()
                wall[k] += n / fn(r, n)
                cpu[k] += time.process_time() - c0
        n = args.count
        rows = [(label, n / wall[k], cpu[k] / n) for k, (label, _) in enumerate(runs)]
        bare, naive = max(rows[0][1], rows[1][1]), rows[2][1]
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (wall-clock rates are only comparable on an idle machine; "
              "CPU ms/image is the process's own CPU time)")
        print("| run | images/s | vs bare forward | vs naive loop | CPU ms/image |")
        print("|---|---|---|---|---|")
        for label, rate, cpu_per in rows:
            print(f"| {label} | {rate:.2f} | {rate / bare:.0%} | {rate / naive:.2f}x | {cpu_per * 1000:.0f} |")


if __name__ == "__main__":
    main()

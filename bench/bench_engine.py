"""Forward latency and throughput of the engine per generator size, batch size and device.

Prints a Markdown table: median and p95 latency per call, images/s. Untrained weights are used
(speed does not depend on the values). Usage:

    python bench/bench_engine.py [--ngf 16 32 64] [--batch 1 8] [--runs 20] [--mode eval] [--devices cpu cuda]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthgui.core.card import ModelCard  # noqa: E402
from synthgui.core.checkpoints import save_state_dict  # noqa: E402
from synthgui.core.engine import Engine, available_devices, default_cpu_threads  # noqa: E402
from synthgui.core.models import load_model  # noqa: E402
from synthgui.core.networks import GeneratorSpec, build_generator, init_weights  # noqa: E402


def make_model(folder: Path, ngf: int):
    net = build_generator(GeneratorSpec(ngf=ngf))
    init_weights(net)
    path = folder / f"unet256_ngf{ngf}.pth"
    save_state_dict(net, path)
    ModelCard(name=f"unet_256 ngf {ngf}", resolution=256).save(path.with_suffix(".json"))
    return load_model(path)


def time_calls(engine: Engine, batch: int, runs: int, mode: str) -> list[float]:
    x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, 256, 256)).astype(np.float32)
    for _ in range(3):
        engine.render_inputs(x, list(range(batch)), mode)
    if engine.device.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for i in range(runs):
        start = time.perf_counter()
        engine.render_inputs(x, list(range(i, i + batch)), mode)  # includes the copy back and uint8 conversion
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ngf", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mode", default="eval", choices=["eval", "deterministic", "reference"])
    ap.add_argument("--devices", nargs="+", default=available_devices())
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads (the studio uses all but one)")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, CPU threads {args.threads} (studio default {default_cpu_threads()}), mode {args.mode}")
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    print("| device | model | params | batch | median ms/call | p95 ms/call | images/s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for ngf in args.ngf:
            model = make_model(Path(tmp), ngf)
            params = sum(p.numel() for p in model.net.parameters())
            for device in args.devices:
                engine = Engine(model, device=device, threads=args.threads)
                for batch in args.batch:
                    runs = max(5, args.runs // batch) if device == "cpu" else args.runs
                    times = time_calls(engine, batch, runs, args.mode)
                    med = statistics.median(times)
                    p95 = float(np.percentile(times, 95))
                    print(f"| {device}{' fp16' if engine.half else ''} | unet_256 ngf {ngf} | {params / 1e6:.1f}M | {batch} | "
                          f"{med * 1000:.1f} | {p95 * 1000:.1f} | {batch / med:.1f} |", flush=True)
                model.net.to("cpu")


if __name__ == "__main__":
    main()

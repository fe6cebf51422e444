"""The one inference engine behind the studio preview, export and rating studies.

Test-time modes (``../shared/notes/pix2pix-reference.md`` 1.9):
  - ``reference``: as the reference ``test.py``: BatchNorm uses the batch's statistics and dropout
    is on, seeded so a seed is a reproducible variation;
  - ``deterministic``: batch statistics, dropout off;
  - ``eval``: running statistics, dropout off (``--eval``).
Batch statistics are used without touching the loaded buffers (``track_running_stats`` is
switched off for the call), so switching to ``eval`` later still sees the trained statistics.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
import warnings
import weakref
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .card import MODES
from .encoding import EncodeRequest, encode, to_uint8_image
from .errors import SynthguiError
from .models import LoadedModel

# torch.jit.trace is deprecated in favour of torch.compile/export, neither of which gives a graph
# that runs without the GIL or a compiler; its warnings (and the tracer's) are expected here.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)

# fp16 on a GPU is used only where it stays this close to fp32 (max abs difference on the 0-255 scale).
HALF_TOLERANCE_8BIT = 2.0
MAX_GRAPHS = 8  # traced graphs kept per engine: (mode, input shape) pairs
MAX_STREAMS = 8  # parallel renders of an image set on a CPU


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.insert(0, "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.insert(0 if "cuda" not in devices else 1, "mps")
    return devices


def select_device(requested: str | None = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; an explicit request that cannot be met is an error."""
    if requested in (None, "", "auto"):
        return torch.device(available_devices()[0])
    try:
        device = torch.device(requested)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):  # torch also names devices synthgui never runs on
        raise SynthguiError(f"unknown device {requested!r} (use auto, cpu, cuda, cuda:N or mps)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SynthguiError("CUDA was requested but no CUDA GPU is available to PyTorch here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise SynthguiError(f"{requested} was requested but PyTorch sees {torch.cuda.device_count()} CUDA GPU(s) here")
    if device.type == "mps" and "mps" not in available_devices():
        raise SynthguiError("MPS was requested but Apple's Metal backend is not available here")
    return device


def default_cpu_threads() -> int:
    """All cores but one, so the window keeps a core to stay responsive."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class RenderResult:
    images: np.ndarray  # (N, H, W, 3) uint8
    seconds: float
    device: str
    mode: str
    seeds: list[int]


@dataclass
class RenderJob:
    """One studio render: what the GUI submits; the id lets it drop stale results."""

    label_map: np.ndarray
    request: EncodeRequest = field(default_factory=EncodeRequest)
    seed: int = 0
    mode: str | None = None
    id: int = 0


# Layers that reduce over the image: on channels-last tensors their results would depend on the
# number of threads that split the reduction (the same seed would give other bytes on another machine).
_NCHW_ISLANDS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)


def _to_nchw(module: nn.Module, args: tuple) -> tuple | None:
    if not module.training or args[0].dim() != 4:
        return None  # running statistics: elementwise, any layout gives the same numbers
    return (args[0].contiguous(),)


def _back_to_channels_last(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
    if not module.training or output.dim() != 4:
        return None
    return output.contiguous(memory_format=torch.channels_last)


def _per_image_norm(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm with each image's own statistics, as when it runs alone (batch 1): instance norm
    with the layer's affine weights is that computation (one batch norm over N x C channels).
    Stands in for the layer's ``forward`` during a per-image call, so the batch's own statistics
    are not computed only to be thrown away."""
    return F.instance_norm(x, None, None, module.weight, module.bias, True, 0.0, module.eps)


def _draw(shape: tuple[int, ...], p: float, generator: torch.Generator) -> torch.Tensor:
    """What ``torch.dropout`` multiplies by in training mode: Bernoulli(1 - p) / (1 - p), and, as
    there, nothing drawn for p = 0 or 1 (the draws of later layers must not shift)."""
    options = dict(dtype=torch.float32, device=generator.device)
    if p == 0:
        return torch.ones(shape, **options)
    if p == 1:
        return torch.zeros(shape, **options)
    return torch.empty(shape, **options).bernoulli_(1 - p, generator=generator).div_(1 - p)


def _generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A private generator on ``device``: seeded, or (``None``) from the system's entropy, never
    the process-wide one. A device without generators of its own draws on the CPU."""
    try:
        generator = torch.Generator(device=device)
    except RuntimeError:
        generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


class _Feed:
    """The dropout masks of one traced call, handed to the dropout layers in the order they run."""

    def __init__(self, noises: Sequence[torch.Tensor], channels_last: bool) -> None:
        self.noises = list(noises)
        self.channels_last = channels_last

    def take(self, shape: tuple[int, ...], p: float) -> torch.Tensor:
        if not self.noises:
            raise RuntimeError("the network ran more dropout layers than it did when its draws were recorded")
        return self.noises.pop(0)


class _DrawFeed:
    """Dropout masks drawn as the layers ask for them, from private generators on the engine's
    device: one for the whole batch (on the CPU, what ``torch.dropout`` draws after
    ``torch.manual_seed(seed)``), or one per image (each image gets the masks it would get alone);
    ``None``, unseeded draws. Drawing where the network runs keeps a GPU fast (a ResNet's masks
    are millions of draws per image); the price is that a seed is another variation there."""

    def __init__(self, seeds: Sequence[int | None], channels_last: bool, record: list | None = None,
                 device: torch.device | str = "cpu") -> None:
        self.generators = [_generator(s, device) for s in seeds]
        self.channels_last = channels_last
        self.record = record

    def take(self, shape: tuple[int, ...], p: float) -> torch.Tensor:
        if self.record is not None:
            self.record.append((shape, p))
        if len(self.generators) == 1:
            return _draw(shape, p, self.generators[0])
        if shape[0] != len(self.generators):
            raise RuntimeError(f"a batch of {shape[0]} images reached a dropout layer with {len(self.generators)} seeds")
        return torch.cat([_draw((1, *shape[1:]), p, g) for g in self.generators])


def _fed_dropout(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
    """Dropout with the feed's mask: ``x * noise`` as ``torch.dropout`` computes it in training mode,
    in the layout the module's output would have had. Without a feed the (eval-mode) layer is the
    identity it always is at test time outside ``reference`` mode."""
    feed = module.__dict__.get("_synthgui_feed")
    if feed is None:
        return None
    x = args[0]
    noise = feed.take(tuple(x.shape), float(module.p)).to(device=x.device, dtype=x.dtype)
    y = x.contiguous() * noise
    return y.contiguous(memory_format=torch.channels_last) if feed.channels_last and y.dim() == 4 else y


@contextlib.contextmanager
def _installed(dropouts: Sequence[nn.Module], feed, norms: Sequence[nn.Module] = ()):
    """The feed on the dropout layers (and per-image statistics on the batch-statistics ``norms``)
    for one call. The layout's hooks still wrap the layers: only their ``forward`` is swapped."""
    for d in dropouts:
        d._synthgui_feed = feed
    for n in norms:
        n.forward = functools.partial(_per_image_norm, n)
    try:
        yield
    finally:
        for d in dropouts:
            d._synthgui_feed = None
        for n in norms:
            n.__dict__.pop("forward", None)


class _FedNet(nn.Module):
    """The network with its dropout masks as inputs, for tracing: a graph that draws no random numbers
    can run on several threads at once."""

    def __init__(self, net: nn.Module, dropouts: list[nn.Module], channels_last: bool) -> None:
        super().__init__()
        self.net = net
        self._dropouts = dropouts
        self._channels_last = channels_last

    def forward(self, x: torch.Tensor, *noises: torch.Tensor) -> torch.Tensor:
        feed = _Feed(noises, self._channels_last)
        with _installed(self._dropouts, feed):
            y = self.net(x)
        if feed.noises:
            raise RuntimeError("the network ran fewer dropout layers than it did when its draws were recorded")
        return y


@dataclass
class _Graph:
    """A traced forward for one (mode, input shape), and the dropout draws it takes as inputs:
    (shape, p) per dropout call, in the order the layers run (reference mode only)."""

    run: Callable[..., torch.Tensor]
    draws: list[tuple[tuple[int, ...], float]]


def draw_dropout_noise(draws: Sequence[tuple[tuple[int, ...], float]], seed: int | None,
                       device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """The dropout masks of a render, in the order its layers run. On the CPU they are the masks
    ``torch.dropout`` would draw after ``torch.manual_seed(seed)``: the same Bernoulli draws from a
    generator seeded alike, divided by 1 - p. A private generator makes seeded renders independent
    of the process-wide RNG (and of each other)."""
    feed = _DrawFeed([seed], channels_last=False, device=device)
    return [feed.take(shape, p) for shape, p in draws]


_NET_LOCKS: "weakref.WeakKeyDictionary[nn.Module, threading.RLock]" = weakref.WeakKeyDictionary()
_NET_LOCKS_GUARD = threading.Lock()


def _net_lock(net: nn.Module) -> threading.RLock:
    """The lock of a network, shared by every engine that runs it: modes and feeds are set on its
    modules for a call, so two eager calls (or a call and a trace) must not overlap, whichever
    engines make them. Kept beside the network, not on it, so it can still be copied or pickled."""
    with _NET_LOCKS_GUARD:
        lock = _NET_LOCKS.get(net)
        if lock is None:
            lock = _NET_LOCKS[net] = threading.RLock()
        return lock


def _with_layout(net: nn.Module, channels_last: bool) -> nn.Module:
    """The network in the memory layout this engine runs. The first engine on a model takes its
    network as it is (converting in place: a copy would double the memory); an engine that wants
    the other layout than an earlier one works on a copy, so neither changes under the other."""
    want = "channels_last" if channels_last else "nchw"
    claimed = getattr(net, "_synthgui_layout", None)
    if claimed == want:
        return net
    if claimed is not None:
        import copy

        with _net_lock(net):  # no engine is mid-call on it (a feed or a mode would be copied along)
            net = copy.deepcopy(net)
        for m in net.modules():
            for hooks in (m._forward_pre_hooks, m._forward_hooks):
                for key in [k for k, fn in hooks.items() if fn in (_to_nchw, _back_to_channels_last)]:
                    del hooks[key]
        net = net.to(memory_format=torch.contiguous_format)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        for m in net.modules():
            if isinstance(m, _NCHW_ISLANDS):
                m.register_forward_pre_hook(_to_nchw)
                m.register_forward_hook(_back_to_channels_last)
    for m in net.modules():  # inert until a call installs a feed
        if isinstance(m, nn.Dropout) and _fed_dropout not in m._forward_hooks.values():
            m.register_forward_hook(_fed_dropout)
    net._synthgui_layout = want
    return net


class Engine:
    """Runs a loaded generator on one device. Thread-safe: traced graphs run on any number of
    threads at once; the eager module (and tracing) one call at a time, under a lock."""

    def __init__(
        self,
        model: LoadedModel,
        device: str | None = "auto",
        threads: int | None = None,
        half: bool | None = None,
        trace: bool | None = None,
        channels_last: bool | None = None,
        streams: int | None = None,
        batch_per_image: bool | None = None,
    ) -> None:
        self.model = model
        self.device = select_device(device)
        # A traced graph runs the whole forward in C++, without the GIL: the studio window's Python
        # work no longer stalls the render between layers, and it saves the per-module Python calls.
        # Only on the CPU, where it is verified bit-exact here; a GPU keeps the eager module.
        self.trace = self.device.type == "cpu" if trace is None else bool(trace)
        self.trace_error: str | None = None  # why tracing was given up, if it was
        self._graphs: dict[tuple, _Graph] = {}
        self.threads = (threads or default_cpu_threads()) if self.device.type == "cpu" else None
        if self.threads:
            torch.set_num_threads(self.threads)
        # Images rendered one by one (reference and deterministic modes) run as parallel streams of
        # one thread each on a CPU: a forward of a 256 x 256 image splits poorly over threads, and
        # separate images need no synchronisation (bench/engine_variants.py --streams).
        # At most MAX_STREAMS: each holds a forward's activations, and a big machine splits its
        # threads among them.
        self.streams = max(1, streams if streams is not None else min(self.threads or 1, MAX_STREAMS))
        self._stream_pool = ThreadPoolExecutor(self.streams, thread_name_prefix="synthgui-stream") if self.streams > 1 else None
        # A GPU instead renders them as one batch, each image with its own batch statistics and
        # dropout masks (the same images, in one forward instead of one per image).
        self.batch_per_image = self.device.type != "cpu" if batch_per_image is None else bool(batch_per_image)
        self.net = model.net.to(self.device)
        # oneDNN's convolutions run 20-40 % faster on channels-last tensors (bench/engine_variants.py);
        # normalisation stays NCHW (_NCHW_ISLANDS), so bytes do not depend on the thread count, and
        # dropout masks are drawn in NCHW order (_fed_dropout). A GPU keeps NCHW until that is measured.
        self.channels_last = self.device.type == "cpu" if channels_last is None else bool(channels_last)
        self.net = _with_layout(self.net, self.channels_last)
        if half and self.device.type == "cpu":
            raise SynthguiError("half precision is only used on a GPU")
        self._lock = _net_lock(self.net)
        self._bn = [m for m in self.net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self._dropout = [m for m in self.net.modules() if isinstance(m, nn.Dropout)]
        self.half = False
        self.half_error: float | None = None  # max |fp16 - fp32| on the 0-255 scale, measured at start
        if self.device.type == "cuda" and half is not False and model.card.encoding.kind != "noise":
            self.half_error = self._measure_half_error()
            self.half = bool(half) or self.half_error <= HALF_TOLERANCE_8BIT

    def _measure_half_error(self) -> float:
        """Render a probe (a disk mask) in fp32 and fp16; half precision is kept only if they agree."""
        from .masks import disk_label_map

        probe = self.encode(disk_label_map(self.card.resolution))[None]
        self.half = False
        full = self.forward(probe, "eval", seed=None)
        self.half = True
        reduced = self.forward(probe, "eval", seed=None)
        self.half = False
        return float((full - reduced).abs().max()) * 127.5

    def describe(self) -> str:
        """How this engine runs, for status lines and the self-test: device, precision, layout, graph."""
        parts = [str(self.device)]
        if self.half:
            parts.append("fp16")
        if self.threads:
            parts.append(f"{self.threads} thread{'s' if self.threads > 1 else ''}")
        if self.channels_last:
            parts.append("channels-last")
        if self.trace and not self.half:
            parts.append("traced graph")
        elif self.trace_error:
            parts.append(f"eager (tracing failed: {self.trace_error})")
        return ", ".join(parts)

    @property
    def card(self):
        return self.model.card

    @property
    def input_nc(self) -> int:
        return self.model.spec.input_nc

    def encode(self, label_map: np.ndarray, request: EncodeRequest = EncodeRequest()) -> np.ndarray:
        return encode(label_map, self.card, request, self.input_nc)

    # --- core forward -----------------------------------------------------------------------------

    def _set_mode(self, mode: str) -> None:
        """Batch statistics or running ones. Dropout layers always stay in eval mode: in ``reference``
        mode a feed of masks (``_fed_dropout``) does their drawing, from generators of our own."""
        batch_stats = mode in ("reference", "deterministic")
        for bn in self._bn:
            bn.train(batch_stats)
            bn.track_running_stats = not batch_stats
        for d in self._dropout:
            d.train(False)

    def forward(
        self,
        inputs: np.ndarray | torch.Tensor,
        mode: str | None = None,
        seed: int | None = 0,
        threads: int | None = None,
    ) -> torch.Tensor:
        """Raw generator output (N, C, H, W) float32 on the CPU for encoded inputs in [-1, 1]. A batch
        is one image set as ``torch`` runs it (shared batch statistics, one seed's dropout draws);
        ``forward_per_image`` renders each image as if alone.

        A traced graph runs outside the engine's lock, so several threads can render at once
        (``threads`` sets the calling thread's CPU threads for this call); the eager module runs
        under it, since its modes are shared state."""
        return self._forward_on_device(inputs, mode, seed, threads).float().cpu()

    def _forward_on_device(self, inputs, mode: str | None, seed: int | None, threads: int | None = None) -> torch.Tensor:
        mode = self._check_mode(mode)
        with torch.inference_mode():
            x = self._prepare(inputs, threads)
            with self._lock:
                graph = self._graph(mode, x)
                if graph is None:
                    return self._eager(mode, x, [seed])
            return graph.run(x, *draw_dropout_noise(graph.draws, seed, self.device))

    def forward_per_image(self, inputs: np.ndarray | torch.Tensor, mode: str | None, seeds: Sequence[int | None]) -> torch.Tensor:
        """A batch in one forward of the module, each image with its own batch statistics and its
        own seed's dropout masks: what ``forward`` gives for each image alone, up to the rounding of
        convolutions run on a batch (a GPU's way to render an image set)."""
        return self._forward_per_image_on_device(inputs, mode, seeds).float().cpu()

    def _forward_per_image_on_device(self, inputs, mode: str | None, seeds: Sequence[int | None]) -> torch.Tensor:
        mode = self._check_mode(mode)
        with torch.inference_mode():
            x = self._prepare(inputs, None)
            if len(seeds) != len(x):
                raise SynthguiError(f"{len(x)} images need {len(x)} seeds, not {len(seeds)}")
            with self._lock:
                return self._eager(mode, x, list(seeds), per_image=True)

    def _check_mode(self, mode: str | None) -> str:
        mode = mode or self.card.default_mode
        if mode not in MODES:
            raise SynthguiError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
        return mode

    def _prepare(self, inputs: np.ndarray | torch.Tensor, threads: int | None) -> torch.Tensor:
        wanted = threads or self.threads
        if wanted and torch.get_num_threads() != wanted:
            # OpenMP keeps a thread count per calling thread: a thread that was running when the
            # engine was built (the GUI's main thread, say) would otherwise use all cores.
            torch.set_num_threads(wanted)
        x = torch.as_tensor(inputs, dtype=torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        x = x.to(self.device)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _eager(self, mode: str, x: torch.Tensor, seeds: list[int | None], per_image: bool = False,
               record: list | None = None) -> torch.Tensor:
        """The module itself, with the mode set and the dropout feed installed. Under the lock."""
        self._set_mode(mode)
        feed = _DrawFeed(seeds, self.channels_last, record, self.device) if mode == "reference" else None
        try:
            norms = [bn for bn in self._bn if bn.training] if per_image else ()
            with _installed(self._dropout if feed else (), feed, norms):
                if self.half:
                    with torch.autocast(self.device.type, dtype=torch.float16):
                        return self.net(x)
                return self.net(x)
        finally:
            self._set_mode("eval")

    def _graph(self, mode: str, x: torch.Tensor) -> _Graph | None:
        """The traced graph for this mode and input shape (traced on first use), or None when
        tracing is off or has failed. Under the lock."""
        if not self.trace or self.half:
            return None
        key = (mode, tuple(x.shape))
        graph = self._graphs.pop(key, None)
        if graph is not None:
            self._graphs[key] = graph  # most recently used last: eviction takes the least recently used
            return graph
        graph = self._trace(mode, x)
        if graph is None:
            return None
        if len(self._graphs) >= MAX_GRAPHS:
            self._graphs.pop(next(iter(self._graphs)))
        self._graphs[key] = graph
        return graph

    def _trace(self, mode: str, x: torch.Tensor) -> _Graph | None:
        """Trace the network on ``x`` and keep the graph only if it gives exactly the eager output
        for the same seed; a failure of the tracer turns tracing off for this engine. The eager run
        comes first: an error there (a wrong input, memory) is the caller's.

        In reference mode the dropout masks become inputs of the graph: the eager run records each
        draw's shape, and the graph gets the masks ``draw_dropout_noise`` makes for seed 0, which
        must reproduce the eager output bit for bit."""
        draws: list[tuple[tuple[int, ...], float]] = []
        expected = self._eager(mode, x, [0], record=draws)
        noises = draw_dropout_noise(draws, 0, self.device)
        self._set_mode(mode)
        try:
            fed = _FedNet(self.net, self._dropout if mode == "reference" else [], self.channels_last)
            graph = torch.jit.trace(fed, (x, *noises), check_trace=False)
            same = torch.equal(graph(x, *noises), expected)
        except Exception as exc:  # tracing is an optimisation: never a reason to fail a render
            self.trace, self.trace_error = False, f"{type(exc).__name__}: {exc}"
            return None
        finally:
            self._set_mode("eval")
        if not same:
            self.trace, self.trace_error = False, "the traced graph's output differed from the module's"
            return None
        return _Graph(graph, draws)

    def warm_up(self, mode: str | None = None) -> None:
        """One forward on a blank input of the model's shape, so the first real render does not pay
        for tracing (about half a second on a CPU) or for the device's lazy start-up."""
        if self.card.encoding.kind == "noise":
            blank = np.zeros((1, self.input_nc, 1, 1), np.float32)
        else:
            blank = np.zeros((1, self.input_nc, self.card.resolution, self.card.resolution), np.float32)
        self.forward(blank, mode, seed=0)

    def render_inputs(self, inputs: np.ndarray | Sequence[np.ndarray], seeds: Sequence[int], mode: str | None = None) -> RenderResult:
        """Render a set of images, each as if alone in ``reference`` and ``deterministic`` mode (batch
        statistics and dropout draws would otherwise tie an image to its neighbours): on a CPU one
        forward per image, on parallel streams; on a GPU one forward with per-image statistics and
        masks. In ``eval`` mode, one batched forward."""
        return self.submit_inputs(inputs, seeds, mode).result()

    def submit_inputs(self, inputs: np.ndarray | Sequence[np.ndarray], seeds: Sequence[int], mode: str | None = None) -> Future:
        """``render_inputs`` as a future (of a ``RenderResult``). When ``queues(len(inputs))``, the
        images go to the CPU's parallel streams and the call returns at once: a caller that submits
        its next set before taking this one's keeps every stream busy, where waiting for each set
        would leave streams idle while the last image of a set finishes. Otherwise the set renders
        before the call returns (and an error is raised by the call). Cancelling the future drops
        the images not started yet.

        ``inputs`` may be a list of (C, H, W) arrays: the streams take each image as it is, with no
        copy into one batch array (an export's items often share one input). The arrays must stay
        unchanged until the future is done. ``RenderResult.seconds`` counts from the submission."""
        mode = self._check_mode(mode)
        start = time.perf_counter()
        seeds = [int(s) for s in seeds]
        if not isinstance(inputs, (np.ndarray, torch.Tensor)):
            inputs = list(inputs)
        if len(inputs) == 0:
            raise SynthguiError("no images to render")
        if len(seeds) != len(inputs):
            raise SynthguiError(f"{len(inputs)} images need {len(inputs)} seeds, not {len(seeds)}")
        draws = [None if mode == "deterministic" else s for s in seeds]  # the dropout seeds

        def result(images: np.ndarray) -> RenderResult:
            return RenderResult(images, time.perf_counter() - start, str(self.device), mode, seeds)

        def one(i: int, threads: int | None = None) -> np.ndarray:
            return to_uint8_image(self.forward(inputs[i][None], mode, draws[i], threads)[0].numpy())

        if not self.queues(len(inputs), mode):
            if mode == "eval" or self.batch_per_image:
                batch = inputs if isinstance(inputs, (np.ndarray, torch.Tensor)) else np.stack(inputs)
                if mode == "eval":
                    out = self._forward_on_device(batch, mode, None)
                else:
                    out = self._forward_per_image_on_device(batch, mode, draws)
                return _finished(result(uint8_images(out)))
            return _finished(result(np.stack([one(i) for i in range(len(inputs))])))
        threads = max(1, (self.threads or 1) // min(self.streams, len(inputs)))
        parts: list[Future] = []
        for i in range(len(inputs)):
            try:
                parts.append(self._stream_pool.submit(one, i, threads))
            except RuntimeError:  # the interpreter is shutting down: no new threads, so here, on all threads
                parts.append(_finished_call(one, i))
        return _Gathered(parts, lambda images: result(np.stack(images)))

    def queues(self, n: int, mode: str | None = None) -> bool:
        """Whether ``submit_inputs`` of ``n`` images returns before they render: one forward per
        image (not ``eval`` mode, not a GPU's batch), on a CPU with several streams (a traced graph,
        in float32)."""
        mode = mode or self.card.default_mode
        return (mode != "eval" and not self.batch_per_image and min(self.streams, n) >= 2 and self._stream_pool is not None
                and self.trace and not self.half)

    def render(
        self,
        label_map: np.ndarray,
        request: EncodeRequest = EncodeRequest(),
        seed: int = 0,
        mode: str | None = None,
    ) -> np.ndarray:
        """One label map to one RGB image (H, W, 3) uint8 at the model's resolution."""
        return self.render_inputs(self.encode(label_map, request)[None], [seed], mode).images[0]

    def sample(self, n: int, seed: int = 0, mode: str | None = None) -> RenderResult:
        """``n`` images from an unconditional (noise to image) generator, image ``i`` from seed ``seed + i``.

        Each image's noise vector comes from its own seeded CPU generator, so an image depends only
        on its seed: not on ``n``, the batch it ran in, or the device. The default mode is ``eval``
        (the trained running statistics), since batch statistics would tie an image to its batch.
        """
        if self.card.encoding.kind != "noise":
            raise SynthguiError(f"model {self.card.name!r} renders label maps; it does not sample from noise")
        if n < 1:
            raise SynthguiError("the number of samples must be at least 1")
        seeds = [int(seed) + i for i in range(int(n))]
        z = self.noise(seeds)
        start, chunk = time.perf_counter(), 64  # bounded memory for large exports
        parts = [self.render_inputs(z[i : i + chunk], seeds[i : i + chunk], mode or "eval") for i in range(0, len(seeds), chunk)]
        images = np.concatenate([p.images for p in parts])
        return RenderResult(images, time.perf_counter() - start, str(self.device), parts[0].mode, seeds)


    def noise(self, seeds: list[int]) -> np.ndarray:
        """The noise vectors of an unconditional generator, one seeded CPU generator per image."""
        nz = self.model.spec.input_nc
        return torch.stack([torch.randn(nz, 1, 1, generator=torch.Generator().manual_seed(int(s))) for s in seeds]).numpy()


def uint8_images(out: torch.Tensor) -> np.ndarray:
    """Generator outputs (N, C, H, W) to RGB uint8 images (N, H, W, 3), as ``to_uint8_image`` makes
    each. On a GPU the conversion runs there, with the same float32 operations in the same order
    (so the same bytes): the CPU would otherwise spend longer on a batch than the GPU's forward,
    and a quarter of the bytes cross the bus."""
    with torch.inference_mode():
        if out.device.type == "cpu":
            return np.stack([to_uint8_image(o) for o in out.float().numpy()])
        return _uint8_on_device(out).cpu().numpy()


def _uint8_on_device(out: torch.Tensor) -> torch.Tensor:
    img = ((out.float() + 1.0) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)
    if img.shape[1] == 1:
        img = img.expand(-1, 3, -1, -1)
    return img[:, :3].permute(0, 2, 3, 1).contiguous()


def _finished(value) -> Future:
    done: Future = Future()
    done.set_result(value)
    return done


def _finished_call(fn: Callable, *args) -> Future:
    """``fn(*args)`` run now, as a finished future (its error kept in it, as a pool's would be)."""
    done: Future = Future()
    try:
        done.set_result(fn(*args))
    except Exception as exc:
        done.set_exception(exc)
    return done


class _Gathered(Future):
    """A future of ``combine([part results])`` once every part (at least one) is done, or of the
    first part's error. Cancelling it cancels the parts not started yet (those running finish, unused)."""

    def __init__(self, parts: list[Future], combine: Callable[[list], object]) -> None:
        super().__init__()
        self._parts = parts
        self._combine = combine
        self._left = len(parts)
        self._count_lock = threading.Lock()
        self._cancel_lock = threading.Lock()
        for part in parts:
            part.add_done_callback(self._part_done)

    def cancel(self) -> bool:
        for part in self._parts:
            part.cancel()
        with self._cancel_lock:
            if self.cancelled():  # once only: notifying twice is an error that concurrent.futures logs
                return True
            if not super().cancel():
                return False
            self.set_running_or_notify_cancel()  # what an executor does: wait() and as_completed() see it done
            return True

    def _part_done(self, _: Future) -> None:
        with self._count_lock:
            self._left -= 1
            if self._left:
                return
        self._settle()

    def _settle(self) -> None:
        try:
            if any(part.cancelled() for part in self._parts):
                self.cancel()
                return
            error = next((e for e in (part.exception() for part in self._parts) if e is not None), None)
            if error is not None:
                self.set_exception(error)
            else:
                self.set_result(self._combine([part.result() for part in self._parts]))
        except InvalidStateError:  # cancelled meanwhile
            pass
        except Exception as exc:
            with contextlib.suppress(InvalidStateError):
                self.set_exception(exc)


class LatestWins:
    """A single worker thread that renders only the newest request.

    ``submit`` replaces whatever is pending (a queue would lag behind the pen); results of
    requests superseded while running are dropped, so ``on_result`` only ever sees the newest.
    Callbacks run on the worker thread: a GUI forwards them through a queued signal.
    """

    def __init__(
        self,
        render: Callable[[RenderJob], np.ndarray],
        on_result: Callable[[RenderJob, np.ndarray, float], None],
        on_error: Callable[[RenderJob, BaseException], None] | None = None,
    ) -> None:
        self._render = render
        self._on_result = on_result
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: RenderJob | None = None
        self._latest_id = 0
        self._stopped = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="synthgui-render", daemon=True)
        self._thread.start()

    def submit(self, job: RenderJob) -> int:
        with self._cond:
            self._latest_id += 1
            job.id = self._latest_id
            self._pending = job
            self._cond.notify()
            return job.id

    @property
    def latest_id(self) -> int:
        return self._latest_id

    def idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._busy

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Ask the worker to finish its current render and exit; True when it has."""
        with self._cond:
            self._stopped = True
            self._pending = None
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                job, self._pending = self._pending, None
                self._busy = True
            start = time.perf_counter()
            try:
                image = self._render(job)
            except BaseException as exc:  # reported, never allowed to kill the worker
                with self._cond:
                    self._busy = False
                    current = job.id == self._latest_id and not self._stopped
                if current and self._on_error is not None:
                    self._on_error(job, exc)
                continue
            elapsed = time.perf_counter() - start
            with self._cond:
                self._busy = False
                current = job.id == self._latest_id and not self._stopped
            if current:
                self._on_result(job, image, elapsed)
